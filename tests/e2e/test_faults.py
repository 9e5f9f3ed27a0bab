"""Faults injected into real components around one tiny guest on the main host (issue 11): its QEMU process
killed, its guest agent gone or hung, and the file system under a snapshot or a new volume running full.

Each test checks what the module says (one sentence, within a bounded time), that nothing is left behind
(partial files, volumes, block jobs) and that the guest keeps running, then that the next run converges."""
# pytest fixtures are passed by name: the same names as the fixture functions, some only for their effect
# pylint: disable=redefined-outer-name,unused-argument
import os
import signal
import subprocess
import time

import libvirt
import pytest

from lab import tally
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import assert_shell_answers, serial_shell
from lab.runner import run_module

NAME = 'lab-fi-guest'
PORT = 4671
SHARED = '/var/lib/virtops-lab/shared'
WORK_DIR = os.path.join(SHARED, 'fi-work')          # roomy: the base image and snapshots that fit
FULL_DIR = os.path.join(SHARED, 'fi-full')          # a 64 MiB tmpfs, mounted by the fixture
FULL_MIB = 64
BASE = os.path.join(WORK_DIR, 'fi-base.qcow2')      # 96 MiB of random data: more than FULL_DIR holds
BASE_MIB = 96
POOL = 'lab-fi-full-pool'
AGENT_CHANNEL = 'org.qemu.guest_agent.0'
START_AGENT = ('for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name)" = %s ] && '
               'qemu-ga -m virtio-serial -p /dev/$(basename $p) -d -f /run/qemu-ga.pid; done'
               % AGENT_CHANNEL)


def shell(command, timeout=120):
    return serial_shell(PORT, command, timeout)


def mine(conn):
    """libvirt_snapshot limited to this file's objects: other sessions change theirs meanwhile."""
    return {key: value for key, value in libvirt_snapshot(conn).items() if 'lab-fi' in key}


def _qemu_pid(name):
    with open('/run/libvirt/qemu/%s.pid' % name) as handle:
        return int(handle.read().strip())


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError('timed out waiting for ' + what)


def _agent_answers(dom):
    import libvirt_qemu
    try:
        libvirt_qemu.qemuAgentCommand(dom, '{"execute": "guest-ping"}', 3, 0)
        return True
    except libvirt.libvirtError:
        return False


@pytest.fixture(scope='module')
def params(tiny_image):
    os.makedirs(WORK_DIR, mode=0o755, exist_ok=True)
    if not os.path.exists(BASE):
        raw = BASE + '.raw'
        # random data: neither QEMU's mirror nor qemu-img can skip it as zeros
        subprocess.run(['dd', 'if=/dev/urandom', 'of=' + raw, 'bs=1M', 'count=%d' % BASE_MIB, 'status=none'], check=True)
        subprocess.run(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, BASE], check=True)
        os.unlink(raw)
        os.chmod(BASE, 0o644)
    return dict(name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline, image=BASE, guest_agent=True, shutdown_timeout=10,
                serial_console=dict(type='tcp', port=PORT))


@pytest.fixture(scope='module')
def full_fs():
    """A 64 MiB tmpfs: what fills up under a snapshot or a volume."""
    os.makedirs(FULL_DIR, mode=0o755, exist_ok=True)
    if os.path.ismount(FULL_DIR):
        subprocess.run(['umount', '-l', FULL_DIR], check=False)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%dm,mode=755' % FULL_MIB, 'lab-fi-full', FULL_DIR], check=True)
    yield FULL_DIR
    subprocess.run(['umount', '-l', FULL_DIR], check=False)


@pytest.fixture(scope='module')
def guest(libvirt_conn, params, full_fs):
    # full_fs first: QEMU runs in a mount namespace of its own, which sees only what was mounted before it started
    run_module('guest', name=NAME, state='absent')
    made = run_module('guest', **params)
    assert not made.failed, made.msg
    assert_shell_answers(PORT)
    yield libvirt_conn.lookupByName(NAME)
    run_module('guest', name=NAME, state='absent')


def _free_mib(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize / 2 ** 20


def _disk_chain(dom):
    """The live disk element of vda: a leftover mirror or overlay shows up here."""
    xml = dom.XMLDesc(0)
    start = xml.index("<disk type='file' device='disk'>")
    return xml[start:xml.index('</disk>', start)]


def test_killed_qemu_is_reported_and_recovered(guest, params, libvirt_conn):
    os.kill(_qemu_pid(NAME), signal.SIGKILL)
    _wait(lambda: guest.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, 20, 'libvirt to notice the dead QEMU')
    info = run_module('guest_info', name=NAME)
    assert not info.failed, info.msg
    reported = info['guests'][0]
    assert (reported['state'], reported['power_state'], reported['stopped_reason']) == ('shutdown', 4, 'crashed'), reported

    before = mine(libvirt_conn)
    checked = run_module('guest', check=True, **params)
    assert not checked.failed and checked.changed, checked.msg
    assert mine(libvirt_conn) == before, 'the check run changed libvirt state'
    recovered = run_module('guest', **params)
    assert not recovered.failed and recovered.changed, recovered.msg
    assert recovered['guest']['state'] == 'running'
    assert_shell_answers(PORT)
    assert not run_module('guest', **params).changed
    tally.case('faults injected', 'QEMU killed under a running guest')
    tally.case('check-mode changes compared', 'guest: recovering a crashed guest')


def test_agent_timeout_bad_input(guest, libvirt_conn):
    before = mine(libvirt_conn)
    for module, args in (('guest_action', dict(name=NAME, action='set_password', password='x', agent_timeout=0)),
                         ('snapshot', dict(guest=NAME, dest=os.path.join(WORK_DIR, 'bad.qcow2'), quiesce=True,
                                           agent_timeout=-1))):
        result = run_module(module, **args)
        assert result.failed, args
        assert_one_sentence(result.msg, NAME, 'agent_timeout')
        tally.case('bad inputs tried', '%s: agent_timeout %s' % (module, args['agent_timeout']))
    assert mine(libvirt_conn) == before
    assert not os.path.exists(os.path.join(WORK_DIR, 'bad.qcow2'))


def test_agent_absent_fails_at_once(guest):
    _wait(lambda: _agent_answers(guest), 60, 'the guest agent to answer')
    assert 'AGENT-STOPPED' in shell('kill $(cat /run/qemu-ga.pid) && echo AGENT-STO""PPED')
    try:
        _wait(lambda: not _agent_answers(guest), 20, 'the guest agent to go away')
        started = time.monotonic()
        result = run_module('guest_action', name=NAME, action='set_password', password='fault-1', agent_timeout=20)
        took = time.monotonic() - started
        assert result.failed
        assert_one_sentence(result.msg, NAME, 'guest agent', 'not running')
        assert took < 15, 'an absent agent took %.1f s to report' % took
    finally:
        shell(START_AGENT)
    _wait(lambda: _agent_answers(guest), 60, 'the restarted guest agent to answer')
    tally.case('faults injected', 'guest agent stopped under set_password')


def test_hung_agent_is_bounded(guest):
    _wait(lambda: _agent_answers(guest), 60, 'the guest agent to answer')
    dest = os.path.join(WORK_DIR, 'quiesce.qcow2')
    for leftover in (dest, dest + '.virtops-partial'):
        if os.path.exists(leftover):
            os.unlink(leftover)
    chain = _disk_chain(guest)
    assert 'AGENT-HUNG' in shell('kill -STOP $(cat /run/qemu-ga.pid) && echo AGENT-HU""NG')
    try:
        started = time.monotonic()
        result = run_module('guest_action', name=NAME, action='set_password', password='fault-2', agent_timeout=4)
        took = time.monotonic() - started
        assert result.failed
        assert_one_sentence(result.msg, NAME, 'did not answer within agent_timeout (4 s)')
        # libvirt's own guest-sync adds nothing past the bound; the rest is the module starting up
        assert 4 <= took < 12, 'set_password with agent_timeout 4 returned after %.1f s' % took

        started = time.monotonic()
        snap = run_module('snapshot', guest=NAME, dest=dest, quiesce=True, agent_timeout=3)
        took = time.monotonic() - started
        assert snap.failed
        assert_one_sentence(snap.msg, NAME, 'freezing', 'agent_timeout (3 s)')
        # the copy itself (96 MiB), the freeze (3 s) and the thaw that makes sure nothing stays frozen (3 s)
        assert took < 60, 'a quiesced snapshot with a hung agent returned after %.1f s' % took
        assert not os.path.exists(dest) and not os.path.exists(dest + '.virtops-partial')
        assert '<mirror' not in guest.XMLDesc(0) and _disk_chain(guest) == chain
        assert guest.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        shell('kill -CONT $(cat /run/qemu-ga.pid)')
    # the timed-out calls left no agent job behind: the same calls work once the agent answers again
    _wait(lambda: _agent_answers(guest), 60, 'the resumed guest agent to answer')
    done = run_module('guest_action', name=NAME, action='set_password', password='fault-3', agent_timeout=20)
    assert not done.failed and done.changed, done.msg
    tally.case('faults injected', 'guest agent hung under set_password and a quiesced snapshot')


def test_snapshot_onto_full_fs(guest, full_fs):
    chain, boot_id = _disk_chain(guest), guest.ID()
    dest = os.path.join(full_fs, 'snap.qcow2')
    free = _free_mib(full_fs)
    started = time.monotonic()
    result = run_module('snapshot', guest=NAME, dest=dest, mode='live', timeout=120)
    took = time.monotonic() - started
    assert result.failed, 'a %d MiB disk fitted into %d MiB' % (BASE_MIB, FULL_MIB)
    assert_one_sentence(result.msg, NAME, 'vda', 'no space')
    assert took < 90
    assert os.listdir(full_fs) == [], 'left behind: %s' % os.listdir(full_fs)
    assert _free_mib(full_fs) == free
    assert guest.state()[0] == libvirt.VIR_DOMAIN_RUNNING and guest.ID() == boot_id
    assert '<mirror' not in guest.XMLDesc(0) and _disk_chain(guest) == chain, 'the disk chain changed'
    assert not guest.blockJobInfo('vda', 0), 'a block job was left running'
    assert_shell_answers(PORT)
    # the same snapshot where there is room converges
    roomy = os.path.join(WORK_DIR, 'roomy.qcow2')
    if os.path.exists(roomy):
        os.unlink(roomy)
    saved = run_module('snapshot', guest=NAME, dest=roomy, mode='live', timeout=120)
    assert not saved.failed and saved.changed, saved.msg
    os.unlink(roomy)
    tally.case('faults injected', 'file system full under a live snapshot')


@pytest.fixture
def full_pool(libvirt_conn, full_fs):
    path = os.path.join(full_fs, 'pool')
    os.makedirs(path, mode=0o755, exist_ok=True)
    for leftover in [p for p in libvirt_conn.listAllStoragePools(0) if p.name() == POOL]:
        if leftover.isActive():
            leftover.destroy()
        leftover.undefine()
    pool = libvirt_conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, path), 0)
    pool.create(0)
    yield pool, path
    pool.destroy()
    pool.undefine()


def test_volume_onto_full_fs(full_pool, libvirt_conn):
    pool, path = full_pool
    free = _free_mib(path)
    before = mine(libvirt_conn)
    result = run_module('volume', pool=POOL, name='big.qcow2', from_image=BASE)
    assert result.failed, 'a %d MiB image fitted into %d MiB' % (BASE_MIB, FULL_MIB)
    assert_one_sentence(result.msg, 'big.qcow2', POOL, 'No space left')
    pool.refresh(0)
    assert pool.listVolumes() == [] and os.listdir(path) == [], 'left behind: %s' % os.listdir(path)
    assert _free_mib(path) == free
    assert mine(libvirt_conn) == before
    # what fits is made: the run after the failure converges
    small = run_module('volume', pool=POOL, name='small.qcow2', size_gb=1)
    assert not small.failed and small.changed, small.msg
    assert not run_module('volume', pool=POOL, name='small.qcow2', size_gb=1).changed
    assert not run_module('volume', pool=POOL, name='small.qcow2', state='absent').failed
    tally.case('faults injected', 'file system full under a volume create')
