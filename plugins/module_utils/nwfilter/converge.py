# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging one security group (nwfilter): define or redefine it, or remove it when nothing uses it.

libvirt re-instantiates a redefined filter on every running interface that uses
it, so a rule change reaches running guests without restarting them.
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.base import parse_xml
from ansible_collections.virtops.compute.plugins.module_utils.model.nwfilter import NwFilter
from ansible_collections.virtops.compute.plugins.module_utils.nwfilter.rules import (
    LIBVIRT_FILTERS, check_filter_name, compile_filter, normal_rules, rules_of,
)


def _filters_using(conn, name):
    """Names of the filters that reference ``name``, directly or through others."""
    refs = {}
    for nwfilter in conn.listAllNWFilters(0):
        refs[nwfilter.name()] = [ref.get('filter') for ref in parse_xml(nwfilter.XMLDesc(0)).findall('filterref')]
    users, todo = set(), [name]
    while todo:
        target = todo.pop()
        for other, targets in refs.items():
            if target in targets and other not in users:
                users.add(other)
                todo.append(other)
    return users


def users_of(conn, name):
    """([(guest, running)] whose NICs use ``name``, directly or through other filters; [those filters])."""
    filters = _filters_using(conn, name)
    wanted = filters | {name}
    guests = []
    for dom in conn.listAllDomains(0):
        running = dom.isActive()
        xml = dom.XMLDesc(0 if running else libvirt.VIR_DOMAIN_XML_INACTIVE)
        used = [ref.get('filter') for ref in parse_xml(xml).findall('devices/interface/filterref')]
        if wanted.intersection(used):
            guests.append((dom.name(), bool(running)))
    return sorted(guests), sorted(filters - {name})


def _lookup(conn, name):
    return lookup.find_nwfilter(conn, name)


def _describe(name, nwfilter, uuid=None):
    rules, anti_spoofing = rules_of(nwfilter)
    return dict(name=name, uuid=uuid, rules=rules, anti_spoofing=anti_spoofing)


def converge(module):
    params = module.params
    name = params['name']
    check_filter_name(name, 'nwfilter')
    where = "nwfilter '%s'" % name
    if name in LIBVIRT_FILTERS:
        raise VirtopsError('%s is one of the filters libvirt ships, which this module leaves alone; pick another name.'
                           % where)
    tracker = DifferenceTracker()
    existing = _lookup(module.conn, name)
    current = NwFilter.from_xml(existing.XMLDesc(0)) if existing else None
    before = _describe(name, current, existing.UUIDString()) if existing else None
    result = dict(changes=[])
    if params['state'] == 'absent':
        if existing is None:
            return dict(changed=False, nwfilter=None, changes=[])
        guests, filters = users_of(module.conn, name)
        if guests or filters:
            users = ["guest '%s'%s" % (g, ' (running)' if running else '') for g, running in guests]
            users += ["filter '%s'" % f for f in filters]
            raise VirtopsError('%s is used by %s, so it cannot be removed.' % (where, ', '.join(users)))
        tracker.add('nwfilter', before, None)
        if not module.check_mode:
            existing.undefine()
        result.update(nwfilter=None, changes=['removed'])
    else:
        rules = normal_rules(name, params['rules'])
        wanted = compile_filter(name, rules, params['anti_spoofing'], existing.UUIDString() if existing else None)
        after = _describe(name, wanted, existing.UUIDString() if existing else None)
        tracker.add('nwfilter', before, after)
        if current is None or current != wanted:
            result['changes'] = ['created'] if current is None else [
                key for key in ('rules', 'anti_spoofing') if (before or {}).get(key) != after[key]] or ['definition']
            if not module.check_mode:
                try:
                    defined = module.conn.nwfilterDefineXML(wanted.to_xml())
                except libvirt.libvirtError as err:
                    raise VirtopsError('%s: libvirt refused the filter: %s.' % (
                        where, ' '.join((err.get_error_message() or '').split()).rstrip('.'))) from None
                after['uuid'] = defined.UUIDString()
        guests, _filters = users_of(module.conn, name) if existing else ([], [])
        result['nwfilter'] = dict(after, used_by=[guest for guest, _running in guests])
    result['changed'] = bool(result['changes'])
    if module.diff_mode:
        result['diff'] = tracker.diff()
    return result
