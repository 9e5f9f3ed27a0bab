"""pytest plugin with the lab's session fixtures (enable with
`pytest_plugins = ['lab.fixtures']` in tests/conftest.py).

Fixture            yields
lab_session        the lab's session lock (every fixture below holds it: concurrent test
                   sessions take turns instead of removing each other's lab-* guests)
lab_libvirt        'qemu:///system', with libvirtd + virtlogd answering
libvirt_conn       a libvirt.virConnect to it (stale `lab-*` domains removed first)
lab_default_network 'default' (libvirt's NAT network, active)
tiny_image         lab.images.Image of the busybox initramfs image
full_image         lab.images.Image of the Debian 12 disk image
tiny_guest         LabGuest 'lab-tiny': running, TCG, 256 MiB, serial log, qemu-ga channel
full_guest         LabGuest 'lab-full': Debian 12, 512 MiB, on a qcow2 overlay (tests using it
                   are marked slow automatically)
make_tiny_guest    (function scope) factory: make_tiny_guest('lab-x') -> LabGuest, removed
                   afterwards from the main host and every running lab host
lab_host1          lab.hosts.LabHost 'lab-host1' (qemu+tcp://127.0.0.1:16601/system)
lab_host2          lab.hosts.LabHost 'lab-host2' (qemu+tcp://127.0.0.1:16602/system)
lab_host3          lab.hosts.LabHost 'lab-host3' with its own /etc/ansible
lab_host4          lab.hosts.LabHost 'lab-host4' (a second host for placement)
lab_host9          lab.hosts.LabHost 'lab-host9' (the migration tests' destination)
host_without_uefi  lab.hosts.LabHost 'lab-host8', a host where no UEFI firmware is installed
main_tcp_uri       'qemu+tcp://127.0.0.1:16509/system': the main host over TCP (lab.tcpproxy),
                   for migrations back from lab hosts
iscsi_target       lab.iscsi.IscsiTarget (tgtd on 127.0.0.1:3260, CHAP)
ovs_bridge         lab.ovs.OvsBridge 'vopsbr0' (userspace OVS, datapath netdev)

Whatever a fixture started (daemons, hosts, tgtd, OVS, the forwarder, the default
network), or adopted from a test session that was killed, is stopped at the end of the
session; what already ran (e.g. `python -m lab.cli up`) is left running. Lab guests
(`lab-*`) are always removed. VIRTOPS_LAB_KEEP=1 keeps the services up for debugging.

VIRTOPS_LAB_SHARED=1 is for developers running several sessions side by side against a lab
started by hand (`python -m lab.cli up ...`): sessions share the lock, stale guests are not
swept, OVS ports are left alone and the session guests are named per session (lab-tiny-<pid>).
Each such session must use its own guest names and lab hosts.
"""
import os

import pytest

from lab import daemons, guests, hosts, iscsi, ovs
from lab.proc import SessionLock, adopt, release, say

KEEP = os.environ.get('VIRTOPS_LAB_KEEP') == '1'
SHARED = os.environ.get('VIRTOPS_LAB_SHARED') == '1'
# scripts/run-tests.sh runs two sessions (lanes A and B) whose tests use disjoint hosts and guest names
LANE = os.environ.get('VIRTOPS_LAB_LANE', '')
SIDE_BY_SIDE = SHARED or bool(LANE)
SESSION_SUFFIX = '-%d' % os.getpid() if SHARED else ''


def _log(msg):
    say(msg)


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: boots a full Debian guest or otherwise takes more than a few seconds')


def pytest_collection_modifyitems(items):
    for item in items:
        if 'full_guest' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.slow)


_LOCK = []


def pytest_collection_finish(session):
    """Take the lab's session lock before the first test starts, when any test will use the lab: waiting for
    another session to finish must not count against a test's time limit (pytest-timeout)."""
    if session.config.option.collectonly:
        return
    if any('lab_session' in getattr(item, 'fixturenames', ()) for item in session.items):
        _LOCK.append(SessionLock(log=_log).acquire(shared=SIDE_BY_SIDE))


def _keep(what):
    if KEEP:
        _log('VIRTOPS_LAB_KEEP=1: leaving %s running' % what)
    return KEEP


@pytest.fixture(scope='session')
def lab_session():
    """Held by every lab fixture: one test session uses the lab at a time (taken when collection finished)."""
    lock = _LOCK.pop() if _LOCK else SessionLock(log=_log).acquire(shared=SIDE_BY_SIDE)
    yield lock
    lock.release()


@pytest.fixture(scope='session')
def lab_libvirt(lab_session):
    # /dev/kvm's mode (see daemons.ensure_kvm_node) stays fixed at session end: other
    # libvirt users gain from it too; `python -m lab.cli down --restore-kvm-mode` restores it
    started = [s for s in daemons.ensure_main(log=_log) if s != 'kvm_node']
    started = adopt('main-daemons', bool(started), started)
    yield daemons.MAIN_URI
    if started and not _keep(', '.join(started)):
        daemons.stop_main(log=_log, only=started)
    release('main-daemons')


@pytest.fixture(scope='session')
def libvirt_conn(lab_libvirt):
    import libvirt
    conn = libvirt.open(lab_libvirt)
    if not SIDE_BY_SIDE:
        guests.clean_stale(conn, log=_log)
    yield conn
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


@pytest.fixture(scope='session')
def lab_default_network(lab_libvirt):
    mine = adopt('default-network', daemons.ensure_default_network(lab_libvirt, log=_log))
    yield 'default'
    release('default-network')
    if mine and not _keep('network default'):
        daemons.stop_default_network(lab_libvirt, log=_log)


@pytest.fixture(scope='session')
def tiny_image():
    from lab.images import ensure_image
    return ensure_image('tiny', log=_log)


@pytest.fixture(scope='session')
def full_image():
    from lab.images import ensure_image
    return ensure_image('full', log=_log)


def _guest_fixture(conn, name, image, memory_mib, disk=None):
    guest = guests.start_guest(conn, name, image, memory_mib=memory_mib, disk=disk, log=_log)
    try:
        yield guest
    finally:
        guests.remove_guest(conn, name, log=_log)
        guests.remove_guest_files(name)


@pytest.fixture(scope='session')
def tiny_guest(libvirt_conn, tiny_image):
    yield from _guest_fixture(libvirt_conn, 'lab-tiny' + SESSION_SUFFIX, tiny_image, 256)


@pytest.fixture(scope='session')
def full_guest(libvirt_conn, full_image):
    name = 'lab-full' + SESSION_SUFFIX
    guests.remove_guest(libvirt_conn, name, log=_log)
    disk = guests.make_overlay(full_image, name, log=_log)
    yield from _guest_fixture(libvirt_conn, name, full_image, 512, disk=disk)


@pytest.fixture
def make_tiny_guest(libvirt_conn, tiny_image):
    made = []

    def make(name, conn=None, memory_mib=256):
        guest = guests.start_guest(conn or libvirt_conn, name, tiny_image, memory_mib=memory_mib, log=_log)
        made.append(name)
        return guest

    yield make
    if not made:
        return
    import libvirt
    conns = [(libvirt_conn, False)]
    for host in hosts.running_hosts():
        try:
            conns.append((libvirt.open(host.uri), True))
        except libvirt.libvirtError:
            pass
    for conn, own in conns:
        for name in made:
            guests.remove_guest(conn, name, log=_log)
        if own:
            conn.close()
    for name in made:
        guests.remove_guest_files(name)


def _lab_host(index):
    import libvirt
    host = hosts.start_host(index, log=_log)
    mine = adopt('host-' + host.name, host.started)
    if not SIDE_BY_SIDE:
        conn = libvirt.open(host.uri)
        guests.clean_stale(conn, log=_log)
        conn.close()
    yield host
    release('host-' + host.name)
    if mine and not _keep(host.name):
        hosts.stop_host(host, log=_log)
    elif not SIDE_BY_SIDE:
        conn = libvirt.open(host.uri)
        guests.clean_stale(conn, log=_log)
        conn.close()


@pytest.fixture(scope='session')
def lab_host1(lab_libvirt):
    yield from _lab_host(1)


@pytest.fixture(scope='session')
def lab_host2(lab_libvirt):
    yield from _lab_host(2)


@pytest.fixture(scope='session')
def lab_host9(lab_libvirt):
    """lab-host9 (with lab-host2, the pair the migration tests use)."""
    yield from _lab_host(9)


@pytest.fixture(scope='session')
def lab_host3(lab_libvirt):
    """lab-host3, with its own /etc/ansible (where the host module keeps its service state)."""
    running = hosts.get_host(3)
    if running.libvirtd_pid and not hosts.has_own_mount(running, '/etc/ansible'):
        # started before lab hosts had their own /etc/ansible: the host module would write the machine's
        hosts.stop_host(running, log=_log)
    yield from _lab_host(3)


@pytest.fixture(scope='session')
def lab_host4(lab_libvirt):
    """lab-host4 (a second host for placement)."""
    yield from _lab_host(4)


@pytest.fixture(scope='session')
def host_without_uefi(lab_libvirt):
    yield from _lab_host(hosts.WITHOUT_UEFI_INDEX)


@pytest.fixture(scope='session')
def main_tcp_uri(lab_libvirt):
    was_running = daemons.main_tcp_running()
    uri = daemons.ensure_main_tcp(log=_log)
    mine = adopt('main-tcp', not was_running)
    yield uri
    release('main-tcp')
    if mine and not _keep('the main host TCP forwarder'):
        daemons.stop_main_tcp(log=_log)


@pytest.fixture(scope='session')
def iscsi_target(lab_session):
    was_running = iscsi.running()
    target = iscsi.ensure_iscsi(log=_log)
    mine = adopt('tgtd', not was_running)
    yield target
    release('tgtd')
    if mine and not _keep('tgtd'):
        iscsi.stop_iscsi(log=_log)


@pytest.fixture(scope='session')
def ovs_bridge(lab_session):
    was_running = ovs.running()
    bridge = ovs.ensure_ovs(log=_log)
    mine = adopt('ovs', not was_running)
    yield bridge
    release('ovs')
    if not SIDE_BY_SIDE:
        ovs.remove_all_ports(log=_log)
    if mine and not _keep('Open vSwitch'):
        ovs.stop_ovs(log=_log)
