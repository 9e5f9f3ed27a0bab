"""Network filters: ordered rules and references, protocol matches, valid XML, libvirt's own filters, a real define."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.nwfilter import FilterRef, NwFilter, ProtocolMatch, Rule

# libvirt's clean-traffic and no-ip-spoofing as nwfilter-dumpxml prints them
CLEAN_TRAFFIC = """<filter name='clean-traffic' chain='root'>
  <uuid>8160cf5c-0a74-42cd-9756-aa2fe7279a05</uuid>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <rule action='accept' direction='out' priority='-650'>
    <mac protocolid='ipv4'/>
  </rule>
  <filterref filter='allow-incoming-ipv4'/>
  <filterref filter='no-arp-spoofing'/>
  <rule action='accept' direction='inout' priority='-500'>
    <mac protocolid='arp'/>
  </rule>
  <filterref filter='no-other-l2-traffic'/>
  <filterref filter='qemu-announce-self'/>
</filter>"""

NO_IP_SPOOFING = """<filter name='no-ip-spoofing' chain='ipv4-ip' priority='-710'>
  <uuid>c486455c-6587-4f75-8996-ed51c131aa16</uuid>
  <rule action='return' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' protocol='udp'/>
  </rule>
  <rule action='return' direction='out' priority='500'>
    <ip srcipaddr='$IP'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>"""

SECURITY_GROUP = """<filter name='virtops-sg-web' chain='root' priority='-500'>
  <uuid>6f2b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d</uuid>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='10.0.0.5'/>
    <parameter name='IP' value='10.0.0.6'/>
  </filterref>
  <rule action='accept' direction='in' priority='500' statematch='false'>
    <tcp srcipaddr='10.0.0.0' srcipmask='8' dstportstart='22' dstportend='22' state='NEW,ESTABLISHED' comment='ssh'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <icmp srcipaddr='0.0.0.0' srcipmask='0' type='8' code='0'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <udp-ipv6 srcipaddr='fd00::' srcipmask='8' dstportstart='$DNSPORT'/>
  </rule>
  <rule action='accept' direction='out' priority='500'>
    <all-ipv6/>
  </rule>
  <rule action='accept' direction='inout' priority='-100'>
    <tcp srcipaddr='192.168.1.0' srcipmask='255.255.255.0' connlimit-above='10'/>
  </rule>
  <rule action='drop' direction='in' priority='1000'>
    <all/>
  </rule>
</filter>"""


@pytest.mark.parametrize('text', [CLEAN_TRAFFIC, NO_IP_SPOOFING, SECURITY_GROUP], ids=['clean-traffic', 'no-ip-spoofing', 'sg'])
def test_round_trip_is_lossless(lossless, text):
    lossless(NwFilter, text)


def test_reads_filters_and_order():
    flt = NwFilter.from_xml(CLEAN_TRAFFIC)
    assert (flt.name, flt.chain, flt.priority, flt.uuid) == ('clean-traffic', 'root', None, '8160cf5c-0a74-42cd-9756-aa2fe7279a05')
    assert [ref.filter for ref in flt.filterrefs] == ['no-mac-spoofing', 'no-ip-spoofing', 'allow-incoming-ipv4',
                                                      'no-arp-spoofing', 'no-other-l2-traffic', 'qemu-announce-self']
    assert [type(e).__name__ for e in flt.entries] == ['FilterRef', 'FilterRef', 'Rule', 'FilterRef', 'FilterRef', 'Rule',
                                                       'FilterRef', 'FilterRef']
    assert [(r.protocol, r.match.protocolid) for r in flt.rules] == [('mac', 'ipv4'), ('mac', 'arp')]
    spoof = NwFilter.from_xml(NO_IP_SPOOFING)
    assert spoof.priority == -710
    first, second, last = list(spoof.rules)
    assert (first.match.srcipaddr, first.match.ip_protocol) == ('0.0.0.0', 'udp')
    assert second.match.srcipaddr == '$IP'
    assert (last.action, last.priority, last.match, last.protocol) == ('drop', 1000, None, None)


def test_reads_protocol_attributes():
    sg = NwFilter.from_xml(SECURITY_GROUP)
    assert sg.filterrefs[0].parameters == {'IP': ['10.0.0.5', '10.0.0.6']}
    ssh, icmp, dns, out, limit, drop = list(sg.rules)
    assert (ssh.action, ssh.direction, ssh.priority, ssh.statematch) == ('accept', 'in', 500, False)
    match = ssh.match
    assert isinstance(match, ProtocolMatch) and match.protocol == 'tcp'
    assert (match.srcipaddr, match.srcipmask, match.dstportstart, match.dstportend, match.state, match.comment) == (
        '10.0.0.0', 8, 22, 22, 'NEW,ESTABLISHED', 'ssh')
    assert match.attributes == {'srcipaddr': '10.0.0.0', 'srcipmask': '8', 'dstportstart': '22', 'dstportend': '22',
                                'state': 'NEW,ESTABLISHED', 'comment': 'ssh'}
    assert (icmp.match.icmp_type, icmp.match.icmp_code, icmp.match.srcipmask) == (8, 0, 0)
    assert (dns.protocol, dns.match.dstportstart, dns.match.srcportstart) == ('udp-ipv6', '$DNSPORT', None)
    assert out.protocol == 'all-ipv6' and out.match.attributes == {}
    assert (limit.match.srcipmask, limit.match.connlimit_above) == ('255.255.255.0', 10)
    assert (drop.protocol, drop.direction) == ('all', 'in')


def test_build_and_edit_rules():
    rule = Rule.build('accept', 'in', 'tcp', {'dstportstart': 80, 'dstportend': 443, 'srcipaddr': '0.0.0.0', 'srcipmask': 0},
                      priority=400)
    assert rule.to_xml(pretty=False) == ('<rule action="accept" direction="in" priority="400">'
                                         '<tcp dstportstart="80" dstportend="443" srcipaddr="0.0.0.0" srcipmask="0"/></rule>')
    rule.match.dstportend = None
    rule.match.state = 'NEW'
    assert rule.match.attributes == {'dstportstart': '80', 'srcipaddr': '0.0.0.0', 'srcipmask': '0', 'state': 'NEW'}
    rule.set_match('udp', {'dstportstart': 53})
    assert rule.protocol == 'udp' and len(rule.element) == 1
    rule.match.attributes = {'dstportstart': 5353, 'srcipaddr': None}
    assert rule.match.attributes == {'dstportstart': '5353'}
    rule.clear_match()
    assert rule.match is None
    with pytest.raises(ModelError, match='unknown nwfilter protocol'):
        rule.set_match('carrier-pigeon')
    with pytest.raises(ModelError, match='need a protocol'):
        Rule.build('drop', 'in', attributes={'srcipaddr': '1.2.3.4'})
    with pytest.raises(ModelError):
        rule.priority = 'high'


def test_entries_are_appended_in_order():
    flt = NwFilter()
    flt.name = 'virtops-sg'
    flt.add_rule(Rule.build('accept', 'in', 'icmp'))
    flt.add_filterref(FilterRef.build('clean-traffic', {'IP': '10.0.0.5'}))
    flt.add_rule(Rule.build('drop', 'in', 'all'))
    flt.uuid = '6f2b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d'
    assert [c.tag for c in flt.element] == ['uuid', 'rule', 'filterref', 'rule']
    assert flt.remove_rule(Rule.build('drop', 'in', 'all')) is True
    assert flt.remove_filterref(flt.filterrefs[0]) is True
    assert flt.remove_rule(Rule.build('drop', 'in', 'all')) is False
    assert [c.tag for c in flt.element] == ['uuid', 'rule']
    flt.rules = []
    assert flt.entries == []


def build_security_group(name):
    flt = NwFilter()
    flt.name = name
    flt.chain = 'root'
    flt.add_filterref(FilterRef.build('clean-traffic', {'IP': ['10.0.0.5', '10.0.0.6']}))
    flt.add_rule(Rule.build('accept', 'in', 'tcp', {'srcipaddr': '10.0.0.0', 'srcipmask': 8, 'dstportstart': 22, 'dstportend': 22},
                            priority=500))
    flt.add_rule(Rule.build('accept', 'in', 'icmp', {'type': 8}, priority=500))
    flt.add_rule(Rule.build('accept', 'in', 'tcp-ipv6', {'dstportstart': 443}, priority=500))
    flt.add_rule(Rule.build('accept', 'out', 'all', priority=500, statematch=False))
    flt.add_rule(Rule.build('drop', 'in', 'all', priority=1000))
    return flt


def test_built_filter_validates(validate_xml):
    validate_xml(build_security_group('virtops-model-sg'), 'nwfilter')


def test_libvirt_keeps_what_the_model_built(conn, unique_name, lossless):
    flt = conn.nwfilterDefineXML(build_security_group(unique_name).to_xml())
    try:
        read = lossless(NwFilter, flt.XMLDesc(0))
        assert (read.name, read.uuid, read.chain) == (unique_name, flt.UUIDString(), 'root')
        assert [type(e).__name__ for e in read.entries] == ['FilterRef', 'Rule', 'Rule', 'Rule', 'Rule', 'Rule']
        assert read.filterrefs[0].parameters == {'IP': ['10.0.0.5', '10.0.0.6']}
        assert [(r.protocol, r.priority) for r in read.rules] == [('tcp', 500), ('icmp', 500), ('tcp-ipv6', 500), ('all', 500),
                                                                  ('all', 1000)]
        assert (read.rules[0].match.srcipmask, read.rules[0].match.dstportstart) == (8, 22)
        assert read.rules[3].statematch is False
    finally:
        flt.undefine()


def test_libvirt_builtin_filters_round_trip(conn, lossless):
    names = conn.listNWFilters()
    # libvirt's nwfilter driver ships them; the collection's anti-spoofing builds on clean-traffic
    assert 'clean-traffic' in names, 'libvirt has no clean-traffic filter: is its nwfilter driver installed?'
    for name in names:
        lossless(NwFilter, conn.nwfilterLookupByName(name).XMLDesc(0))
