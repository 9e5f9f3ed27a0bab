# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which virt type a guest gets: the best one the host really runs, found by the probe and cached.

libvirt lists ``kvm`` wherever QEMU was built with it, also on hosts where /dev/kvm cannot
run a guest; a guest defined there "runs" at 100% CPU and never boots. So the ``guest``
module asks ``virt_probe`` which listed types boot its probe guest, and keeps the answer:

- where: on the machine the module runs on (the compute host itself, or the controller
  for a remote ``uri``), in a root-only file per host (``/var/cache/virtops-compute/virt-types/
  <host uuid>.json``; ``~/.cache/virtops-compute/...`` for other users), since libvirt offers
  no place on a remote host to keep it;
- for how long: while the host's UUID, its QEMU and libvirt versions and its list of types
  are the same and it has not rebooted since. A reboot is seen in the kernel's boot id when
  the URI is local; through a remote URI, in the host's uptime as its CPU counters give it,
  which must have grown by about the time that has passed since the probe (a reboot starts it
  again at zero). A host whose CPUs lose more than a tenth of their time to steal is probed
  again each time, which costs a few seconds and is never wrong.
"""


import json
import os
import tempfile
import threading
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri
from ansible_collections.virtops.compute.plugins.module_utils.host import virt_probe
from ansible_collections.virtops.compute.plugins.module_utils.host.facts import uptime_from_cpu_times
from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import Capabilities

# best first: hardware virtualisation, then emulation
PREFERENCE = ('kvm', 'qemu')
# 2: the probe boots a Linux kernel too where the module's machine has one (entries of 1 are probed again)
CACHE_FORMAT = 2
ROOT_CACHE_DIR = '/var/cache/virtops-compute/virt-types'
BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id'
# what identifies the host and its hypervisor; a change of any of them means probing again
KEY_FIELDS = ('format', 'host_uuid', 'arch', 'available', 'hypervisor_version', 'libvirt_version')
# a host's CPU-time uptime grows by at least this share of the wall-clock time while it stays up
UPTIME_GROWTH = 0.9
UPTIME_SLACK_SECONDS = 5
PROBE_TIMEOUT = 10
# when no type booted the probe within PROBE_TIMEOUT, a busy host gets one slower try before the module gives up
RETRY_TIMEOUT = 30


def cache_dir():
    """Where this user's cache lives on the machine running the module."""
    if os.geteuid() == 0:
        return ROOT_CACHE_DIR
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'virtops-compute', 'virt-types')


def choose(wanted, available, probes, where):
    """The virt type for a guest: ``wanted`` if the host runs it, else the best it runs; raises in one sentence.

    ``available`` is what libvirt lists, ``probes`` the probe's ``{type: {usable, reason?}}``."""
    usable = [name for name in available if (probes.get(name) or {}).get('usable')]
    runs = ' and '.join(usable)
    if wanted:
        if wanted in usable:
            return wanted
        if not usable:
            raise VirtopsError('%s: virt_type %s does not run guests on this host, and no other type does either (%s).'
                               % (where, wanted, _reasons(available, probes)))
        if wanted not in available:
            raise VirtopsError('%s: virt_type %s is not offered by this host; it runs %s (leave virt_type out to get the best).'
                               % (where, wanted, runs))
        raise VirtopsError('%s: virt_type %s is listed by this host but does not run guests there (%s); it runs %s '
                           '(leave virt_type out to get the best).' % (where, wanted, _reason(wanted, probes), runs))
    for name in PREFERENCE + tuple(available):
        if name in usable:
            return name
    raise VirtopsError('%s: no virt type runs guests on this host (%s); check that QEMU works there, for example '
                       'with the host_info module.' % (where, _reasons(available, probes) or 'libvirt lists none'))


def _reason(name, probes):
    return (probes.get(name) or {}).get('reason') or 'its probe guest did not boot'


def _reasons(available, probes):
    return '; '.join('%s: %s' % (name, _reason(name, probes)) for name in available)


def why_not_better(chosen, available, probes):
    """The clause saying why a better type than ``chosen`` was passed over, or '' when none was."""
    better = [name for name in PREFERENCE[:PREFERENCE.index(chosen)] if name in available] if chosen in PREFERENCE else []
    return '; '.join('%s is listed but does not run guests here: %s' % (name, _reason(name, probes)) for name in better)


# ---------------------------------------------------------------- the cache

def read_boot_id(path=BOOT_ID_FILE):
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def host_identity(conn, uri):
    """The fields an entry is keyed by, plus what tells a reboot (boot id when local, CPU-time uptime always)."""
    caps = Capabilities.from_xml(conn.getCapabilities())
    return dict(format=CACHE_FORMAT, host_uuid=caps.host_uuid, arch=caps.host_arch,
                available=caps.domain_types(caps.host_arch), hypervisor_version=conn.getVersion(),
                libvirt_version=conn.getLibVersion(), boot_id=read_boot_id() if is_local_uri(uri) else None,
                uptime_seconds=uptime_from_cpu_times(conn))


def still_valid(entry, identity, now):
    """Whether a cached ``entry`` still describes the host of ``identity`` (read at time ``now``)."""
    if not isinstance(entry, dict) or not isinstance(entry.get('probes'), dict):
        return False
    if any(entry.get(key) != identity.get(key) for key in KEY_FIELDS):
        return False
    if entry.get('boot_id') and identity.get('boot_id'):
        return entry['boot_id'] == identity['boot_id']
    try:
        grown = identity['uptime_seconds'] - float(entry['uptime_seconds'])
        elapsed = now - float(entry['probed_at'])
    except (KeyError, TypeError, ValueError):
        return False
    return elapsed >= 0 and grown >= UPTIME_GROWTH * elapsed - UPTIME_SLACK_SECONDS


def _path(directory, host_uuid):
    return os.path.join(directory, '%s.json' % host_uuid)


def load(directory, host_uuid):
    try:
        with open(_path(directory, host_uuid)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def store(directory, identity, probes, now):
    """Write the entry atomically, readable by its owner only; a cache that cannot be written is no error."""
    entry = dict(identity, probes=probes, probed_at=now)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
        with os.fdopen(handle, 'w') as out:
            json.dump(entry, out, indent=1, sort_keys=True)
        os.replace(tmp, _path(directory, identity['host_uuid']))
    except (IOError, OSError):
        return False
    return True


def usable_virt_types(conn, uri, log=None, directory=None, clock=time.time):
    """``(available, probes, cached)`` for the host behind ``conn``: from the cache when it is still valid."""
    directory = directory or cache_dir()
    identity = host_identity(conn, uri)
    available = identity['available']
    entry = load(directory, identity['host_uuid'])
    if still_valid(entry, identity, clock()):
        return available, entry['probes'], True
    if log:
        log('probing which virt types run guests on %s (%s listed)' % (uri, ', '.join(available) or 'none'))
    probes = virt_probe.probe_virt_types(conn, available, arch=identity['arch'], timeout=PROBE_TIMEOUT, log=log)
    if available and not any(result['usable'] for result in probes.values()):
        probes = virt_probe.probe_virt_types(conn, available, arch=identity['arch'], timeout=RETRY_TIMEOUT, log=log)
    if any(result['usable'] for result in probes.values()):
        # a probe where nothing booted says more about a busy moment than about the host: not kept
        store(directory, identity, probes, clock())
    return available, probes, False


def for_run(conn, uri, host_cache, log=None):
    """``(available, probes, cached)`` once per module run; the guests module's workers share ``host_cache``."""
    lock = host_cache.setdefault('virt_types_lock', threading.Lock())
    with lock:
        if 'virt_types' not in host_cache:
            host_cache['virt_types'] = usable_virt_types(conn, uri, log=log)
    return host_cache['virt_types']
