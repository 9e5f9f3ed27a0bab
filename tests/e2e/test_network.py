"""network: NAT with fixed DHCP hosts changed live, routing, flat bridging, VLANs on Open vSwitch and on a Linux
bridge (where the kernel has 802.1Q), bad input."""
import time

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.netguests import NetGuest, host_ping, ip_cmd
from lab.runner import run_module

NAT = dict(name='vops-nat', mode='nat', bridge='vopsnat0', ip=dict(
    address='10.77.10.1', prefix=24, dhcp_range=dict(start='10.77.10.100', end='10.77.10.150'),
    hosts=[dict(mac='52:54:00:77:10:0a', ip='10.77.10.10', name='neta')]))
MAC_A, MAC_B = '52:54:00:77:10:0a', '52:54:00:77:10:0b'


def _network(**params):
    result = run_module('network', **params)
    assert not result.failed, result.msg
    return result


@pytest.fixture(scope='module')
def nat_net(libvirt_conn):
    run_module('network', name=NAT['name'], state='absent')
    created = _network(**NAT)
    assert created.changed and created['network']['state'] == 'active'
    yield created
    run_module('network', name=NAT['name'], state='absent')


@pytest.fixture
def guests(libvirt_conn, tiny_image):
    made = []

    def boot(name, port, nics):
        guest = NetGuest(name, port, nics, tiny_image).boot()
        made.append(guest)
        return guest

    yield boot
    for guest in made:
        guest.remove()


def _dhcp_address(guest, prefix, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [ip for ip in guest.ipv4() if ip.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(2)
    return None


def test_nat_guests_reach_each_other_and_a_fixed_host_gets_its_address(nat_net, guests, libvirt_conn):
    a = guests('lab-neta', 4570, [dict(network='vops-nat', mac=MAC_A)])
    b = guests('lab-netb', 4571, [dict(network='vops-nat', mac=MAC_B)])
    assert _dhcp_address(a, '10.77.10.') == '10.77.10.10'
    b_ip = _dhcp_address(b, '10.77.10.')
    assert b_ip and 100 <= int(b_ip.rsplit('.', 1)[1]) <= 150, b_ip
    assert a.ping_eventually(b_ip) and b.ping_eventually('10.77.10.10')

    net = libvirt_conn.networkLookupByName('vops-nat')
    # a restart would make the bridge anew (libvirt does restart dnsmasq itself for a new DHCP range)
    bridge_index = open('/sys/class/net/vopsnat0/ifindex').read()
    new_ip = dict(NAT['ip'], dhcp_range=dict(start='10.77.10.120', end='10.77.10.160'),
                  hosts=[dict(mac=MAC_A, ip='10.77.10.20', name='neta')])
    moved = NAT | {'ip': new_ip}
    changed = run_module('network', diff=True, **moved)
    assert not changed.failed and changed.changed and changed['changes'] == ['ip'], changed.msg
    assert all(action == 'redefined' or action.endswith(' live') for action in changed['actions']), changed['actions']
    assert changed['diff']['before']['ip']['hosts'][0]['ip'] == '10.77.10.10'
    assert changed['diff']['after']['ip']['hosts'][0]['ip'] == '10.77.10.20'
    for flags in (0, 1):    # live and persistent (VIR_NETWORK_XML_INACTIVE) definitions
        xml = net.XMLDesc(flags)
        assert "ip='10.77.10.20'" in xml and "start='10.77.10.120'" in xml, xml
    assert open('/sys/class/net/vopsnat0/ifindex').read() == bridge_index, 'the network was restarted'
    a.sh('killall udhcpc; ip addr flush dev eth0; udhcpc -i eth0 -q -n -t 5 -T 2 -s /etc/udhcpc.script', timeout=60)
    assert _dhcp_address(a, '10.77.10.') == '10.77.10.20'
    assert a.ping_eventually(b_ip), 'guests lost their link during a live DHCP change'
    again = run_module('network', **moved)
    assert not again.failed and not again.changed, again.get('changes')


def test_check_mode_idempotence_and_diff(nat_net, libvirt_conn):
    _network(**NAT)
    again = run_module('network', **NAT)
    assert not again.failed and not again.changed, again.get('changes')
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('network', check=True, diff=True, **dict(NAT, portgroups=[dict(name='web', default=True)],
                                                                  domain='lab.test', allow_restart=True))
    assert not checked.failed and checked.changed and set(checked['changes']) == {'portgroups', 'domain'}
    assert checked['diff']['after']['portgroups'] == [dict(name='web', vlan=None, default=True)]
    new = run_module('network', check=True, name='vops-new', mode='isolated', ip=dict(address='10.77.19.1', prefix=24))
    assert not new.failed and new.changed and new['actions'][:2] == ['defined', 'started']
    assert libvirt_snapshot(libvirt_conn) == before


def test_a_change_that_needs_a_restart_is_refused_without_allow_restart(nat_net, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('network', **dict(NAT, domain='lab.test'))
    assert refused.failed
    assert_one_sentence(refused.msg, "network 'vops-nat'", 'domain', 'allow_restart')
    assert libvirt_snapshot(libvirt_conn) == before


BAD = [
    (dict(name='vops-bad', mode='ovs', bridge='vopsbr0', vlan=0), 'vlan must be a VLAN id from 1 to 4094, got 0'),
    (dict(name='vops-bad', mode='ovs', bridge='vopsbr0', portgroups=[dict(name='p', vlan=4095)]), 'got 4095'),
    (dict(name='vops-bad', mode='nat', ip=dict(address='10.77.18.1', prefix=24,
                                               dhcp_range=dict(start='10.77.18.100', end='10.77.19.10'))),
     'is not inside the subnet 10.77.18.0/24'),
    (dict(name='vops-bad', mode='nat', ip=dict(address='10.77.18.1', prefix=24,
                                               dhcp_range=dict(start='10.77.18.1', end='10.77.18.10'))),
     "overlaps the network's own address"),
    (dict(name='vops-bad', mode='nat', ip=dict(address='10.77.18.1', prefix=24, hosts=[dict(mac=MAC_A, ip='10.77.5.5')])),
     'is not a free host address of the subnet'),
    (dict(name='vops-bad', mode='ovs', bridge='vopsbr0', portgroups=[dict(name='vlan10', vlan=10)],
          default_portgroup='vlan30'), "default_portgroup 'vlan30' is not among the portgroups"),
    (dict(name='vops-bad', mode='nat', ip=dict(address='10.77.10.200', prefix=25)), "overlaps 10.77.10.0/24 of network 'vops-nat'"),
    (dict(name='vops-bad', mode='route', ip=dict(address='10.77.18.1', prefix=24),
          routes=[dict(address='10.77.200.0', prefix=24, gateway='10.77.17.1')]), 'gateway 10.77.17.1 is not inside'),
]


@pytest.mark.parametrize('params, text', BAD, ids=[b[1][:30] for b in BAD])
def test_bad_input_is_one_sentence_and_changes_nothing(nat_net, libvirt_conn, params, text):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('network', **params)
    assert result.failed
    assert_one_sentence(result.msg, "network 'vops-bad'", text)
    assert libvirt_snapshot(libvirt_conn) == before


PROBE_NS, PEER_NS = 'vops-8021q-probe', 'vops-vlan-peer'
TRUNK, TRUNK_PEER = 'vopsvlt0', 'vopsvlt1'      # a veth pair of the test's own: the VLAN trunk and its far end


def kernel_has_8021q():
    """Can this kernel make a VLAN sub-interface? Tried on a veth link in a throwaway network namespace (the kernel
    loads 8021q on demand, as the module's modprobe would; a veth pair, which the lab needs anyway, rather than a
    dummy link, which a kernel may lack)."""
    ip_cmd('netns', 'del', PROBE_NS, check=False)
    ip_cmd('netns', 'add', PROBE_NS)
    try:
        ip_cmd('-n', PROBE_NS, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1')
        return ip_cmd('-n', PROBE_NS, 'link', 'add', 'link', 'probe0', 'name', 'probe0.5', 'type', 'vlan', 'id', '5',
                      check=False).returncode == 0
    finally:
        ip_cmd('netns', 'del', PROBE_NS, check=False)


@pytest.fixture
def trunk():
    """TRUNK on the host, its peer in a namespace of its own holding a VLAN 10 and a VLAN 20 sub-interface when the
    kernel can make them (10.77.16.1 and 10.77.16.2: only tagged frames reach them)."""
    ip_cmd('link', 'del', TRUNK, check=False)
    ip_cmd('netns', 'del', PEER_NS, check=False)
    ip_cmd('netns', 'add', PEER_NS)
    ip_cmd('link', 'add', TRUNK, 'type', 'veth', 'peer', 'name', TRUNK_PEER, 'netns', PEER_NS)
    ip_cmd('link', 'set', TRUNK, 'up')
    ip_cmd('-n', PEER_NS, 'link', 'set', TRUNK_PEER, 'up')
    yield TRUNK
    for link in (TRUNK, 'vopsbrv10', TRUNK + '.10'):
        ip_cmd('link', 'del', link, check=False)
    ip_cmd('netns', 'del', PEER_NS, check=False)


def _peer_vlan(vlan, address):
    sub = '%s.%d' % (TRUNK_PEER, vlan)
    ip_cmd('-n', PEER_NS, 'link', 'add', 'link', TRUNK_PEER, 'name', sub, 'type', 'vlan', 'id', str(vlan))
    ip_cmd('-n', PEER_NS, 'addr', 'add', address + '/24', 'dev', sub)
    ip_cmd('-n', PEER_NS, 'link', 'set', sub, 'up')


def test_linux_bridge_vlan_where_the_kernel_has_8021q_else_one_clear_sentence(libvirt_conn, trunk, guests):
    """The path this machine can prove, found by probing: with 802.1Q, a guest on the VLAN bridge reaches a peer on
    the same VLAN across the trunk and not one on another VLAN; without it, one sentence and nothing changed.
    (The other path's logic is unit-tested in tests/unit/plugins/module_utils/network/test_network_linux_vlan.py.)"""
    params = dict(name='vops-lbvlan', mode='flat', bridge='vopsbrv10', vlan=10, vlan_parent=trunk)
    run_module('network', name='vops-lbvlan', state='absent')
    if not kernel_has_8021q():
        before = libvirt_snapshot(libvirt_conn)
        result = run_module('network', **params)
        assert result.failed
        assert_one_sentence(result.msg, "network 'vops-lbvlan'", '802.1Q', trunk + '.10', 'mode ovs')
        assert libvirt_snapshot(libvirt_conn) == before
        assert ip_cmd('link', 'show', 'vopsbrv10', check=False).returncode != 0
        return
    _peer_vlan(10, '10.77.16.1')
    _peer_vlan(20, '10.77.16.2')
    try:
        created = _network(**params)
        assert created.changed and not run_module('network', **params).changed
        assert 'vopsbrv10' in ip_cmd('link', 'show', trunk + '.10').stdout, 'the sub-interface is not in the bridge'
        guest = guests('lab-netlv', 4578, [dict(network='vops-lbvlan')])
        guest.static('10.77.16.10/24')
        assert guest.ping_eventually('10.77.16.1'), 'the guest does not reach VLAN 10 across the trunk'
        # 10.77.16.1 is only on the peer's VLAN 10 sub-interface, so the guest's frames left tagged 10; the same
        # subnet on VLAN 20 (10.77.16.2, up on the peer's VLAN 20 sub-interface) stays out of its reach
        assert not guest.ping_eventually('10.77.16.2', tries=2), 'the guest reaches VLAN 20'
    finally:
        run_module('guest', name='lab-netlv', state='absent')
        run_module('network', name='vops-lbvlan', state='absent')


def test_route_mode_routes_a_subnet_behind_a_guest(libvirt_conn, guests):
    params = dict(name='vops-route', mode='route', bridge='vopsrt0', ip=dict(address='10.77.11.1', prefix=24),
                  routes=[dict(address='10.77.211.0', prefix=24, gateway='10.77.11.10')])
    run_module('network', name='vops-route', state='absent')
    try:
        assert _network(**params).changed and not run_module('network', **params).changed
        assert 'via 10.77.11.10' in ip_cmd('route', 'show', '10.77.211.0/24').stdout
        router = guests('lab-netr', 4572, [dict(network='vops-route')])
        router.static('10.77.11.10/24')
        router.sh('ip addr add 10.77.211.1/32 dev lo; ip route add default via 10.77.11.1')
        assert 'via 10.77.11.1' in router.sh('ip route')
        assert any(host_ping('10.77.211.1') for _attempt in range(5)), 'the host does not reach the routed subnet'
        assert router.ping_eventually('10.77.11.1', source='10.77.211.1'), 'the routed address does not reach the host'
    finally:
        run_module('guest', name='lab-netr', state='absent')
        run_module('network', name='vops-route', state='absent')


def test_flat_network_onto_a_host_bridge(libvirt_conn, guests):
    ip_cmd('link', 'del', 'vopsflat0', check=False)
    ip_cmd('link', 'add', 'vopsflat0', 'type', 'bridge')
    ip_cmd('link', 'set', 'vopsflat0', 'up')
    params = dict(name='vops-flat', mode='flat', bridge='vopsflat0')
    try:
        created = _network(**params)
        assert created.changed and not run_module('network', **params).changed
        assert "<forward mode='bridge'/>" in libvirt_conn.networkLookupByName('vops-flat').XMLDesc(0)
        one = guests('lab-netf1', 4573, [dict(network='vops-flat')])
        two = guests('lab-netf2', 4574, [dict(network='vops-flat')])
        one.static('10.77.12.10/24')
        two.static('10.77.12.11/24')
        assert one.ping_eventually('10.77.12.11') and two.ping_eventually('10.77.12.10')
    finally:
        for guest in ('lab-netf1', 'lab-netf2'):
            run_module('guest', name=guest, state='absent')
        run_module('network', name='vops-flat', state='absent')
        ip_cmd('link', 'del', 'vopsflat0', check=False)


def test_vlans_on_open_vswitch(libvirt_conn, ovs_bridge, guests):
    params = dict(name='vops-ovs', mode='ovs', bridge=ovs_bridge.name,
                  portgroups=[dict(name='vlan10', vlan=10, default=True), dict(name='vlan20', vlan=20)])
    run_module('network', name='vops-ovs', state='absent')
    try:
        assert _network(**params).changed and not run_module('network', **params).changed
        red1 = guests('lab-netv1', 4575, [dict(network='vops-ovs', portgroup='vlan10')])
        red2 = guests('lab-netv2', 4576, [dict(network='vops-ovs', portgroup='vlan10')])
        blue = guests('lab-netv3', 4577, [dict(network='vops-ovs', portgroup='vlan20', mac='52:54:00:77:13:0c')])
        blue2 = guests('lab-netv4', 4579, [dict(network='vops-ovs', portgroup='vlan20')])
        red1.static('10.77.13.10/24')
        red2.static('10.77.13.11/24')
        blue.static('10.77.13.12/24')
        blue2.static('10.77.13.13/24')
        assert red1.ping_eventually('10.77.13.11'), 'guests in the same VLAN do not reach each other'
        # blue answers on its own VLAN, and not across
        assert blue2.ping_eventually('10.77.13.12'), 'the VLAN 20 guest does not answer on VLAN 20'
        assert not red1.ping_eventually('10.77.13.12', tries=2), 'a guest reaches another VLAN'
        boot_id = libvirt_conn.lookupByName('lab-netv3').ID()
        moved = blue.set_nics([dict(network='vops-ovs', portgroup='vlan10', mac='52:54:00:77:13:0c')])
        assert moved.changed
        assert libvirt_conn.lookupByName('lab-netv3').ID() == boot_id
        blue.static('10.77.13.12/24')
        assert red1.ping_eventually('10.77.13.12', tries=8), 'moving the NIC to vlan10 did not take effect'
        grown = run_module('network', diff=True, **(params | {'portgroups': params['portgroups'] + [dict(name='vlan30', vlan=30)]}))
        assert not grown.failed and grown['actions'] == ['redefined', 'add portgroup live'], grown.get('actions')
    finally:
        for guest in ('lab-netv1', 'lab-netv2', 'lab-netv3', 'lab-netv4'):
            run_module('guest', name=guest, state='absent')
        run_module('network', name='vops-ovs', state='absent')
