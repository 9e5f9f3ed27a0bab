# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security-group rules compiled to a libvirt nwfilter, and read back from one.

The compiled filter, in the order libvirt evaluates it (lowest priority first):

* ``clean-traffic`` when anti-spoofing is on (MAC, IP and ARP spoofing dropped,
  only IPv4 and ARP at layer 2), and DHCP client traffic accepted (priority 90);
* established and related connections accepted both ways (priority 100);
* the user's rules in their order, first match wins (priority 200 + index);
* the defaults: outbound accepted (priority 890) while no rule accepts outbound
  traffic, then everything else dropped both ways (priority 900), so outbound is
  an allow-list (like a security group whose default egress rule was replaced)
  once a rule accepts outbound traffic.

libvirt's connection tracking lets the answers of an accepted connection through
in the other direction, so an ``in`` rule for TCP 22 is enough for SSH to work.
"""


import ipaddress
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.nwfilter import FilterRef, NwFilter, Rule

ANTI_SPOOFING_FILTER = 'clean-traffic'
# letters, digits and - _ . :, as the filters libvirt ships are named; nothing a message or a chain name chokes on
FILTER_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}')
DHCP_PRIORITY, ESTABLISHED_PRIORITY, FIRST_RULE_PRIORITY = 90, 100, 200
# libvirt drops both ways for a drop rule, so the open outbound default must come before the inbound drop
OUTBOUND_PRIORITY, DEFAULT_PRIORITY = 890, 900
MAX_RULES = OUTBOUND_PRIORITY - FIRST_RULE_PRIORITY
PROTOCOL_TAGS = {('tcp', 'ipv4'): 'tcp', ('udp', 'ipv4'): 'udp', ('icmp', 'ipv4'): 'icmp', ('all', 'ipv4'): 'all',
                 ('tcp', 'ipv6'): 'tcp-ipv6', ('udp', 'ipv6'): 'udp-ipv6', ('icmp', 'ipv6'): 'icmpv6',
                 ('all', 'ipv6'): 'all-ipv6'}
TAG_PROTOCOLS = dict((tag, key) for key, tag in PROTOCOL_TAGS.items())
# what libvirt ships; redefining one of these would change every guest that uses it
LIBVIRT_FILTERS = frozenset((
    'allow-arp', 'allow-dhcp', 'allow-dhcp-server', 'allow-dhcpv6', 'allow-dhcpv6-server', 'allow-incoming-ipv4',
    'allow-incoming-ipv6', 'allow-ipv4', 'allow-ipv6', 'clean-traffic', 'clean-traffic-gateway', 'no-arp-ip-spoofing',
    'no-arp-mac-spoofing', 'no-arp-spoofing', 'no-ip-multicast', 'no-ip-spoofing', 'no-ipv6-multicast',
    'no-ipv6-spoofing', 'no-mac-broadcast', 'no-mac-spoofing', 'no-other-l2-traffic', 'no-other-rarp-traffic',
    'qemu-announce-self', 'qemu-announce-self-rarp'))

RULE_OPTIONS = dict(
    direction=dict(type='str', default='in', choices=['in', 'out']),
    protocol=dict(type='str', default='all', choices=['tcp', 'udp', 'icmp', 'all']),
    port_range_min=dict(type='int'),
    port_range_max=dict(type='int'),
    remote_ip_prefix=dict(type='str'),
    ethertype=dict(type='str', default='ipv4', choices=['ipv4', 'ipv6']),
    action=dict(type='str', default='accept', choices=['accept', 'drop']),
)
NWFILTER_OPTIONS = dict(
    name=dict(type='str', required=True),
    rules=dict(type='list', elements='dict', default=[], options=RULE_OPTIONS),
    anti_spoofing=dict(type='bool', default=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)


def normal_rule(where, rule):
    """A rule checked and in the form ``rules_of`` reads back (ports both set or both None, prefix normalised)."""
    rule = dict((key, rule.get(key, spec.get('default'))) for key, spec in RULE_OPTIONS.items())
    low, high = rule['port_range_min'], rule['port_range_max']
    if low is not None or high is not None:
        if rule['protocol'] not in ('tcp', 'udp'):
            raise VirtopsError('%s: a port range needs protocol tcp or udp, not %s.' % (where, rule['protocol']))
        low = high if low is None else low
        high = low if high is None else high
        for port in (low, high):
            if not 1 <= port <= 65535:
                raise VirtopsError('%s: port %d is not from 1 to 65535.' % (where, port))
        if low > high:
            raise VirtopsError('%s: port_range_min %d is above port_range_max %d.' % (where, low, high))
    rule['port_range_min'], rule['port_range_max'] = low, high
    prefix = rule['remote_ip_prefix']
    if prefix is not None:
        try:
            network = ipaddress.ip_network(prefix, strict=True)
        except ValueError:
            raise VirtopsError('%s: remote_ip_prefix %r is not a CIDR like 10.0.0.0/24 (host bits must be zero).'
                               % (where, prefix)) from None
        family = 'ipv%d' % network.version
        if family != rule['ethertype']:
            raise VirtopsError('%s: remote_ip_prefix %s is %s, but ethertype is %s.'
                               % (where, prefix, family, rule['ethertype']))
        rule['remote_ip_prefix'] = str(network)
    return rule


def check_filter_name(name, where):
    if not isinstance(name, str) or not FILTER_NAME.fullmatch(name):
        raise VirtopsError("%s: the filter name %s is not 1-100 letters, digits, '-', '_', '.' or ':' starting with a "
                           "letter or digit." % (where, ascii(name)))


def normal_rules(name, rules):
    if len(rules or []) > MAX_RULES:
        raise VirtopsError("nwfilter '%s': at most %d rules fit, got %d." % (name, MAX_RULES, len(rules)))
    return [normal_rule("nwfilter '%s': rules[%d]" % (name, index), rule) for index, rule in enumerate(rules or [])]


def _match(rule):
    attrs = {}
    if rule['remote_ip_prefix']:
        network = ipaddress.ip_network(rule['remote_ip_prefix'])
        side = 'src' if rule['direction'] == 'in' else 'dst'
        attrs[side + 'ipaddr'] = str(network.network_address)
        attrs[side + 'ipmask'] = network.prefixlen
    if rule['port_range_min'] is not None:
        attrs['dstportstart'] = rule['port_range_min']
        if rule['port_range_max'] != rule['port_range_min']:
            attrs['dstportend'] = rule['port_range_max']
    return PROTOCOL_TAGS[(rule['protocol'], rule['ethertype'])], attrs


def compile_filter(name, rules, anti_spoofing, uuid=None):
    """The ``NwFilter`` of a security group (see the module docstring for its layout)."""
    nwfilter = NwFilter()
    nwfilter.name = name
    nwfilter.chain = 'root'
    nwfilter.uuid = uuid
    if anti_spoofing:
        nwfilter.add_filterref(FilterRef.build(ANTI_SPOOFING_FILTER))
        nwfilter.add_rule(Rule.build('accept', 'out', 'udp', dict(srcportstart=68, dstportstart=67), DHCP_PRIORITY))
        nwfilter.add_rule(Rule.build('accept', 'in', 'udp', dict(srcportstart=67, dstportstart=68), DHCP_PRIORITY))
    for family in ('all', 'all-ipv6'):
        for direction in ('in', 'out'):
            nwfilter.add_rule(Rule.build('accept', direction, family, dict(state='ESTABLISHED,RELATED'),
                                         ESTABLISHED_PRIORITY))
    for index, rule in enumerate(rules):
        protocol, attrs = _match(rule)
        nwfilter.add_rule(Rule.build(rule['action'], rule['direction'], protocol, attrs, FIRST_RULE_PRIORITY + index))
    open_outbound = not any(r['direction'] == 'out' and r['action'] == 'accept' for r in rules)
    for family in ('all', 'all-ipv6'):
        if open_outbound:
            nwfilter.add_rule(Rule.build('accept', 'out', family, None, OUTBOUND_PRIORITY))
        nwfilter.add_rule(Rule.build('drop', 'inout', family, None, DEFAULT_PRIORITY))
    return nwfilter


def rules_of(nwfilter):
    """(rules, anti_spoofing) of a filter this module compiled; other filters read as best they can."""
    rules = []
    for rule in nwfilter.rules:
        if rule.priority is None or not FIRST_RULE_PRIORITY <= rule.priority < OUTBOUND_PRIORITY:
            continue
        match = rule.match
        protocol, ethertype = TAG_PROTOCOLS.get(match.protocol if match is not None else 'all', (None, None))
        attrs = match.attributes if match is not None else {}
        side = 'src' if rule.direction == 'in' else 'dst'
        prefix = None
        if attrs.get(side + 'ipaddr'):
            prefix = '%s/%s' % (attrs[side + 'ipaddr'], attrs.get(side + 'ipmask', 32 if ethertype == 'ipv4' else 128))
        low = int(attrs['dstportstart']) if attrs.get('dstportstart') else None
        high = int(attrs['dstportend']) if attrs.get('dstportend') else low
        rules.append(dict(direction=rule.direction, protocol=protocol, port_range_min=low, port_range_max=high,
                          remote_ip_prefix=prefix, ethertype=ethertype, action=rule.action))
    anti_spoofing = any(ref.filter == ANTI_SPOOFING_FILTER for ref in nwfilter.filterrefs)
    return rules, anti_spoofing
