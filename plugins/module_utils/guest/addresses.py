# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's addresses: where each comes from, and which one a controller may connect to.

Three sources, in the order of how far they can be trusted:

- ``static``: the DHCP reservations (``<host mac= ip=>``) of the libvirt network a NIC is
  on, which the host's operator wrote;
- ``lease``: the leases that network's DHCP server handed out, the host's own record (a
  guest asks, but only for an address of the network's range);
- ``agent``: what the guest agent reports, which is whatever the guest (or whoever holds
  root in it) chooses to say: another machine's address, the controller's loopback, or not
  an address at all.

Every address is checked before anything acts on it: it must parse as an IP address, be a
unicast address a machine can have (not loopback, link-local, multicast, unspecified or
reserved), lie inside a subnet of the NIC's libvirt network when that network has one, and
inside ``allowed`` networks when those are given.
"""

import ipaddress

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.network import Network

SOURCES = ('static', 'lease', 'agent')
HOST_SOURCES = ('static', 'lease')
FAMILIES = ('ipv4', 'ipv6')


def parse(text, prefix=None):
    """``dict(address, prefix, family)`` of an address as a source reported it, or None when it is not one."""
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError:
        return None
    if prefix is not None and (isinstance(prefix, bool) or not isinstance(prefix, int)
                               or not 0 <= prefix <= address.max_prefixlen):
        prefix = None
    return dict(address=str(address), prefix=prefix, family='ipv%d' % address.version)


def refusal(text, subnets=(), allowed=()):
    """Why the controller must not connect to ``text``, or None when it may."""
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError:
        return 'it is not an IP address'
    for kind in ('loopback', 'unspecified', 'multicast', 'link_local', 'reserved'):
        if getattr(address, 'is_' + kind):
            return 'it is a %s address' % kind.replace('_', '-')
    same_family = [net for net in subnets if net.version == address.version]
    if same_family and not any(address in net for net in same_family):
        return 'it lies outside %s, the subnet of the network the NIC is on' % ', '.join(map(str, same_family))
    if allowed and not any(address in net for net in allowed if net.version == address.version):
        return 'it lies outside allowed_networks'
    return None


class Networks:
    """What the host's libvirt networks say about addresses: their subnets and their DHCP reservations, read once
    per network."""

    def __init__(self, conn):
        self.conn = conn
        self._seen = {}

    def _read(self, name):
        if name not in self._seen:
            found = lookup.find_network(self.conn, name) if name else None
            self._seen[name] = Network.from_xml(found.XMLDesc(0)) if found is not None else None
        return self._seen[name]

    def subnets(self, name):
        network = self._read(name)
        result = []
        for ip in network.ips if network is not None else ():
            if ip.address and ip.prefix_length is not None:
                result.append(ipaddress.ip_network('%s/%s' % (ip.address, ip.prefix_length), strict=False))
        return result

    def reserved(self, name, mac):
        """The addresses the network reserves for ``mac`` (its static DHCP hosts)."""
        network = self._read(name)
        found = []
        for ip in network.ips if network is not None else ():
            for host in ip.dhcp_hosts:
                if (host.get('mac') or '').lower() == mac and host.get('ip'):
                    found.append(parse(host['ip'], ip.prefix_length))
        return [entry for entry in found if entry]


def _reported(dom, source):
    """{mac: [address dict]} from libvirt's lease or agent source ({} when it knows nothing or fails)."""
    code = {'lease': 'VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE', 'agent': 'VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT'}[source]
    try:
        found = dom.interfaceAddresses(getattr(libvirt, code), 0)
    except libvirt.libvirtError:
        return {}
    result = {}
    for details in (found or {}).values():
        mac = str(details.get('hwaddr') or '').lower()
        for addr in details.get('addrs') or []:
            entry = parse(addr.get('addr'), addr.get('prefix'))
            if entry is not None:
                result.setdefault(mac, []).append(dict(entry, source=source))
    return result


def collect(dom, interfaces, sources, networks):
    """{mac: [dict(address, prefix, family, source)]} for the guest's ``interfaces`` (model objects), from
    ``sources`` in that order, each address once (under the first source that knows it)."""
    by_source = dict((source, _reported(dom, source)) for source in sources if source != 'static')
    result = {}
    for iface in interfaces:
        mac = (iface.mac or '').lower()
        entries = []
        for source in sources:
            if source == 'static':
                found = [dict(entry, source='static') for entry in networks.reserved(iface.source_network, mac)]
            else:
                found = by_source[source].get(mac, [])
            entries += [entry for entry in found if entry['address'] not in [known['address'] for known in entries]]
        result[mac] = entries
    return result


def choose(interfaces, sources, subnets_of, allowed=()):
    """The address a controller should connect to: by source in ``sources`` order, IPv4 before IPv6, NICs in
    their order; only addresses ``refusal`` lets through. ``interfaces`` are guest_info's, each with its
    ``source`` network name; ``subnets_of(name)`` gives that network's subnets. Returns (address or None,
    [(address, source, why refused)])."""
    refused = []
    for source in sources:
        for family in FAMILIES:
            for iface in interfaces:
                for entry in iface.get('addresses') or []:
                    if entry.get('source') != source or entry.get('family') != family:
                        continue
                    why = refusal(entry['address'], subnets_of(iface.get('source')) if iface.get('type') == 'network'
                                  else (), allowed)
                    if why is None:
                        return entry['address'], refused
                    refused.append((entry['address'], source, why))
    return None, refused
