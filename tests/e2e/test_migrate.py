"""Live migration of running tiny guests between two lab hosts (lab-host2 -> lab-host9, all on 127.0.0.1):
shared storage and copy_storage all, with the guest's uptime and disk data carried over, idempotence, check mode,
and the inputs the module must refuse before anything moves.

The guests are driven through their guest agent (qemu-ga runs in the tiny image): it travels with the guest, where a
TCP serial console would have to bind the same port on the source and the destination at the same time."""
import base64
import json
import os
import socket
import subprocess
import time

import libvirt
import libvirt_qemu
import pytest

from lab import guests
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module

MIGRATION_URI = 'tcp://127.0.0.1'
DISK_DIR = os.path.join(guests.SHARED_DIR, 'migrate')
POOL = 'lab-migrate'
POOL_DIR = '/var/lib/libvirt/images/lab-migrate'      # private to each lab host: not shared storage
MARKER = 'virtops-migrate-marker'
MARKER_SECTOR = 300
NBD_PORT = 4625


# ---------------------------------------------------------------- helpers (also used by test_migrate_*.py)

def agent_sh(conn, name, command, timeout=60):
    """Run ``command`` with /bin/sh in the guest through its agent; returns its stdout."""
    dom = conn.lookupByName(name)
    started = json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps({
        'execute': 'guest-exec', 'arguments': {'path': '/bin/sh', 'arg': ['-c', command], 'capture-output': True}}),
        30, 0))['return']
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps({
            'execute': 'guest-exec-status', 'arguments': {'pid': started['pid']}}), 30, 0))['return']
        if status.get('exited'):
            return base64.b64decode(status.get('out-data', '')).decode(errors='replace')
        time.sleep(0.2)
    raise AssertionError('%r did not finish in guest %s within %ss' % (command, name, timeout))


def wait_agent(conn, name, timeout=90):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            libvirt_qemu.qemuAgentCommand(conn.lookupByName(name), '{"execute":"guest-ping"}', 5, 0)
            return
        except libvirt.libvirtError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError('the guest agent of %s did not answer within %ss: %s' % (name, timeout, last))


def uptime(conn, name, agent_timeout=90):
    wait_agent(conn, name, agent_timeout)          # just after a move the agent's channel reconnects
    return float(agent_sh(conn, name, 'cat /proc/uptime').split()[0])


def tiny_domain_xml(name, image, disk_xml='', extra='', memory_mib=192):
    kernel, initrd = guests.stage_boot_files(image, name)
    xml = guests.domain_xml(name, kernel, initrd, image.cmdline, guests.serial_log_path(name), memory_mib=memory_mib)
    return xml.replace('<devices>', '<devices>\n    ' + disk_xml + extra, 1)


def file_disk_xml(path, fmt='qcow2', cache='none'):
    return ("<disk type='file' device='disk'><driver name='qemu' type='%s' cache='%s'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>" % (fmt, cache, path))


def start_domain(conn, xml):
    dom = conn.defineXML(xml)
    dom.create()
    wait_agent(conn, dom.name())
    return dom


def find(conn, name):
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError:
        return None


def remove_everywhere(conns, name):
    for conn in conns:
        guests.remove_guest(conn, name)


def shared_disk(name, size='32M'):
    os.makedirs(DISK_DIR, mode=0o755, exist_ok=True)
    path = os.path.join(DISK_DIR, name + '.qcow2')
    if os.path.exists(path):
        os.unlink(path)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, size], check=True)
    os.chmod(path, 0o666)
    return path


def ensure_pool(conn):
    try:
        pool = conn.storagePoolLookupByName(POOL)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
                                         % (POOL, POOL_DIR), 0)
        pool.build(0)
    if not pool.isActive():
        pool.create(0)
    return pool


def assert_runs_once(here, elsewhere, name):
    dom = find(here, name)
    assert dom is not None and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING, '%s does not run where expected' % name
    assert find(elsewhere, name) is None, '%s is also defined on the other host' % name
    return dom


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope='module')
def lab_pair(lab_host2, lab_host9):
    src, dst = libvirt.open(lab_host2.uri), libvirt.open(lab_host9.uri)
    yield lab_host2, lab_host9, src, dst
    for conn in (src, dst):
        try:
            conn.close()
        except libvirt.libvirtError:
            pass


@pytest.fixture
def migrating(lab_pair, tiny_image):
    """make(name, disk_xml, extra) starts a tiny guest on lab-host2; every one is removed from both hosts after."""
    _h1, _h2, src, _dst = lab_pair
    made = []

    def make(name, disk_xml='', extra='', memory_mib=192):
        remove_everywhere((src, lab_pair[3]), name)
        made.append(name)
        return start_domain(src, tiny_domain_xml(name, tiny_image, disk_xml, extra, memory_mib))

    yield make
    # fresh connections: a test may have killed and restarted the destination
    conns = [libvirt.open(h.uri) for h in lab_pair[:2]]
    for name in made:
        remove_everywhere(conns, name)
        guests.remove_guest_files(name)
    for conn in conns:
        conn.close()


def _migrate(h1, h2, name, check=False, **extra):
    return run_module('migrate', check=check, uri=h1.uri, guest=name, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                      **extra)


# ---------------------------------------------------------------- tests

def test_live_migration_shared_storage(lab_pair, migrating):
    h1, h2, src, dst = lab_pair
    name = 'lab-mig-shared'
    migrating(name, file_disk_xml(shared_disk(name)))
    agent_sh(src, name, 'echo %s | dd of=/dev/vda bs=512 seek=%d conv=notrunc 2>/dev/null; sync'
             % (MARKER, MARKER_SECTOR))
    uuid = src.lookupByName(name).UUIDString()

    before = (libvirt_snapshot(src), libvirt_snapshot(dst))
    # libvirt cannot tell that this directory is shared (it is no NFS): refused up front, nothing moves
    refused = _migrate(h1, h2, name)
    assert refused.failed
    assert_one_sentence(refused.msg, name, 'allow_unsafe', 'on the source only')
    assert (libvirt_snapshot(src), libvirt_snapshot(dst)) == before
    checked = _migrate(h1, h2, name, check=True, allow_unsafe=True)
    assert not checked.failed and checked.changed, checked.msg
    assert 'live' in checked['migration']['flags'] and checked['migration']['copied_disks'] == []
    assert (libvirt_snapshot(src), libvirt_snapshot(dst)) == before, 'check mode changed a host'

    up_before = uptime(src, name)
    moved = _migrate(h1, h2, name, allow_unsafe=True)
    assert not moved.failed, moved.msg
    stats = moved['migration']
    assert moved.changed and moved['state'] == 'running'
    assert stats['mode_used'] == 'pre-copy' and stats['duration_seconds'] > 0
    assert stats['data_transferred_bytes'] > 1024 * 1024 and stats['iterations'] >= 1
    assert stats['downtime_ms'] is not None and stats['downtime_ms'] >= 0
    dom = assert_runs_once(dst, src, name)
    assert dom.UUIDString() == uuid and dom.isPersistent()
    assert uptime(dst, name) > up_before, 'the guest rebooted instead of moving'
    out = agent_sh(dst, name, 'dd if=/dev/vda bs=512 skip=%d count=1 2>/dev/null | head -c %d'
                   % (MARKER_SECTOR, len(MARKER)))
    assert out == MARKER, 'the disk data written before the move is missing: %r' % out

    snap = (libvirt_snapshot(src), libvirt_snapshot(dst))
    again = _migrate(h1, h2, name, allow_unsafe=True)
    assert not again.failed and not again.changed, again.msg
    assert (libvirt_snapshot(src), libvirt_snapshot(dst)) == snap


def test_live_migration_copy_storage(lab_pair, migrating):
    h1, h2, src, dst = lab_pair
    name = 'lab-mig-copy'
    pool = ensure_pool(src)
    dest_pool = ensure_pool(dst)
    for p in (pool, dest_pool):
        p.refresh(0)
        for vol in p.listAllVolumes(0):
            if vol.name().startswith(name):
                vol.delete(0)
    vol = pool.createXML("<volume><name>%s.qcow2</name><capacity unit='MiB'>32</capacity>"
                         "<target><format type='qcow2'/></target></volume>" % name, 0)
    try:
        migrating(name, file_disk_xml(vol.path(), cache='writeback'))
        agent_sh(src, name, 'echo %s | dd of=/dev/vda bs=512 seek=%d conv=notrunc 2>/dev/null; sync'
                 % (MARKER, MARKER_SECTOR))

        # local disks left in place are refused: this one is not on storage the destination sees
        before = (libvirt_snapshot(src), libvirt_snapshot(dst))
        refused = _migrate(h1, h2, name)
        assert refused.failed
        assert_one_sentence(refused.msg, name, 'vda', 'copy_storage')
        checked = _migrate(h1, h2, name, check=True, copy_storage='all')
        assert not checked.failed and checked.changed and checked['migration']['copied_disks'] == ['vda'], checked.msg
        assert (libvirt_snapshot(src), libvirt_snapshot(dst)) == before

        up_before = uptime(src, name)
        moved = _migrate(h1, h2, name, copy_storage='all')
        assert not moved.failed, moved.msg
        stats = moved['migration']
        assert stats['copied_disks'] == ['vda'] and 'non_shared_disk' in stats['flags']
        assert stats['data_transferred_bytes'] > 1024 * 1024
        assert_runs_once(dst, src, name)
        assert uptime(dst, name) > up_before
        out = agent_sh(dst, name, 'dd if=/dev/vda bs=512 skip=%d count=1 2>/dev/null | head -c %d'
                       % (MARKER_SECTOR, len(MARKER)))
        assert out == MARKER, 'the copied disk lacks the data written before: %r' % out
        dest_pool.refresh(0)
        assert dest_pool.storageVolLookupByName(name + '.qcow2').path() == vol.path()
        again = _migrate(h1, h2, name, copy_storage='all')
        assert not again.failed and not again.changed
    finally:
        remove_everywhere((src, dst), name)
        for p in (pool, dest_pool):
            p.refresh(0)
            for leftover in p.listAllVolumes(0):
                if leftover.name().startswith(name):
                    leftover.delete(0)


def _refused(lab_pair, name, *must_name, **options):
    h1, h2, src, dst = lab_pair
    before = (libvirt_snapshot(src), libvirt_snapshot(dst))
    for check in (True, False):
        params = dict(uri=h1.uri, guest=name, dest_uri=h2.uri, migration_uri=MIGRATION_URI) | options
        result = run_module('migrate', check=check, **params)
        assert result.failed, 'migrate accepted %s (check=%s)' % (options or name, check)
        assert_one_sentence(result.msg, *must_name)
    assert (libvirt_snapshot(src), libvirt_snapshot(dst)) == before, 'a refused migration changed a host'
    return result.msg


def test_bad_inputs_change_nothing(lab_pair, migrating, tiny_image):
    h1, h2, src, dst = lab_pair
    name = 'lab-mig-bad'
    migrating(name, file_disk_xml(shared_disk(name)))
    msg = _refused(lab_pair, name, name, 'unreachable', dest_uri='qemu+tcp://127.0.0.1:16690/system')
    assert '16690' in msg
    msg = _refused(lab_pair, name, name, 'source host itself', dest_uri='qemu+tcp://localhost:%d/system' % h1.tcp_port)
    _refused(lab_pair, 'lab-mig-nowhere', 'lab-mig-nowhere', 'neither')
    _refused(lab_pair, name, name, 'bandwidth_mib', bandwidth_mib=0)
    _refused(lab_pair, name, name, 'migration_uri', migration_uri='127.0.0.1')

    # a host directory passed through (9p) ties the guest to this host
    share = os.path.join(guests.SHARED_DIR, 'migrate', 'share')
    os.makedirs(share, exist_ok=True)
    fs_name = 'lab-mig-9p'
    migrating(fs_name, extra="<filesystem type='mount' accessmode='mapped'><source dir='%s'/>"
                             "<target dir='hostshare'/></filesystem>" % share)
    _refused(lab_pair, fs_name, fs_name, 'filesystem', share)


@pytest.fixture
def nbd_export():
    path = os.path.join(DISK_DIR, 'nbd-export.raw')
    os.makedirs(DISK_DIR, exist_ok=True)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'raw', path, '16M'], check=True)
    proc = subprocess.Popen(['qemu-nbd', '-f', 'raw', '-b', '127.0.0.1', '-p', str(NBD_PORT), '--persistent',
                             '--shared=4', path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # until qemu-nbd accepts connections on its port (or has died saying why)
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, 'qemu-nbd exited: %s' % proc.stderr.read().decode(errors='replace')
        try:
            socket.create_connection(('127.0.0.1', NBD_PORT), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, 'qemu-nbd did not listen on port %d within 30 s' % NBD_PORT
            time.sleep(0.1)
    yield NBD_PORT
    proc.terminate()
    proc.wait(timeout=10)
    os.unlink(path)


def test_copy_storage_refuses_network_disk(lab_pair, migrating, nbd_export):
    name = 'lab-mig-nbd'
    disk = ("<disk type='network' device='disk'><driver name='qemu' type='raw' cache='none'/>"
            "<source protocol='nbd'><host name='127.0.0.1' port='%d'/></source><target dev='vda' bus='virtio'/></disk>"
            % nbd_export)
    migrating(name, disk)
    _refused(lab_pair, name, name, 'vda (nbd)', 'copy_storage none', copy_storage='all')


def test_control_without_migration_fails(lab_pair, migrating):
    h1, _h2, src, _dst = lab_pair
    name = 'lab-mig-idle'
    migrating(name)
    for action in ('migration_abort', 'migration_force_complete'):
        result = run_module('guest_action', uri=h1.uri, name=name, action=action)
        assert result.failed
        assert_one_sentence(result.msg, name, 'no migration')
    assert src.lookupByName(name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
