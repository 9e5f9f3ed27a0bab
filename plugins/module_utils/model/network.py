# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed view of a libvirt virtual network (``<network>``)."""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Attr, Children, PathAttr, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import (
    VLAN_TAG_FIELDS, AttrDict, AttrList, Records,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ON_OFF, YES_NO, ModelError

NETWORK_ORDER = ('name', 'uuid', 'metadata', 'forward', 'bridge', 'mtu', 'mac', 'domain', 'dns', 'vlan', 'virtualport',
                 'portgroup', 'port', 'bandwidth', 'ip', 'route')


def netmask_to_prefix(netmask):
    """``'255.255.255.0'`` -> 24; ModelError for a mask that is not contiguous ones."""
    try:
        octets = [int(part) for part in netmask.split('.')]
        if len(octets) != 4 or any(not 0 <= octet <= 255 for octet in octets):
            raise ValueError(netmask)
    except (AttributeError, ValueError):
        raise ModelError('%r is not an IPv4 netmask' % (netmask,)) from None
    bits = ''.join('{0:08b}'.format(octet) for octet in octets)
    if '01' in bits:
        raise ModelError('%r is not a contiguous netmask' % netmask)
    return bits.count('1')


class NetworkIp(XmlObject):
    """``<ip>``: an address of the network's bridge, with its DHCP ranges and fixed hosts."""

    TAG = 'ip'
    ORDER = {'': ('tftp', 'dhcp'), 'dhcp': ('range', 'host', 'bootp')}

    address = Attr('address')
    prefix = Attr('prefix', int)
    netmask = Attr('netmask')
    family = Attr('family')
    local_ptr = Attr('localPtr', YES_NO)
    tftp_root = PathAttr('tftp', 'root')
    dhcp_ranges = Records('dhcp/range', (('start', 'start', str), ('end', 'end', str)))
    dhcp_hosts = Records('dhcp/host', (('mac', 'mac', str), ('ip', 'ip', str), ('name', 'name', str), ('id', 'id', str)))
    bootp_file = PathAttr('dhcp/bootp', 'file')

    @property
    def prefix_length(self):
        """The prefix, from ``prefix`` or from an IPv4 ``netmask`` (None when neither is set)."""
        if self.prefix is not None:
            return self.prefix
        return netmask_to_prefix(self.netmask) if self.netmask else None


class NetworkRoute(XmlObject):
    """``<route>``: a static route the host adds when the network starts."""

    TAG = 'route'

    address = Attr('address')
    prefix = Attr('prefix', int)
    netmask = Attr('netmask')
    gateway = Attr('gateway')
    family = Attr('family')
    metric = Attr('metric', int)


class PortGroup(XmlObject):
    """``<portgroup>``: a named set of port settings (VLAN tags, virtualport parameters)."""

    TAG = 'portgroup'
    ORDER = {'': ('virtualport', 'bandwidth', 'vlan')}

    name = Attr('name')
    default = Attr('default', YES_NO)
    vlan_tags = Records('vlan/tag', VLAN_TAG_FIELDS)
    vlan_trunk = PathAttr('vlan', 'trunk', YES_NO)
    virtualport_type = PathAttr('virtualport', 'type')
    virtualport_parameters = AttrDict('virtualport/parameters')


class Network(XmlObject):
    TAG = 'network'
    ORDER = {'': NETWORK_ORDER, 'forward': ('nat', 'interface', 'pf', 'address', 'driver')}

    connections = Attr('connections', int)
    ipv6 = Attr('ipv6', YES_NO)
    trust_guest_rx_filters = Attr('trustGuestRxFilters', YES_NO)
    name = Text('name')
    uuid = Text('uuid')
    forward_mode = PathAttr('forward', 'mode')
    forward_dev = PathAttr('forward', 'dev')
    forward_interfaces = AttrList('forward/interface', 'dev')
    nat_port_start = PathAttr('forward/nat/port', 'start', int)
    nat_port_end = PathAttr('forward/nat/port', 'end', int)
    bridge_name = PathAttr('bridge', 'name')
    bridge_stp = PathAttr('bridge', 'stp', ON_OFF)
    bridge_delay = PathAttr('bridge', 'delay', int)
    bridge_mac_table_manager = PathAttr('bridge', 'macTableManager')
    mac_address = PathAttr('mac', 'address')
    mtu = PathAttr('mtu', 'size', int)
    domain_name = PathAttr('domain', 'name')
    domain_local_only = PathAttr('domain', 'localOnly', YES_NO)
    virtualport_type = PathAttr('virtualport', 'type')
    virtualport_parameters = AttrDict('virtualport/parameters')
    vlan_tags = Records('vlan/tag', VLAN_TAG_FIELDS)
    vlan_trunk = PathAttr('vlan', 'trunk', YES_NO)
    portgroups = Children('portgroup', PortGroup)
    ips = Children('ip', NetworkIp)
    routes = Children('route', NetworkRoute)

    def add_portgroup(self, portgroup):
        return self.add_child('portgroup', portgroup)

    def remove_portgroup(self, portgroup):
        return self.remove_child(portgroup, 'portgroup')

    def find_portgroup(self, name):
        for portgroup in self.portgroups:
            if portgroup.name == name:
                return portgroup
        return None

    def add_ip(self, ip):
        return self.add_child('ip', ip)

    def remove_ip(self, ip):
        return self.remove_child(ip, 'ip')

    def add_route(self, route):
        return self.add_child('route', route)

    def remove_route(self, route):
        return self.remove_child(route, 'route')
