# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement filters: which compute host a guest (or a list of guests) goes to.

The documentation lives in pick_host.yml and pick_hosts.yml next to this file.
"""


from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DEFAULT_VCPU_ALLOCATION_RATIO = 4.0


def _number(value, what, cast=float):
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError('%s must be a number, got %r.' % (what, value))


class _Host:
    """One candidate host with what is left of it after the placements made so far."""

    def __init__(self, entry, key, ratio, reserved):
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError('each host must be a host_info result (a dict), got %r.' % (entry,))
        facts = entry.get('host') if isinstance(entry.get('host'), Mapping) else entry

        def pick(field, default=None):
            # the entry's own value wins over what host_info reported, so playbooks can override
            if entry.get(field) is not None:
                return entry[field]
            if facts.get(field) is not None:
                return facts[field]
            return default

        self.name = pick('name') or key or facts.get('hostname') or facts.get('uri')
        if not self.name:
            raise AnsibleFilterError('a host entry has no name, hostname or uri to name it by.')
        self.uri = pick('uri')
        self.hostname = facts.get('hostname')
        self.service_state = pick('service_state') or 'enabled'
        memory = facts.get('memory_mb')
        if not isinstance(memory, Mapping) or memory.get('free') is None:
            raise AnsibleFilterError("host '%s' has no memory_mb.free; pass host_info results." % self.name)
        reserved_mb = _number(pick('reserved_memory_mb', reserved), "host '%s' reserved_memory_mb" % self.name)
        self.memory_free = _number(memory['free'], "host '%s' memory_mb.free" % self.name) - reserved_mb
        cpu = facts.get('cpu') if isinstance(facts.get('cpu'), Mapping) else {}
        count = entry.get('cpus') or cpu.get('count')
        if count is None:
            raise AnsibleFilterError("host '%s' has no cpu.count; pass host_info results." % self.name)
        ratio = _number(pick('vcpu_allocation_ratio', ratio), "host '%s' vcpu_allocation_ratio" % self.name)
        used = pick('vcpus_used', cpu.get('vcpus_used', 0)) or 0
        self.vcpus_free = _number(count, "host '%s' cpu.count" % self.name) * ratio - _number(
            used, "host '%s' vcpus_used" % self.name)

    def matches(self, names):
        return bool(names & {self.name, self.uri, self.hostname} - {None})

    def why_not(self, guest):
        """Why the guest cannot go here, or None when it can."""
        if self.service_state != 'enabled':
            return '%s is %s' % (self.name, 'in maintenance' if self.service_state == 'maintenance' else self.service_state)
        if self.memory_free < guest['memory_mb']:
            return '%s has %d MiB free' % (self.name, max(self.memory_free, 0))
        if self.vcpus_free < guest['vcpus']:
            return '%s has %s vCPUs free' % (self.name, _fmt(max(self.vcpus_free, 0)))
        return None

    def summary(self):
        return dict(name=self.name, uri=self.uri, memory_mb_free=int(self.memory_free),
                    vcpus_free=_fmt(self.vcpus_free))


def _fmt(number):
    return int(number) if float(number).is_integer() else round(number, 2)


def _hosts(hosts, ratio, reserved):
    if isinstance(hosts, Mapping):
        # a registered loop result: {'results': [...]} with each item's facts
        if isinstance(hosts.get('results'), list) and 'host' not in hosts:
            return [_Host(item, None, ratio, reserved) for item in hosts['results']]
        return [_Host(entry, key, ratio, reserved) for key, entry in sorted(hosts.items())]
    if isinstance(hosts, (list, tuple)):
        return [_Host(entry, None, ratio, reserved) for entry in hosts]
    raise AnsibleFilterError('the hosts must be a list or a dict of host_info results, got %s.' % type(hosts).__name__)


def _guest(guest, key=None):
    if not isinstance(guest, Mapping):
        raise AnsibleFilterError('a guest must be a dict with memory_mb and vcpus, got %r.' % (guest,))
    name = guest.get('name') or key or 'unnamed'
    memory = guest.get('memory_mb')
    if memory is None and guest.get('mem_kb') is not None:
        memory = int(guest['mem_kb']) // 1024
    if memory is None and guest.get('max_mem_kb') is not None:
        memory = int(guest['max_mem_kb']) // 1024
    if memory is None:
        raise AnsibleFilterError("guest '%s' has no memory_mb to place it by." % name)
    return dict(name=name, memory_mb=_number(memory, "guest '%s' memory_mb" % name, int),
                vcpus=_number(guest.get('vcpus') or 1, "guest '%s' vcpus" % name, int))


def _choose(candidates, guest):
    reasons = []
    fits = []
    for host in candidates:
        reason = host.why_not(guest)
        if reason:
            reasons.append(reason)
        else:
            fits.append(host)
    if not fits:
        raise AnsibleFilterError("no host has room for guest '%s' (%d MiB, %d vCPUs): %s." % (
            guest['name'], guest['memory_mb'], guest['vcpus'],
            ', '.join(reasons) if reasons else 'every host is excluded'))
    return sorted(fits, key=lambda h: (-h.memory_free, str(h.name)))[0]


def _candidates(hosts, exclude, ratio, reserved):
    if exclude is None:
        exclude = []
    if isinstance(exclude, str):
        exclude = [exclude]
    excluded = set(str(item) for item in exclude)
    ratio = DEFAULT_VCPU_ALLOCATION_RATIO if ratio is None else ratio
    return [host for host in _hosts(hosts, ratio, reserved or 0) if not host.matches(excluded)]


def pick_host(hosts, guest, exclude=None, vcpu_allocation_ratio=None, reserved_memory_mb=0):
    """The enabled host with room and the most free memory for ``guest``."""
    return _choose(_candidates(hosts, exclude, vcpu_allocation_ratio, reserved_memory_mb), _guest(guest)).summary()


def pick_hosts(hosts, guests, exclude=None, vcpu_allocation_ratio=None, reserved_memory_mb=0):
    """Every guest placed greedily, largest memory first; one entry per guest in the order given."""
    if isinstance(guests, Mapping):
        wanted = [_guest(entry, key) for key, entry in guests.items()]
    elif isinstance(guests, (list, tuple)):
        wanted = [_guest(entry) for entry in guests]
    else:
        raise AnsibleFilterError('the guests must be a list or a dict of guests, got %s.' % type(guests).__name__)
    candidates = _candidates(hosts, exclude, vcpu_allocation_ratio, reserved_memory_mb)
    placed = {}
    order = sorted(range(len(wanted)), key=lambda i: (-wanted[i]['memory_mb'], -wanted[i]['vcpus'], i))
    for index in order:
        guest = wanted[index]
        host = _choose(candidates, guest)
        host.memory_free -= guest['memory_mb']
        host.vcpus_free -= guest['vcpus']
        placed[index] = dict(guest=guest['name'], name=host.name, uri=host.uri,
                             memory_mb=guest['memory_mb'], vcpus=guest['vcpus'])
    return [placed[index] for index in range(len(wanted))]


class FilterModule:
    """Placement of guests on compute hosts."""

    def filters(self):
        return dict(pick_host=pick_host, pick_hosts=pick_hosts)
