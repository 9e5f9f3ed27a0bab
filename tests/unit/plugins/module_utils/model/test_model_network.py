"""Network: libvirt's XML round trips, typed reads, valid networks built from scratch, a real define."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.network import (
    Network, NetworkIp, NetworkRoute, PortGroup, netmask_to_prefix,
)

# libvirt's default network as net-dumpxml prints it while it runs
DEFAULT_NET = """<network connections='2'>
  <name>default</name>
  <uuid>3cabff61-51bb-458e-a581-98256f946b1e</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:45:d1:a8'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'>
        <lease expiry='1' unit='hours'/>
      </range>
      <host mac='52:54:00:aa:bb:cc' name='web1' ip='192.168.122.10'/>
    </dhcp>
  </ip>
</network>"""

ROUTED_NET = """<network ipv6='yes'>
  <name>tenant-routed</name>
  <uuid>7c5a0b2e-7c2b-4b44-9f3e-2a4f9c6e1d10</uuid>
  <forward mode='route' dev='eth1'>
    <interface dev='eth1'/>
  </forward>
  <bridge name='vops-rt0' stp='off' delay='2'/>
  <mtu size='9000'/>
  <domain name='tenant.example' localOnly='yes'/>
  <dns enable='yes'>
    <forwarder addr='1.1.1.1'/>
  </dns>
  <ip address='10.20.0.1' prefix='24'>
    <dhcp>
      <range start='10.20.0.100' end='10.20.0.199'/>
      <range start='10.20.0.210' end='10.20.0.220'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00:20::1' prefix='64'/>
  <route address='10.30.0.0' prefix='16' gateway='10.20.0.254'/>
  <route family='ipv6' address='fd00:30::' prefix='64' gateway='fd00:20::fe' metric='2'/>
</network>"""

OVS_NET = """<network>
  <name>ovs-net</name>
  <uuid>d4a0f0e2-4c40-4a3c-8f55-7a2e9b1c0d11</uuid>
  <forward mode='bridge'/>
  <bridge name='vopsbr0'/>
  <virtualport type='openvswitch'/>
  <vlan>
    <tag id='10'/>
  </vlan>
  <portgroup name='vlan-20' default='yes'>
    <vlan>
      <tag id='20'/>
    </vlan>
  </portgroup>
  <portgroup name='trunk'>
    <virtualport>
      <parameters profileid='trunk-profile'/>
    </virtualport>
    <vlan trunk='yes'>
      <tag id='20' nativeMode='untagged'/>
      <tag id='30'/>
    </vlan>
  </portgroup>
</network>"""


@pytest.mark.parametrize('text', [DEFAULT_NET, ROUTED_NET, OVS_NET], ids=['default', 'routed', 'ovs'])
def test_round_trip_is_lossless(lossless, text):
    lossless(Network, text)


def test_reads_nat_network():
    net = Network.from_xml(DEFAULT_NET)
    assert (net.name, net.uuid, net.connections, net.forward_mode, net.forward_dev) == (
        'default', '3cabff61-51bb-458e-a581-98256f946b1e', 2, 'nat', None)
    assert (net.nat_port_start, net.nat_port_end) == (1024, 65535)
    assert (net.bridge_name, net.bridge_stp, net.bridge_delay, net.mac_address) == ('virbr0', True, 0, '52:54:00:45:d1:a8')
    ip = net.ips[0]
    assert (ip.address, ip.netmask, ip.prefix, ip.prefix_length, ip.family) == ('192.168.122.1', '255.255.255.0', None, 24, None)
    assert ip.dhcp_ranges == [{'start': '192.168.122.2', 'end': '192.168.122.254'}]
    assert ip.dhcp_hosts == [{'mac': '52:54:00:aa:bb:cc', 'ip': '192.168.122.10', 'name': 'web1', 'id': None}]
    assert net.routes == [] and net.portgroups == [] and net.vlan_tags == []


def test_reads_routed_and_ovs_networks():
    net = Network.from_xml(ROUTED_NET)
    assert (net.ipv6, net.forward_mode, net.forward_dev, net.forward_interfaces) == (True, 'route', 'eth1', ['eth1'])
    assert (net.bridge_stp, net.bridge_delay, net.mtu, net.domain_name, net.domain_local_only) == (False, 2, 9000, 'tenant.example', True)
    assert [(ip.family, ip.address, ip.prefix_length) for ip in net.ips] == [(None, '10.20.0.1', 24), ('ipv6', 'fd00:20::1', 64)]
    assert len(net.ips[0].dhcp_ranges) == 2 and net.ips[1].dhcp_ranges == []
    assert [(r.family, r.address, r.prefix, r.gateway, r.metric) for r in net.routes] == [
        (None, '10.30.0.0', 16, '10.20.0.254', None), ('ipv6', 'fd00:30::', 64, 'fd00:20::fe', 2)]
    ovs = Network.from_xml(OVS_NET)
    assert (ovs.virtualport_type, ovs.vlan_tags, ovs.vlan_trunk) == ('openvswitch', [{'id': 10, 'native_mode': None}], None)
    default, trunk = ovs.portgroups
    assert (default.name, default.default, default.vlan_tags) == ('vlan-20', True, [{'id': 20, 'native_mode': None}])
    assert (trunk.default, trunk.vlan_trunk, trunk.virtualport_parameters) == (None, True, {'profileid': 'trunk-profile'})
    assert ovs.find_portgroup('trunk') == trunk and ovs.find_portgroup('nope') is None


def test_netmask_to_prefix():
    assert [netmask_to_prefix(m) for m in ('255.255.255.0', '255.255.0.0', '0.0.0.0', '255.255.255.255')] == [24, 16, 0, 32]
    for bad in ('255.0.255.0', '255.255.255', '300.0.0.0', 'mask', None):
        with pytest.raises(ModelError):
            netmask_to_prefix(bad)


def test_setters_and_children():
    net = Network.from_xml(DEFAULT_NET)
    ip = net.ips[0]
    ip.dhcp_hosts = [{'mac': '52:54:00:aa:bb:cc', 'ip': '192.168.122.10', 'name': 'web1'}, {'mac': '52:54:00:aa:bb:dd', 'ip': '192.168.122.11'}]
    assert [c.tag for c in net.find('ip/dhcp')] == ['range', 'host', 'host']
    ip.dhcp_ranges = []
    ip.dhcp_hosts = None
    assert net.find('ip/dhcp') is None
    assert net.find('ip').attrib == {'address': '192.168.122.1', 'netmask': '255.255.255.0'}
    route = NetworkRoute()
    route.address = '10.40.0.0'
    route.prefix = 16
    route.gateway = '192.168.122.254'
    net.add_route(route)
    assert [c.tag for c in net.element][-2:] == ['ip', 'route']
    assert net.remove_route(NetworkRoute.from_xml(route.to_xml())) is True and net.routes == []
    assert net.remove_ip(net.ips[0]) is True and net.ips == []
    group = PortGroup()
    group.name = 'g'
    net.add_portgroup(group)
    assert net.remove_portgroup(group) is True
    net.bridge_stp = None
    net.bridge_delay = None
    assert net.find('bridge').attrib == {'name': 'virbr0'}
    net.forward_mode = None
    assert net.find('forward/nat/port') is not None
    net.nat_port_start = None
    net.nat_port_end = None
    assert net.find('forward') is None             # emptied, so gone with its <nat>


def build_nat_network(name):
    net = Network()
    net.name = name
    net.forward_mode = 'nat'
    net.bridge_name = 'vops%s' % name[-6:]
    net.bridge_stp = True
    net.bridge_delay = 0
    net.mtu = 1500
    net.domain_name = 'virtops.test'
    ip = NetworkIp()
    ip.address = '10.213.7.1'
    ip.prefix = 24
    ip.dhcp_ranges = [{'start': '10.213.7.100', 'end': '10.213.7.199'}]
    ip.dhcp_hosts = [{'mac': '52:54:00:01:02:03', 'ip': '10.213.7.10', 'name': 'web1'}]
    net.add_ip(ip)
    route = NetworkRoute()
    route.address = '10.214.0.0'
    route.prefix = 16
    route.gateway = '10.213.7.254'
    net.add_route(route)
    return net


def build_ovs_network(name):
    net = Network()
    net.name = name
    net.forward_mode = 'bridge'
    net.bridge_name = 'vopsbr0'
    net.virtualport_type = 'openvswitch'
    for group_name, tags, default in (('vlan-20', [{'id': 20}], True), ('trunk', [{'id': 20, 'native_mode': 'untagged'}, {'id': 30}], None)):
        group = PortGroup()
        group.name = group_name
        group.default = default
        group.vlan_tags = tags
        group.vlan_trunk = True if len(tags) > 1 else None
        net.add_portgroup(group)
    return net


@pytest.mark.parametrize('builder', [build_nat_network, build_ovs_network])
def test_built_networks_validate(validate_xml, builder):
    validate_xml(builder('virtops-model-net'), 'network')


def test_libvirt_keeps_what_the_model_built(conn, unique_name, lossless):
    net = conn.networkDefineXML(build_nat_network(unique_name).to_xml())
    try:
        read = lossless(Network, net.XMLDesc(0))
        assert (read.name, read.uuid, read.forward_mode, read.bridge_stp, read.mtu) == (unique_name, net.UUIDString(), 'nat', True, 1500)
        ip = read.ips[0]
        assert (ip.address, ip.prefix_length, ip.dhcp_ranges, ip.dhcp_hosts[0]['name']) == (
            '10.213.7.1', 24, [{'start': '10.213.7.100', 'end': '10.213.7.199'}], 'web1')
        assert [(r.address, r.prefix, r.gateway) for r in read.routes] == [('10.214.0.0', 16, '10.213.7.254')]
        assert read.mac_address is not None                 # libvirt adds one
    finally:
        net.undefine()


SHIPPED_DEFAULT_NETWORK = '/usr/share/libvirt/networks/default.xml'     # Debian's libvirt-daemon-config-network


def test_libvirt_default_network_round_trips(conn, lossless):
    """libvirt's own default network: as this host defines it, or as libvirt ships it where it is not defined."""
    if 'default' in conn.listDefinedNetworks() + conn.listNetworks():
        xml = conn.networkLookupByName('default').XMLDesc(0)
    else:
        with open(SHIPPED_DEFAULT_NETWORK) as handle:
            xml = handle.read()
    read = lossless(Network, xml)
    assert read.name == 'default' and read.ips
