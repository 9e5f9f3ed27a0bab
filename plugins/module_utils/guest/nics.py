# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's network interfaces: the ``nics`` option as interface devices, and the plan that
takes the interfaces a guest has to the ones it should have.

A NIC is compared in a normal form (``normal_nic`` for what the user asked, ``nic_of``
for what libvirt holds), so an option left out (no MAC given) matches whatever libvirt
chose.  NICs with a MAC are matched by MAC; the others by their order among the
unmatched ones, which is what a user editing a list expects.
"""


import re
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import live_devices, lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Interface
from ansible_collections.virtops.compute.plugins.module_utils.model.network import Network
from ansible_collections.virtops.compute.plugins.module_utils.nwfilter.rules import check_filter_name

NIC_SOURCES = ('network', 'bridge', 'ovs_bridge', 'user')
MAC_PATTERN = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}')
DEFAULT_MODEL = 'virtio'
# Differences libvirt can change on a live interface without unplugging it.
UPDATABLE = ('vlan', 'portgroup', 'filter', 'filter_params', 'source')


def validate_nics(where, nics):
    seen = {}
    for index, nic in enumerate(nics or []):
        nic_where = '%s: nics[%d]' % (where, index)
        sources = [key for key in NIC_SOURCES if nic.get(key)]
        if len(sources) != 1:
            raise VirtopsError('%s needs exactly one of network, bridge, ovs_bridge or user, got %s.'
                               % (nic_where, ', '.join(sources) or 'none'))
        mac = nic.get('mac')
        if mac is not None:
            if not MAC_PATTERN.fullmatch(mac.lower()):
                raise VirtopsError('%s.mac %r is not a MAC address like 52:54:00:12:34:56.' % (nic_where, mac))
            if int(mac[:2], 16) & 1:
                raise VirtopsError('%s.mac %s is a multicast address; a NIC needs a unicast one.' % (nic_where, mac))
            if mac.lower() in seen:
                raise VirtopsError('%s.mac %s is already used by nics[%d].' % (nic_where, mac, seen[mac.lower()]))
            seen[mac.lower()] = index
        vlan = nic.get('vlan')
        if vlan is not None:
            if not 1 <= vlan <= 4094:
                raise VirtopsError('%s.vlan must be 1-4094, got %d.' % (nic_where, vlan))
            if not (nic.get('ovs_bridge') or nic.get('network')):
                raise VirtopsError('%s.vlan needs an ovs_bridge or a network (VLAN tags are set on Open vSwitch ports).'
                                   % nic_where)
        if nic.get('portgroup') and not nic.get('network'):
            raise VirtopsError('%s.portgroup needs a network.' % nic_where)
        if nic.get('filter_params') and not nic.get('filter'):
            raise VirtopsError('%s.filter_params needs a filter.' % nic_where)
        if nic.get('filter') is not None:
            check_filter_name(nic['filter'], nic_where)


def check_networks(conn, where, nics):
    """Fail, naming the NIC, when a NIC's network is not defined on this host."""
    for index, nic in enumerate(nics or []):
        if nic.get('network'):
            network = lookup.find_network(conn, nic['network'])
            if network is None:
                raise VirtopsError("%s: nics[%d].network '%s' is not defined on this host."
                                   % (where, index, nic['network']))
            if nic.get('portgroup') and Network.from_xml(network.XMLDesc(0)).find_portgroup(nic['portgroup']) is None:
                raise VirtopsError("%s: nics[%d].portgroup '%s' is not a port group of network '%s'."
                                   % (where, index, nic['portgroup'], nic['network']))
        if nic.get('filter'):
            if lookup.find_nwfilter(conn, nic['filter']) is None:
                raise VirtopsError("%s: nics[%d].filter '%s' is not defined on this host."
                                   % (where, index, nic['filter']))


def _params(params):
    """Filter parameters with string values (a list stays a list: nwfilter allows a name several times)."""
    return dict((key, [str(v) for v in value] if isinstance(value, list) else str(value))
                for key, value in (params or {}).items())


def _kind(nic):
    for key in NIC_SOURCES:
        if nic.get(key):
            return key
    return None


def normal_nic(nic):
    """A ``nics`` item in the form ``nic_of`` reports (MAC None when the user left it to libvirt)."""
    kind = _kind(nic)
    return dict(kind=kind, source=None if kind == 'user' else nic[kind], mac=(nic.get('mac') or '').lower() or None,
                model=nic.get('model') or DEFAULT_MODEL, vlan=nic.get('vlan'), portgroup=nic.get('portgroup'),
                filter=nic.get('filter'), filter_params=_params(nic.get('filter_params')))


def nic_of(iface):
    """One interface of a definition as a normal NIC."""
    if iface.type == 'network':
        kind, source = 'network', iface.source_network
    elif iface.type == 'bridge':
        kind = 'ovs_bridge' if iface.virtualport_type == 'openvswitch' else 'bridge'
        source = iface.source_bridge
    else:
        kind, source = iface.type, None
    tags = iface.vlan_tags or []
    params = iface.filter_parameters or {}
    return dict(kind=kind, source=source, mac=(iface.mac or '').lower() or None, model=iface.model,
                vlan=tags[0]['id'] if len(tags) == 1 else None, portgroup=iface.source_portgroup,
                filter=iface.filter_name, filter_params=_params(params))


def build_interface(nic):
    """An ``<interface>`` for a normal NIC."""
    iface = Interface()
    kind = nic['kind']
    iface.type = {'ovs_bridge': 'bridge'}.get(kind, kind)
    if nic['mac']:
        iface.mac = nic['mac']
    if kind == 'network':
        iface.source_network = nic['source']
        if nic['portgroup']:
            iface.source_portgroup = nic['portgroup']
    elif kind in ('bridge', 'ovs_bridge'):
        iface.source_bridge = nic['source']
    if kind == 'ovs_bridge':
        iface.virtualport_type = 'openvswitch'
    if nic['vlan']:
        iface.vlan_tags = [dict(id=nic['vlan'])]
    iface.model = nic['model']
    if nic['filter']:
        iface.filter_name = nic['filter']
        iface.filter_parameters = nic['filter_params'] or None
    return iface


def _same(current, wanted):
    return all(wanted[key] == current[key] for key in wanted if key != 'mac' or wanted['mac'])


def plan(current, wanted):
    """[(action, current NIC or None, wanted NIC or None)] with action keep, update, replace, attach or detach.

    ``current`` and ``wanted`` are lists of normal NICs; a wanted NIC without a MAC takes
    the MAC of the NIC it is matched with."""
    unclaimed = list(current)
    pairs = []
    for nic in wanted:
        match = None
        if nic['mac']:
            match = next((cur for cur in unclaimed if cur['mac'] == nic['mac']), None)
        if match is not None:
            unclaimed.remove(match)
        pairs.append([match, nic])
    for pair in pairs:
        if pair[0] is None and not pair[1]['mac']:
            pair[0] = unclaimed.pop(0) if unclaimed else None
    steps = []
    for cur, nic in pairs:
        if cur is None:
            steps.append(('attach', None, nic))
            continue
        nic = dict(nic, mac=cur['mac'])
        if _same(cur, nic):
            steps.append(('keep', cur, nic))
        elif cur['kind'] == nic['kind'] and cur['model'] == nic['model']:
            steps.append(('update', cur, nic))
        else:
            steps.append(('replace', cur, nic))
    steps.extend(('detach', cur, None) for cur in unclaimed)
    return steps


def planned_list(steps):
    """The NIC list the plan ends with (MACs of new NICs unknown until libvirt picks them)."""
    return [nic for action, _cur, nic in steps if action != 'detach']


class NicChanger:
    """Carries out a plan on a domain: live and persistent together while it runs, persistent only when it is off."""

    def __init__(self, dom, where, actions, sleep=time.sleep):
        self.dom = dom
        self.where = where
        self.actions = actions
        self.sleep = sleep

    def apply(self, steps):
        for action, cur, nic in steps:
            if action == 'attach':
                self._attach(nic)
            elif action == 'detach':
                self._detach(cur)
            elif action == 'update':
                self._update(cur, nic)
            elif action == 'replace':
                self._detach(cur)
                self._attach(nic)

    def _attach(self, nic):
        what = 'a NIC on %s%s' % (nic['kind'], ' ' + nic['source'] if nic['source'] else '')
        live_devices.attach(self.dom, build_interface(nic).to_xml(), what, self.where)
        self.actions.append('attached ' + what)

    def _update(self, cur, nic):
        try:
            self.dom.updateDeviceFlags(build_interface(nic).to_xml(), live_devices.affect_flags(self.dom))
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_OPERATION_UNSUPPORTED, libvirt.VIR_ERR_CONFIG_UNSUPPORTED):
                raise VirtopsError('%s: changing NIC %s failed: %s.'
                                   % (self.where, cur['mac'], live_devices.libvirt_reason(err))) from None
            self._detach(cur)
            self._attach(nic)
            return
        self.actions.append('changed NIC %s in place' % cur['mac'])

    def _detach(self, cur):
        mac = cur['mac']
        live_devices.detach(self.dom, build_interface(cur).to_xml(), lambda live: live.find_interface(mac) is not None,
                            'NIC %s' % mac, self.where, sleep=self.sleep)
        self.actions.append('detached NIC %s' % mac)
