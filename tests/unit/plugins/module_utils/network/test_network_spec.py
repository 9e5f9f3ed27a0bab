"""network options: what is refused, the normal form both ways, and which changes a running network takes live."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.network import Network
from ansible_collections.virtops.compute.plugins.module_utils.network.converge import is_live_change, live_updates
from ansible_collections.virtops.compute.plugins.module_utils.network.spec import (
    build_network, check_overlaps, spec_of, validate, wanted_spec,
)

IP = dict(address='10.77.1.1', prefix=24, dhcp_range=dict(start='10.77.1.100', end='10.77.1.199'),
          hosts=[dict(mac='52:54:00:77:01:10', ip='10.77.1.10', name='web1')])


def params(**overrides):
    base = dict(name='n1', mode='nat', bridge=None, vlan=None, vlan_parent=None, portgroups=None,
                default_portgroup=None, ip=IP, routes=None, domain=None, mtu=None, state='present')
    base.update(overrides)
    return base


@pytest.mark.parametrize('overrides, text', [
    (dict(mode='ovs', bridge='br', ip=None, vlan=0), 'from 1 to 4094, got 0'),
    (dict(mode='ovs', bridge='br', ip=None, vlan=4095), 'got 4095'),
    (dict(mode='flat', bridge='br', ip=None, vlan=10), 'needs vlan_parent'),
    (dict(mode='flat', ip=None), 'mode flat needs bridge'),
    (dict(mode='flat', bridge='br'), 'ip is not possible with mode flat'),
    (dict(portgroups=[dict(name='a', vlan=10, default=False)]), 'needs mode ovs'),
    (dict(portgroups=[dict(name='a', vlan=None, default=False)], default_portgroup='b'), "default_portgroup 'b'"),
    (dict(portgroups=[dict(name='a', default=True), dict(name='b', default=True)]), 'only one portgroup'),
    (dict(ip=dict(IP, dhcp_range=dict(start='10.77.2.1', end='10.77.2.9'))), 'not inside the subnet'),
    (dict(ip=dict(IP, dhcp_range=dict(start='10.77.1.50', end='10.77.1.9'))), 'after its end'),
    (dict(ip=dict(IP, hosts=[dict(mac='52:54:00:77:01:10', ip='10.77.9.10')])), 'not a free host address'),
    (dict(ip=dict(IP, hosts=[dict(mac='52:54:00:77:01:10', ip='10.77.1.10'), dict(mac='52:54:00:77:01:10', ip='10.77.1.11')])),
     'as ip.hosts[0] does'),
    (dict(routes=[dict(address='10.77.1.0', prefix=25, gateway='10.77.1.2')]), "overlaps the network's own subnet"),
    (dict(mode='route', ip=None), 'mode route needs ip'),
])
def test_refused_in_one_sentence(overrides, text):
    with pytest.raises(VirtopsError, match=r"^network 'n1': .*\.$") as err:
        validate(params(**overrides))
    assert text in str(err.value)


def test_overlapping_subnets_name_the_other_network():
    subnet = validate(params())
    with pytest.raises(VirtopsError, match="overlaps 10.77.0.0/16 of network 'big'"):
        check_overlaps('n1', subnet, {'big': __import__('ipaddress').IPv4Network('10.77.0.0/16')})


def test_built_network_reads_back_as_the_same_spec():
    for extra in (dict(), dict(mode='route', routes=[dict(address='10.9.0.0', prefix=16, gateway='10.77.1.5')]),
                  dict(mode='ovs', bridge='br-int', ip=None, vlan=None,
                       portgroups=[dict(name='v10', vlan=10, default=True), dict(name='v20', vlan=20, default=False)])):
        wanted = wanted_spec(params(**extra))
        assert spec_of(Network.from_xml(build_network('n1', wanted).to_xml())) == wanted


def test_options_left_out_keep_what_libvirt_chose():
    current = spec_of(build_network('n1', dict(wanted_spec(params()), bridge='virbr7', mtu=1400)))
    assert wanted_spec(params(), current)['bridge'] == 'virbr7'
    assert wanted_spec(params(mode='isolated'), current)['bridge'] == 'virbr7'
    assert wanted_spec(params(mode='ovs', bridge='br', ip=None), current)['bridge'] == 'br'


def test_dhcp_and_portgroup_changes_are_live_and_others_are_not():
    current = wanted_spec(params())
    moved = wanted_spec(params(ip=dict(IP, dhcp_range=dict(start='10.77.1.120', end='10.77.1.130'), hosts=[
        dict(mac='52:54:00:77:01:10', ip='10.77.1.11', name='web1'), dict(mac='52:54:00:77:01:11', ip='10.77.1.12')]),
        portgroups=[dict(name='web', default=True)]))
    assert is_live_change(current, moved)
    ops = [(command, section) for command, section, _xml in live_updates(current, moved)]
    assert ops == [('DELETE', 'IP_DHCP_RANGE'), ('MODIFY', 'IP_DHCP_HOST'), ('ADD_LAST', 'IP_DHCP_HOST'),
                   ('ADD_LAST', 'IP_DHCP_RANGE'), ('ADD_LAST', 'PORTGROUP')]
    assert not is_live_change(current, wanted_spec(params(domain='lab.test')))
    assert not is_live_change(current, wanted_spec(params(ip=dict(IP, address='10.77.1.2'))))
