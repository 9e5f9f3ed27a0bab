# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging one libvirt network: define, start, stop, remove, and change it live where libvirt can.

DHCP hosts, DHCP ranges and portgroups change on the running network through
``virNetwork.update`` (dnsmasq is told, guests keep their links).  Everything else
(mode, bridge, addresses, routes, VLAN, domain, MTU) only takes effect when the
network starts again, and restarting a network cuts the links of the guests on it,
so that needs ``allow_restart``.
"""


from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject, make_element, parse_xml
from ansible_collections.virtops.compute.plugins.module_utils.model.network import Network
from ansible_collections.virtops.compute.plugins.module_utils.network import linux_vlan
from ansible_collections.virtops.compute.plugins.module_utils.network.spec import (
    build_network, check_overlaps, portgroup_xml, spec_of, subnet_of, validate, wanted_spec,
)

LIVE_KEYS = ('portgroups', 'ip')
# the parts of ``ip`` a running network takes through virNetwork.update
LIVE_IP_KEYS = ('dhcp_ranges', 'hosts')


def _host_key(host):
    return host['mac'] or host['name']


def _element_xml(tag, attrs):
    node = make_element(tag)
    for key, value in attrs.items():
        if value:
            node.set(key, str(value))
    return XmlObject(node).to_xml(pretty=False)


def is_live_change(current, wanted):
    """True when ``current`` becomes ``wanted`` through virNetwork.update alone."""
    for key in current:
        if current[key] == wanted[key]:
            continue
        if key not in LIVE_KEYS:
            return False
        if key == 'ip':
            if current['ip'] is None or wanted['ip'] is None:
                return False
            if any(current['ip'][k] != wanted['ip'][k] for k in current['ip'] if k not in LIVE_IP_KEYS):
                return False
    return True


def live_updates(current, wanted):
    """[(command, section, xml)] taking the running network from ``current`` to ``wanted``: deletions first."""
    deletes, modifies, adds = [], [], []
    cur_ip, new_ip = current['ip'] or {}, wanted['ip'] or {}
    cur_hosts = dict((_host_key(h), h) for h in cur_ip.get('hosts', []))
    new_hosts = dict((_host_key(h), h) for h in new_ip.get('hosts', []))
    for key, host in cur_hosts.items():
        if key not in new_hosts:
            deletes.append(('DELETE', 'IP_DHCP_HOST', _element_xml('host', host)))
        elif new_hosts[key] != host:
            modifies.append(('MODIFY', 'IP_DHCP_HOST', _element_xml('host', new_hosts[key])))
    adds += [('ADD_LAST', 'IP_DHCP_HOST', _element_xml('host', h)) for k, h in new_hosts.items() if k not in cur_hosts]
    for item in cur_ip.get('dhcp_ranges', []):
        if item not in new_ip.get('dhcp_ranges', []):
            deletes.append(('DELETE', 'IP_DHCP_RANGE', _element_xml('range', item)))
    for item in new_ip.get('dhcp_ranges', []):
        if item not in cur_ip.get('dhcp_ranges', []):
            adds.append(('ADD_LAST', 'IP_DHCP_RANGE', _element_xml('range', item)))
    cur_groups = dict((g['name'], g) for g in current['portgroups'])
    new_groups = dict((g['name'], g) for g in wanted['portgroups'])
    for name, group in cur_groups.items():
        if name not in new_groups:
            deletes.append(('DELETE', 'PORTGROUP', portgroup_xml(group)))
        elif new_groups[name] != group:
            modifies.append(('MODIFY', 'PORTGROUP', portgroup_xml(new_groups[name])))
    adds += [('ADD_LAST', 'PORTGROUP', portgroup_xml(g)) for n, g in new_groups.items() if n not in cur_groups]
    return deletes + modifies + adds


def connected_guests(net):
    """Names of the guests with a port on the running network, sorted."""
    names = set()
    try:
        ports = net.listAllPorts(0)
    except (libvirt.libvirtError, AttributeError):
        return []
    for port in ports:
        owner = parse_xml(port.XMLDesc(0)).find('owner/name')
        if owner is not None and owner.text:
            names.add(owner.text)
    return sorted(names)


def run_state(state):
    return 'active' if state in ('present', 'active') else state


class NetworkConverger:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.where = "network '%s'" % self.name
        self.actions = []
        self.tracker = DifferenceTracker()
        self.autostart = None

    def _lookup(self):
        return lookup.find_network(self.module.conn, self.name)

    def _other_subnets(self):
        subnets = {}
        for net in self.module.conn.listAllNetworks(0):
            if net.name() != self.name:
                try:
                    subnets[net.name()] = subnet_of(Network.from_xml(net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)))
                except libvirt.libvirtError as err:
                    # removed by someone else since the listing: it no longer takes any subnet
                    if not lookup.vanished(err):
                        raise
        return subnets

    def _do(self, action, func, *args):
        self.actions.append(action)
        if not self.module.check_mode:
            try:
                func(*args)
            except libvirt.libvirtError as err:
                done = ', '.join(self.actions[:-1]) or 'nothing'
                raise VirtopsError('%s: %s failed (%s; done before it: %s).' % (
                    self.where, action, ' '.join((err.get_error_message() or str(err)).split()).rstrip('.'), done)) from None

    def run(self):
        net = self._lookup()
        if self.params['state'] == 'absent':
            return self._absent(net)
        subnet = validate(self.params)
        check_overlaps(self.name, subnet, self._other_subnets())
        host_commands = self._vlan_bridge_commands()
        config_xml = net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE) if net else None
        active = bool(net and net.isActive())
        current = spec_of(Network.from_xml(config_xml)) if net else None
        live = spec_of(Network.from_xml(net.XMLDesc(0))) if active else current
        desired_net = build_network(self.name, wanted_spec(self.params, current), config_xml)
        desired = spec_of(desired_net)
        for key in desired:
            self.tracker.add(key, current[key] if current else None, desired[key])
        if host_commands:
            self._do('made the VLAN bridge with ' + '; '.join(' '.join(c) for c in host_commands),
                     linux_vlan.run_commands, self.where, host_commands, self.module.ansible.run_command)
        wanted_state = run_state(self.params['state'])
        if net is None:
            self._do('defined', self._define, desired_net)
        elif current != desired or (active and live != desired):
            self._converge_definition(net, active, wanted_state, current, live, desired, desired_net)
        existed = net is not None
        if net is None and not self.module.check_mode:
            net = self._lookup()
        self._converge_state(net, existed, active, wanted_state)
        return self._result(net, desired, wanted_state)

    def _vlan_bridge_commands(self):
        if self.params['mode'] != 'flat' or self.params.get('vlan') is None:
            return []
        return linux_vlan.plan_vlan_bridge(self.where, self.module.uri, self.params['vlan_parent'], self.params['vlan'],
                                           self.params['bridge'], self.module.ansible.run_command)

    def _define(self, network):
        self.module.conn.networkDefineXML(network.to_xml())

    def _converge_definition(self, net, active, wanted_state, current, live, desired, desired_net):
        running = active and wanted_state == 'active' and live != desired
        restart = running and not is_live_change(live, desired)
        if restart and not self.params['allow_restart']:
            raise VirtopsError('%s: changing %s needs a restart of the running network, which cuts its guests off '
                               'until they are re-plugged, so set allow_restart=true to allow it.'
                               % (self.where, ', '.join(key for key in desired if live[key] != desired[key])))
        if current != desired:
            self._do('redefined', self._define, desired_net)
        if restart:
            guests = connected_guests(net)
            if guests:
                self.module.warn('%s restarted: the NICs of %s lost their link; re-plug them (or restart the guests).'
                                 % (self.where, ', '.join(guests)))
            self._do('stopped to apply %s' % ', '.join(key for key in desired if live[key] != desired[key]), net.destroy)
            self._do('started', net.create)
        elif running:
            for command, section, xml in live_updates(live, desired):
                self._do('%s %s live' % (command.lower().replace('_last', ''), section.lower().replace('_', ' ')),
                         net.update, getattr(libvirt, 'VIR_NETWORK_UPDATE_COMMAND_' + command),
                         getattr(libvirt, 'VIR_NETWORK_SECTION_' + section), -1, xml,
                         libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE)

    def _converge_state(self, net, existed, active, wanted_state):
        if wanted_state == 'active' and not active:
            self._do('started', net.create if net else None)
        elif wanted_state == 'inactive' and active:
            self._do('stopped', net.destroy)
        current = bool(net.autostart()) if existed else None
        autostart = self.params['autostart']
        if autostart is None:
            autostart = current if existed else wanted_state == 'active'
        self.autostart = autostart
        self.tracker.add('autostart', current, autostart)
        if autostart != bool(current):
            self._do('autostart %s' % ('on' if autostart else 'off'), net.setAutostart if net else None,
                     1 if autostart else 0)
        self.tracker.add('state', ('active' if active else 'inactive') if existed else 'absent', wanted_state)

    def _absent(self, net):
        if net is None:
            return dict(changed=False, network=None, changes=[], actions=[])
        active = net.isActive()
        guests = connected_guests(net) if active else []
        if guests:
            raise VirtopsError('%s is used by running guest%s %s; detach their NICs first.'
                               % (self.where, 's' if len(guests) > 1 else '', ', '.join("'%s'" % g for g in guests)))
        self.tracker.add('state', 'active' if active else 'inactive', 'absent')
        if active:
            self._do('stopped', net.destroy)
        self._do('undefined', net.undefine)
        return self._finish(dict(network=None))

    def _result(self, net, desired, wanted_state):
        report = dict(desired, name=self.name, state=wanted_state, autostart=self.autostart)
        if net is not None and not self.module.check_mode:
            config = spec_of(Network.from_xml(net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)))
            report.update(config, uuid=net.UUIDString(), guests=connected_guests(net) if net.isActive() else [])
        return self._finish(dict(network=report))

    def _finish(self, result):
        result.update(converge_result(self.module, self.tracker, self.actions,
                                      changed=self.tracker.has_differences or bool(self.actions)))
        result.setdefault('actions', [])
        return result
