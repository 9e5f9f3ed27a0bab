# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``network`` module's options as a normal form, checked, and translated to and from libvirt XML.

A network is compared in its normal form (``spec_of`` for what libvirt holds,
``wanted_spec`` for what the user asked), so an option left out (no bridge name
for a NAT network) matches what libvirt chose.  ``build_network`` edits a copy
of the current definition, so what the options do not cover (uuid, MAC, DNS
forwarders, NAT port ranges) stays as it was.
"""


import ipaddress
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.network import (
    Network, NetworkIp, NetworkRoute, PortGroup,
)

MODES = ('nat', 'route', 'isolated', 'flat', 'ovs')
ADDRESSED_MODES = ('nat', 'route', 'isolated')
MAC_PATTERN = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}')
IFNAME_MAX = 15
MTU_RANGE = (68, 65535)     # IPv4's minimum; the largest an IP packet can be

NETWORK_OPTIONS = dict(
    name=dict(type='str', required=True),
    mode=dict(type='str', choices=list(MODES)),
    bridge=dict(type='str'),
    vlan=dict(type='int'),
    vlan_parent=dict(type='str'),
    portgroups=dict(type='list', elements='dict', options=dict(
        name=dict(type='str', required=True), vlan=dict(type='int'), default=dict(type='bool', default=False))),
    default_portgroup=dict(type='str'),
    ip=dict(type='dict', options=dict(
        address=dict(type='str', required=True), prefix=dict(type='int', required=True),
        dhcp_range=dict(type='dict', options=dict(start=dict(type='str', required=True),
                                                  end=dict(type='str', required=True))),
        hosts=dict(type='list', elements='dict', options=dict(
            mac=dict(type='str'), ip=dict(type='str', required=True), name=dict(type='str'))))),
    routes=dict(type='list', elements='dict', options=dict(
        address=dict(type='str', required=True), prefix=dict(type='int', required=True),
        gateway=dict(type='str', required=True))),
    domain=dict(type='str'),
    mtu=dict(type='int'),
    state=dict(type='str', default='present', choices=['present', 'active', 'inactive', 'absent']),
    autostart=dict(type='bool'),
    allow_restart=dict(type='bool', default=False),
)


def _address(where, text):
    try:
        return ipaddress.IPv4Address(text)
    except (ipaddress.AddressValueError, ValueError):
        raise VirtopsError('%s %r is not an IPv4 address.' % (where, text)) from None


def _check_vlan(where, vlan):
    if vlan is not None and not 1 <= vlan <= 4094:
        raise VirtopsError('%s must be a VLAN id from 1 to 4094, got %d.' % (where, vlan))


def _check_portgroups(where, params):
    mode = params['mode']
    names = []
    for index, group in enumerate(params.get('portgroups') or []):
        portgroup_where = '%s: portgroups[%d]' % (where, index)
        if group['name'] in names:
            raise VirtopsError("%s: portgroup '%s' is listed twice." % (where, group['name']))
        names.append(group['name'])
        _check_vlan(portgroup_where + '.vlan', group.get('vlan'))
        if group.get('vlan') is not None and mode != 'ovs':
            raise VirtopsError('%s.vlan needs mode ovs (libvirt tags only Open vSwitch ports), not mode %s.'
                               % (portgroup_where, mode))
    defaults = [group['name'] for group in params.get('portgroups') or [] if group.get('default')]
    wanted_default = params.get('default_portgroup')
    if wanted_default is not None and wanted_default not in names:
        raise VirtopsError("%s: default_portgroup '%s' is not among the portgroups (%s)."
                           % (where, wanted_default, ', '.join(names) or 'none'))
    if len(defaults) > 1 or (defaults and wanted_default and defaults != [wanted_default]):
        raise VirtopsError('%s: only one portgroup can be the default, got %s.'
                           % (where, ', '.join(sorted(set(defaults + [wanted_default] if wanted_default else defaults)))))


def _check_ip(where, ip, routes):
    address = _address('%s: ip.address' % where, ip['address'])
    if not 1 <= ip['prefix'] <= 30:
        raise VirtopsError('%s: ip.prefix must be from 1 to 30, got %d.' % (where, ip['prefix']))
    subnet = ipaddress.IPv4Network('%s/%d' % (address, ip['prefix']), strict=False)
    if address in (subnet.network_address, subnet.broadcast_address):
        raise VirtopsError('%s: ip.address %s is the network or broadcast address of %s.' % (where, address, subnet))
    dhcp = ip.get('dhcp_range')
    if dhcp:
        start = _address('%s: ip.dhcp_range.start' % where, dhcp['start'])
        end = _address('%s: ip.dhcp_range.end' % where, dhcp['end'])
        for bound in (start, end):
            if bound not in subnet or bound in (subnet.network_address, subnet.broadcast_address):
                raise VirtopsError('%s: ip.dhcp_range %s-%s is not inside the subnet %s.' % (where, start, end, subnet))
        if start > end:
            raise VirtopsError('%s: ip.dhcp_range starts at %s, after its end %s.' % (where, start, end))
        if start <= address <= end:
            raise VirtopsError('%s: ip.dhcp_range %s-%s overlaps the network\'s own address %s.'
                               % (where, start, end, address))
    seen_macs, seen_ips = {}, {}
    for index, host in enumerate(ip.get('hosts') or []):
        host_where = '%s: ip.hosts[%d]' % (where, index)
        host_ip = _address(host_where + '.ip', host['ip'])
        if host_ip not in subnet or host_ip in (subnet.network_address, subnet.broadcast_address, address):
            raise VirtopsError('%s.ip %s is not a free host address of the subnet %s.' % (host_where, host_ip, subnet))
        if not host.get('mac') and not host.get('name'):
            raise VirtopsError('%s needs a mac or a name.' % host_where)
        mac = (host.get('mac') or '').lower()
        if mac and not MAC_PATTERN.fullmatch(mac):
            raise VirtopsError('%s.mac %r is not a MAC address like 52:54:00:12:34:56.' % (host_where, host['mac']))
        for key, seen in ((mac, seen_macs), (str(host_ip), seen_ips)):
            if key and key in seen:
                raise VirtopsError('%s uses %s, as ip.hosts[%d] does.' % (host_where, key, seen[key]))
            if key:
                seen[key] = index
    for index, route in enumerate(routes or []):
        route_where = '%s: routes[%d]' % (where, index)
        try:
            target = ipaddress.IPv4Network('%s/%d' % (route['address'], route['prefix']))
        except ValueError:
            raise VirtopsError('%s %s/%s is not an IPv4 network address with its prefix.'
                               % (route_where, route['address'], route['prefix'])) from None
        if target.overlaps(subnet):
            raise VirtopsError('%s %s overlaps the network\'s own subnet %s.' % (route_where, target, subnet))
        if _address(route_where + '.gateway', route['gateway']) not in subnet:
            raise VirtopsError('%s.gateway %s is not inside the subnet %s.' % (route_where, route['gateway'], subnet))
    return subnet


def validate(params):
    """Refuse what cannot make a working network, in one sentence naming the option; returns the subnet or None."""
    where = "network '%s'" % params['name']
    if not params['name'] or '/' in params['name'] or params['name'].strip() != params['name']:
        raise VirtopsError("%s: name must be non-empty, without '/' or surrounding spaces." % where)
    mode = params['mode']
    if mode is None:
        raise VirtopsError('%s: mode is needed unless state is absent.' % where)
    bridge = params.get('bridge')
    if bridge is not None and not 0 < len(bridge) <= IFNAME_MAX:
        raise VirtopsError('%s: bridge %r is not a Linux interface name (1-15 characters).' % (where, bridge))
    if mode in ('flat', 'ovs') and not bridge:
        raise VirtopsError('%s: mode %s needs bridge, the existing host bridge to attach guests to.' % (where, mode))
    _check_vlan(where + ': vlan', params.get('vlan'))
    if params.get('vlan') is not None:
        if mode == 'flat' and not params.get('vlan_parent'):
            raise VirtopsError('%s: vlan with mode flat needs vlan_parent, the host NIC the VLAN is made on.' % where)
        if mode not in ('flat', 'ovs'):
            raise VirtopsError('%s: vlan needs mode ovs or flat, not mode %s.' % (where, mode))
    if params.get('vlan_parent') and (mode != 'flat' or params.get('vlan') is None):
        raise VirtopsError('%s: vlan_parent is only used with mode flat and a vlan.' % where)
    _check_portgroups(where, params)
    ip = params.get('ip')
    if mode not in ADDRESSED_MODES:
        for key in ('ip', 'routes', 'domain'):
            if params.get(key):
                raise VirtopsError('%s: %s is not possible with mode %s, whose addresses come from the host\'s '
                                   'own network.' % (where, key, mode))
        return None
    if params.get('routes') and not ip:
        raise VirtopsError('%s: routes need ip, the subnet their gateways are in.' % where)
    if mode == 'route' and not ip:
        raise VirtopsError('%s: mode route needs ip, the subnet it routes.' % where)
    check_mtu(params.get('mtu'), where)
    return _check_ip(where, ip, params.get('routes')) if ip else None


def check_mtu(mtu, where, name='mtu'):
    """Refuse an MTU that is not a whole number of bytes an interface can have (None: not given)."""
    if mtu is None:
        return
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not MTU_RANGE[0] <= mtu <= MTU_RANGE[1]:
        raise VirtopsError('%s: %s must be a number from %d to %d, got %r.' % ((where, name) + MTU_RANGE + (mtu,)))


def check_overlaps(name, subnet, others):
    """Refuse a subnet that overlaps another network's; ``others`` maps network names to their subnets."""
    for other, other_subnet in sorted(others.items()):
        if other != name and subnet is not None and other_subnet is not None and subnet.overlaps(other_subnet):
            raise VirtopsError("network '%s': ip %s overlaps %s of network '%s'." % (name, subnet, other_subnet, other))


def _ipv4(network):
    for ip in network.ips:
        if (ip.family or 'ipv4') == 'ipv4' and ip.address:
            return ip
    return None


def subnet_of(network):
    ip = _ipv4(network)
    if ip is None or ip.prefix_length is None:
        return None
    return ipaddress.IPv4Network('%s/%d' % (ip.address, ip.prefix_length), strict=False)


def mode_of(network):
    forward = network.forward_mode
    if forward is None:
        return 'isolated'
    if forward == 'bridge':
        return 'ovs' if network.virtualport_type == 'openvswitch' else 'flat'
    return forward


def _tag(tags):
    return tags[0]['id'] if len(tags or []) == 1 else None


def _host(record):
    return dict(mac=(record.get('mac') or '').lower() or None, ip=record.get('ip'), name=record.get('name'))


def spec_of(network):
    """What libvirt holds, in the normal form."""
    ip = _ipv4(network)
    ip_spec = None
    if ip is not None:
        ip_spec = dict(address=ip.address, prefix=ip.prefix_length, dhcp_ranges=[
            dict(start=r['start'], end=r['end']) for r in ip.dhcp_ranges], hosts=[_host(h) for h in ip.dhcp_hosts])
    return dict(mode=mode_of(network), bridge=network.bridge_name, vlan=_tag(network.vlan_tags),
                portgroups=[dict(name=group.name, vlan=_tag(group.vlan_tags), default=bool(group.default))
                            for group in network.portgroups],
                ip=ip_spec, routes=[dict(address=r.address, prefix=r.prefix if r.prefix is not None else None,
                                         gateway=r.gateway) for r in network.routes if (r.family or 'ipv4') == 'ipv4'],
                domain=network.domain_name, mtu=network.mtu)


def wanted_spec(params, current=None):
    """What the user asked, in the normal form; options left out keep ``current``'s values."""
    ip = params.get('ip')
    ip_spec = None
    if ip:
        dhcp = ip.get('dhcp_range')
        ip_spec = dict(address=ip['address'], prefix=ip['prefix'],
                       dhcp_ranges=[dict(start=dhcp['start'], end=dhcp['end'])] if dhcp else [],
                       hosts=[_host(host) for host in ip.get('hosts') or []])
    default = params.get('default_portgroup')
    spec = dict(mode=params['mode'], bridge=params.get('bridge'),
                vlan=params.get('vlan') if params['mode'] == 'ovs' else None,
                portgroups=[dict(name=g['name'], vlan=g.get('vlan'), default=bool(g.get('default') or g['name'] == default))
                            for g in params.get('portgroups') or []],
                ip=ip_spec, routes=[dict(address=r['address'], prefix=r['prefix'], gateway=r['gateway'])
                                    for r in params.get('routes') or []],
                domain=params.get('domain'), mtu=params.get('mtu'))
    if current is not None:
        same_kind = spec['mode'] == current['mode'] or {spec['mode'], current['mode']} <= set(ADDRESSED_MODES)
        if spec['bridge'] is None and same_kind:
            spec['bridge'] = current['bridge']
        if spec['mtu'] is None:
            spec['mtu'] = current['mtu']
    return spec


def _set_portgroups(network, wanted):
    for group in list(network.portgroups):
        if group.name not in [item['name'] for item in wanted]:
            network.remove_portgroup(group)
    for item in wanted:
        _fill_portgroup(network.find_portgroup(item['name']) or network.add_portgroup(PortGroup()), item)


def portgroup_xml(item):
    group = PortGroup()
    _fill_portgroup(group, item)
    return group.to_xml(pretty=False)


def _fill_portgroup(group, item):
    group.name = item['name']
    group.default = True if item['default'] else None
    group.vlan_tags = [dict(id=item['vlan'])] if item['vlan'] else None
    return group


def _set_ip(network, wanted):
    ip = _ipv4(network)
    if wanted is None:
        if ip is not None:
            network.remove_ip(ip)
        return
    if ip is None:
        ip = network.add_ip(NetworkIp())
    ip.address = wanted['address']
    ip.netmask = None
    ip.prefix = wanted['prefix']
    ip.dhcp_ranges = wanted['dhcp_ranges']
    ip.dhcp_hosts = [dict((key, value) for key, value in host.items() if value) for host in wanted['hosts']]


def build_network(name, spec, current_xml=None):
    """The ``Network`` for ``spec``, edited from ``current_xml`` when the network exists."""
    network = Network.from_xml(current_xml) if current_xml else Network()
    network.name = name
    mode = spec['mode']
    if mode_of(network) != mode or current_xml is None:
        network.remove_element('forward')
        network.virtualport_type = None
        if mode != 'isolated':
            network.forward_mode = {'flat': 'bridge', 'ovs': 'bridge'}.get(mode, mode)
    network.virtualport_type = 'openvswitch' if mode == 'ovs' else None
    if spec['bridge'] != network.bridge_name:
        network.remove_element('bridge')
        network.bridge_name = spec['bridge']
    network.vlan_tags = [dict(id=spec['vlan'])] if spec['vlan'] else None
    _set_portgroups(network, spec['portgroups'])
    _set_ip(network, spec['ip'])
    for route in list(network.routes):
        if (route.family or 'ipv4') == 'ipv4':
            network.remove_route(route)
    for item in spec['routes']:
        route = network.add_route(NetworkRoute())
        route.address, route.prefix, route.gateway = item['address'], item['prefix'], item['gateway']
    network.domain_name = spec['domain']
    network.mtu = spec['mtu']
    return network
