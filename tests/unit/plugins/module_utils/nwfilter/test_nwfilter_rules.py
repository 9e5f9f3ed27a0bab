"""Security-group rules: checks, the compiled filter's layout, and reading the rules back."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.nwfilter import NwFilter
from ansible_collections.virtops.compute.plugins.module_utils.nwfilter.rules import (
    compile_filter, normal_rules, rules_of,
)


@pytest.mark.parametrize('rule, text', [
    (dict(protocol='icmp', port_range_min=1), 'needs protocol tcp or udp, not icmp'),
    (dict(protocol='all', port_range_max=80), 'not all'),
    (dict(protocol='tcp', port_range_min=9, port_range_max=8), 'above port_range_max'),
    (dict(protocol='udp', port_range_min=0), 'port 0 is not from 1 to 65535'),
    (dict(remote_ip_prefix='10.0.0.1/8'), 'host bits must be zero'),
    (dict(remote_ip_prefix='nonsense'), "'nonsense' is not a CIDR"),
    (dict(remote_ip_prefix='fd00::/8', ethertype='ipv4'), 'is ipv6, but ethertype is ipv4'),
])
def test_bad_rules_are_one_sentence(rule, text):
    with pytest.raises(VirtopsError, match=r"^nwfilter 'sg': rules\[0\]: .*\.$") as err:
        normal_rules('sg', [rule])
    assert text in str(err.value)


def test_compiled_layout_and_read_back():
    rules = normal_rules('sg', [dict(protocol='tcp', port_range_min=22, remote_ip_prefix='10.77.0.0/16'),
                                dict(direction='out', protocol='udp', port_range_min=53, port_range_max=54),
                                dict(protocol='icmp', ethertype='ipv6', action='drop')])
    compiled = compile_filter('sg', rules, True)
    entries = [(e.tag, getattr(e, 'filter', None) or (e.action, e.direction, e.priority, e.protocol)) for e in compiled.entries]
    assert entries[0] == ('filterref', 'clean-traffic')
    assert ('rule', ('accept', 'in', 200, 'tcp')) in entries and ('rule', ('drop', 'in', 202, 'icmpv6')) in entries
    # an outbound accept rule turns outbound into an allow-list
    assert ('rule', ('drop', 'inout', 900, 'all')) in entries
    assert not [e for e in entries if e[0] == 'rule' and e[1][0] == 'accept' and e[1][2] == 890]
    tcp = compiled.rules[[r.priority for r in compiled.rules].index(200)].match.attributes
    assert tcp == {'srcipaddr': '10.77.0.0', 'srcipmask': '16', 'dstportstart': '22'}
    again = NwFilter.from_xml(compiled.to_xml())
    assert rules_of(again) == (rules, True)


def test_outbound_is_open_without_outbound_accept_rules():
    compiled = compile_filter('sg', normal_rules('sg', [dict(protocol='tcp', port_range_min=22)]), False)
    defaults = [(r.action, r.direction, r.priority) for r in compiled.rules if r.priority >= 890]
    assert defaults == [('accept', 'out', 890), ('drop', 'inout', 900)] * 2
    assert rules_of(compiled)[1] is False
