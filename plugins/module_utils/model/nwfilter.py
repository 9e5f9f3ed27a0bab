# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed view of a libvirt network filter (``<filter>``).

A filter is an ordered list of ``<filterref>`` and ``<rule>`` entries, so
new entries go at the end.  A rule matches on at most one protocol element
(``<tcp>``, ``<icmp>``, ``<all>``, ``<mac>``, ``<tcp-ipv6>`` ...), whose
attributes ``ProtocolMatch`` exposes both as a dict and by name.  Values may
be nwfilter variables (``$IP``), so port, mask and type numbers read as
integers only where the text is one.
"""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject, make_element
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Attr, Children, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import ParamDict
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import (
    INT, LOOSE_INT, TRUE_FALSE, YES_NO, ModelError, as_kind,
)

PROTOCOLS = ('mac', 'vlan', 'stp', 'arp', 'rarp', 'ip', 'ipv6', 'tcp', 'udp', 'sctp', 'icmp', 'igmp', 'all', 'esp', 'ah',
             'udplite', 'tcp-ipv6', 'udp-ipv6', 'sctp-ipv6', 'icmpv6', 'all-ipv6', 'esp-ipv6', 'ah-ipv6', 'udplite-ipv6')


class ProtocolMatch(XmlObject):
    """The protocol element of a rule; ``protocol`` is its tag."""

    TAG = None

    match = Attr('match', YES_NO)
    srcmacaddr = Attr('srcmacaddr')
    srcmacmask = Attr('srcmacmask')
    dstmacaddr = Attr('dstmacaddr')
    dstmacmask = Attr('dstmacmask')
    srcipaddr = Attr('srcipaddr')
    srcipmask = Attr('srcipmask', LOOSE_INT)
    dstipaddr = Attr('dstipaddr')
    dstipmask = Attr('dstipmask', LOOSE_INT)
    srcipfrom = Attr('srcipfrom')
    srcipto = Attr('srcipto')
    dstipfrom = Attr('dstipfrom')
    dstipto = Attr('dstipto')
    srcportstart = Attr('srcportstart', LOOSE_INT)
    srcportend = Attr('srcportend', LOOSE_INT)
    dstportstart = Attr('dstportstart', LOOSE_INT)
    dstportend = Attr('dstportend', LOOSE_INT)
    protocolid = Attr('protocolid')
    ip_protocol = Attr('protocol')
    state = Attr('state')
    flags = Attr('flags')
    icmp_type = Attr('type', LOOSE_INT)
    icmp_code = Attr('code', LOOSE_INT)
    dscp = Attr('dscp', LOOSE_INT)
    connlimit_above = Attr('connlimit-above', LOOSE_INT)
    ipset = Attr('ipset')
    ipsetflags = Attr('ipsetflags')
    comment = Attr('comment')

    @property
    def protocol(self):
        return self.element.tag

    @property
    def attributes(self):
        """Every attribute as written ({name: text})."""
        return dict(self.element.attrib)

    @attributes.setter
    def attributes(self, values):
        self.element.attrib.clear()
        for key, value in (values or {}).items():
            if value is not None:
                self.element.set(key, as_kind(str).format(value))


class Rule(XmlObject):
    TAG = 'rule'

    action = Attr('action')
    direction = Attr('direction')
    priority = Attr('priority', INT)
    statematch = Attr('statematch', TRUE_FALSE)

    @classmethod
    def build(cls, action, direction, protocol=None, attributes=None, priority=None, statematch=None):
        """A new rule; ``attributes`` are those of its ``protocol`` element."""
        rule = cls()
        rule.action = action
        rule.direction = direction
        rule.priority = priority
        rule.statematch = statematch
        if protocol is not None:
            rule.set_match(protocol, attributes)
        elif attributes:
            raise ModelError('rule attributes %s need a protocol' % ', '.join(sorted(attributes)))
        return rule

    def _match_element(self):
        for child in self.element:
            if isinstance(child.tag, str):
                return child
        return None

    @property
    def match(self):
        """The ``ProtocolMatch`` of this rule, or None for a rule that matches everything."""
        node = self._match_element()
        return None if node is None else ProtocolMatch(node)

    @property
    def protocol(self):
        node = self._match_element()
        return None if node is None else node.tag

    def set_match(self, protocol, attributes=None):
        """Replace what the rule matches with a ``protocol`` element carrying ``attributes``."""
        if protocol not in PROTOCOLS:
            raise ModelError('%s: unknown nwfilter protocol %r' % (self.location(), protocol))
        self.clear_match()
        match = ProtocolMatch(make_element(protocol))
        match.attributes = attributes
        self.element.append(match.element)
        return match

    def clear_match(self):
        for child in list(self.element):
            if isinstance(child.tag, str):
                self.element.remove(child)


class FilterRef(XmlObject):
    TAG = 'filterref'

    filter = Attr('filter')
    parameters = ParamDict('.')

    @classmethod
    def build(cls, name, parameters=None):
        ref = cls()
        ref.filter = name
        ref.parameters = parameters
        return ref


class NwFilter(XmlObject):
    TAG = 'filter'
    ORDER = {'': ('uuid',)}

    name = Attr('name')
    chain = Attr('chain')
    priority = Attr('priority', INT)
    uuid = Text('uuid')
    filterrefs = Children('filterref', FilterRef, group=False)
    rules = Children('rule', Rule, group=False)

    @property
    def entries(self):
        """Rules and filter references, typed, in the order libvirt evaluates them."""
        views = {'rule': Rule, 'filterref': FilterRef}
        return [views[node.tag](node) for node in self.element if node.tag in views]

    def add_rule(self, rule):
        return self.add_child('rule', rule, group=False)

    def remove_rule(self, rule):
        return self.remove_child(rule, 'rule')

    def add_filterref(self, ref):
        return self.add_child('filterref', ref, group=False)

    def remove_filterref(self, ref):
        return self.remove_child(ref, 'filterref')
