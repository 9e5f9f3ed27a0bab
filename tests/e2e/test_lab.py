"""The lab itself is real: guests boot under TCG, a guest agent answers, a guest
live-migrates between two libvirt hosts, QEMU's iSCSI initiator passes (and fails)
CHAP against tgtd, and Open vSwitch separates VLANs."""
import time

import libvirt
import pytest

from lab import ovs
from lab.iscsi import qemu_login


def test_tiny_guest_boots_and_prints_marker(tiny_guest, libvirt_conn):
    took = tiny_guest.wait_for_serial(tiny_guest.marker, timeout=90)
    dom = libvirt_conn.lookupByName(tiny_guest.name)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom.UUIDString() == tiny_guest.uuid
    assert "type='qemu'" in dom.XMLDesc(0), 'lab guests must run under TCG here'
    print('tiny guest printed %r after %.1fs' % (tiny_guest.marker, took))


@pytest.mark.slow
def test_full_guest_agent_answers_ping(full_guest):
    took = full_guest.wait_for_agent(timeout=300)
    assert full_guest.agent('guest-ping') == {}
    info = full_guest.agent('guest-info')
    assert info and info.get('version'), 'guest-info returned nothing: %r' % info
    print('full guest agent answered guest-ping after %.1fs (qemu-ga %s)' % (took, info['version']))


LIVE_MOVE = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
             | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
# the guest's migration stream stays on 127.0.0.1 (libvirt refuses 127.0.0.1 in qemu.conf's
# migration_address, so the listen address is given per migration)
LOCAL_STREAM = {libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://127.0.0.1',
                libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: '127.0.0.1'}


def _assert_gone(conn, name):
    with pytest.raises(libvirt.libvirtError) as gone:
        conn.lookupByName(name)
    assert gone.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN


def test_tiny_guest_live_migrates_to_lab_host1(libvirt_conn, lab_host1, make_tiny_guest):
    guest = make_tiny_guest('lab-mig')
    guest.wait_for_serial(guest.marker, timeout=90)
    guest.wait_for_agent(timeout=60)
    source = guest.domain()
    dest = libvirt.open(lab_host1.uri)
    try:
        assert dest.getHostname() != libvirt_conn.getHostname()
        start = time.monotonic()
        source.migrateToURI3(lab_host1.uri, LOCAL_STREAM, LIVE_MOVE)
        took = time.monotonic() - start

        moved = dest.lookupByName(guest.name)
        assert moved.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert moved.UUIDString() == guest.uuid
        assert moved.isPersistent(), 'PERSIST_DEST did not define the guest on the destination'
        _assert_gone(libvirt_conn, guest.name)
        # the same guest kept running: its agent answers through the new host, no second boot
        guest.wait_for_agent(timeout=30, conn=dest)
        assert guest.serial_text().count(guest.marker) == 1, 'the guest rebooted instead of migrating'
        print('live migration to %s took %.1fs' % (lab_host1.name, took))
    finally:
        dest.close()


def test_guest_migrates_back_to_main_host_over_tcp(libvirt_conn, lab_host1, main_tcp_uri, make_tiny_guest):
    source = libvirt.open(lab_host1.uri)
    try:
        guest = make_tiny_guest('lab-back', conn=source)
        guest.wait_for_serial(guest.marker, timeout=90)
        guest.domain().migrateToURI3(main_tcp_uri, LOCAL_STREAM, LIVE_MOVE)
        assert libvirt_conn.lookupByName(guest.name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
        _assert_gone(source, guest.name)
    finally:
        source.close()


def test_iscsi_chap_login_right_and_wrong_secret(iscsi_target):
    ok = qemu_login(iscsi_target, iscsi_target.chap_username, iscsi_target.chap_password)
    assert ok.returncode == 0, ok.stderr
    assert 'virtual size: 64 MiB' in ok.stdout

    wrong = qemu_login(iscsi_target, iscsi_target.chap_username, iscsi_target.chap_password + 'x')
    assert wrong.returncode != 0
    assert 'Authentication failure' in wrong.stderr, wrong.stderr

    anonymous = qemu_login(iscsi_target, None, None)
    assert anonymous.returncode != 0
    assert 'Authentication failure' in anonymous.stderr, anonymous.stderr


def test_ovs_vlan_tags_separate_ports(ovs_bridge):
    a = ovs.add_vlan_port(ovs_bridge, 't10a', 10, '10.77.0.1/24')
    b = ovs.add_vlan_port(ovs_bridge, 't10b', 10, '10.77.0.2/24')
    c = ovs.add_vlan_port(ovs_bridge, 't20c', 20, '10.77.0.3/24')
    try:
        assert a.ping(b.ip), 'ports with the same tag 10 cannot reach each other'
        assert not a.ping(c.ip, count=2, timeout=1), 'tag 10 reached tag 20: VLANs are not separated'
        # c itself is fine: moved into VLAN 10 it answers, so the silence above was the tag
        c.set_tag(10)
        assert a.ping(c.ip), 'port c does not answer even inside VLAN 10'
    finally:
        for port in (a, b, c):
            ovs.remove_port(port)
