# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenStack ``network_data.json`` for a config drive: checked when given, derived from NICs when asked.

The schema is the one Nova writes and cloud-init's ConfigDrive datasource reads:
``links`` (interfaces, VLANs, bonds), ``networks`` (an address or a DHCP method on a
link, with routes) and ``services`` (DNS servers).  Each check fails with one
sentence naming the offending entry.
"""


import ipaddress
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.network.spec import check_mtu

STATIC_TYPES = {'ipv4': 4, 'ipv6': 6}
DHCP_TYPES = ('ipv4_dhcp', 'ipv6_dhcp', 'ipv6_slaac', 'ipv6_dhcpv6-stateful', 'ipv6_dhcpv6-stateless')
LINK_TYPES = ('phy', 'ethernet', 'bridge', 'ovs', 'tap', 'vif', 'vhostuser', 'hw_veb', 'dvs', 'hyperv', 'vlan',
              'bond')
_MAC = re.compile(r'[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}')


def _fail(where, problem):
    raise VirtopsError('%s: network_data %s.' % (where, problem))


def _address(where, what, value, version=None):
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        _fail(where, '%s %r is not an IP address' % (what, value))
    if version and address.version != version:
        _fail(where, '%s %s is not an IPv%d address' % (what, value, version))
    return address


def _netmask(where, what, value, version):
    """A netmask as Nova writes it (255.255.255.0, ffff:ffff:ffff:ffff::) or a prefix length; returns the length."""
    text, bits = str(value), 32 if version == 4 else 128
    if text.isdigit() and int(text) <= bits:
        return int(text)
    mask = int(_address(where, what, text, version))
    inverted = mask ^ ((1 << bits) - 1)
    if inverted & (inverted + 1):
        _fail(where, '%s %s is not a valid IPv%d netmask' % (what, value, version))
    return bits - inverted.bit_length()


def _check_links(where, links):
    ids = []
    for index, link in enumerate(links):
        if not isinstance(link, dict) or not link.get('id'):
            _fail(where, 'link %d has no id' % index)
        if link['id'] in ids:
            _fail(where, "link id '%s' is used twice" % link['id'])
        ids.append(link['id'])
        if link.get('type') is not None and link['type'] not in LINK_TYPES:
            _fail(where, "link '%s' has the unknown type '%s'" % (link['id'], link['type']))
        for key in ('ethernet_mac_address', 'vlan_mac_address'):
            if link.get(key) is not None and not _MAC.fullmatch(str(link[key])):
                _fail(where, "link '%s' has %s %r, which is not a MAC address" % (link['id'], key, link[key]))
        check_mtu(link.get('mtu'), "%s: network_data link '%s'" % (where, link['id']))
    for link in links:
        referenced = ([link['vlan_link']] if link.get('vlan_link') else []) + list(link.get('bond_links') or [])
        for other in referenced:
            if other not in ids:
                _fail(where, "link '%s' refers to link '%s', which links do not define" % (link['id'], other))
    return ids


def _check_route(where, network_id, route, version):
    for key in ('network', 'gateway'):
        if key not in route:
            _fail(where, "a route of network '%s' has no %s" % (network_id, key))
        _address(where, "route %s of network '%s'" % (key, network_id), route[key], version)
    if 'netmask' in route:
        _netmask(where, "route netmask of network '%s'" % network_id, route['netmask'], version)


def _check_services(where, services, owner):
    for service in services or []:
        if not isinstance(service, dict) or service.get('type') != 'dns':
            _fail(where, '%s has a service that is not of type dns' % owner)
        _address(where, 'dns address of %s' % owner, service.get('address'))


def validate(network_data, where):
    """Check ``network_data`` against the schema; returns it unchanged."""
    if not isinstance(network_data, dict):
        _fail(where, 'must be a dict with links, networks and services')
    unknown = sorted(set(network_data) - {'links', 'networks', 'services'})
    if unknown:
        _fail(where, 'has unknown keys (%s); the schema has links, networks and services' % ', '.join(unknown))
    link_ids = _check_links(where, network_data.get('links') or [])
    network_ids = []
    for index, network in enumerate(network_data.get('networks') or []):
        if not isinstance(network, dict) or not network.get('id'):
            _fail(where, 'network %d has no id' % index)
        network_id = network['id']
        if network_id in network_ids:
            _fail(where, "network id '%s' is used twice" % network_id)
        network_ids.append(network_id)
        if network.get('link') not in link_ids:
            _fail(where, "network '%s' names link '%s', which links do not define" % (network_id, network.get('link')))
        kind = network.get('type')
        if kind in STATIC_TYPES:
            version = STATIC_TYPES[kind]
            if 'ip_address' not in network or 'netmask' not in network:
                _fail(where, "network '%s' of type %s needs ip_address and netmask" % (network_id, kind))
            _address(where, "ip_address of network '%s'" % network_id, network['ip_address'], version)
            _netmask(where, "netmask of network '%s'" % network_id, network['netmask'], version)
            for route in network.get('routes') or []:
                _check_route(where, network_id, route, version)
        elif kind not in DHCP_TYPES:
            _fail(where, "network '%s' has the type '%s' (known: %s)"
                  % (network_id, kind, ', '.join(sorted(STATIC_TYPES) + list(DHCP_TYPES))))
        _check_services(where, network.get('services'), "network '%s'" % network_id)
    _check_services(where, network_data.get('services'), 'the top level')
    return network_data


def from_nics(nics, where):
    """network_data for NICs given as ``{mac, address (CIDR; none: DHCP), gateway, dns[], mtu}``."""
    links, networks, services = [], [], []
    for index, nic in enumerate(nics):
        mac = str(nic.get('mac') or '')
        if not _MAC.fullmatch(mac):
            raise VirtopsError('%s: network_data_from_nics entry %d has the MAC %r, which is not a MAC address.'
                               % (where, index, mac))
        check_mtu(nic.get('mtu'), '%s: network_data_from_nics entry %d' % (where, index))
        link = dict(id='nic%d' % index, type='phy', ethernet_mac_address=mac.lower(), mtu=nic.get('mtu'))
        links.append(dict((key, value) for key, value in link.items() if value is not None))
        network = dict(id='network%d' % index, link=link['id'])
        if nic.get('address'):
            try:
                interface = ipaddress.ip_interface(nic['address'])
            except ValueError:
                raise VirtopsError('%s: network_data_from_nics address %r is not an address with a prefix '
                                   '(10.0.0.5/24).' % (where, nic['address']))
            if '/' not in nic['address']:
                raise VirtopsError('%s: network_data_from_nics address %s needs its prefix length (%s/24).'
                                   % (where, nic['address'], nic['address']))
            network.update(type='ipv%d' % interface.version, ip_address=str(interface.ip),
                           netmask=str(interface.network.netmask), routes=[])
            if nic.get('gateway'):
                default = '0.0.0.0' if interface.version == 4 else '::'
                network['routes'].append(dict(network=default, netmask=default, gateway=str(nic['gateway'])))
        else:
            network['type'] = 'ipv4_dhcp'
        dns = [dict(type='dns', address=str(address)) for address in nic.get('dns') or []]
        if dns:
            network['services'] = dns
        services.extend(entry for entry in dns if entry not in services)
        networks.append(network)
    return validate(dict(links=links, networks=networks, services=services), where)
