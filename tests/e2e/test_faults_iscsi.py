"""An iSCSI target failing under an attached disk (issue 11), on a tgtd of this file's own (control port 7,
portal 127.0.0.1:3271): the lab's shared target on 3260 is never touched.

What QEMU's initiator (libiscsi) does, measured here: when the target daemon dies, it reconnects for as long
as it takes, so the guest's I/O stalls and completes once the target is back; when the target answers but
no longer serves the LUN, the guest's I/O fails with an I/O error at once. Either way, once the target serves
the LUN again, I/O works and volume_attachment detaches the disk cleanly."""
# pytest fixtures are passed by name: the same names as the fixture functions, some only for their effect
# pylint: disable=redefined-outer-name,unused-argument
import os
import re
import signal
import time

import libvirt
import pytest

from lab import tally
from lab.checks import libvirt_snapshot
from lab.console import assert_shell_answers, serial_shell
from lab.proc import find_pids, pid_alive, run, run_daemon, wait_for
from lab.runner import run_module

NAME = 'lab-fi-iscsi'
PORT = 4673
CONTROL_PORT = '7'
PORTAL = '127.0.0.1:3271'
IQN = 'iqn.2026-11.lab.virtops:fi'
WORK = '/var/lib/virtops-lab/iscsi-fi'
BACKING = os.path.join(WORK, 'lun.img')
PIDFILE = os.path.join(WORK, 'tgtd.pid')
SERIAL = 'fi-lun'
ATTACH = dict(guest=NAME, target='vdb', serial=SERIAL, iscsi=dict(portal=PORTAL, iqn=IQN, lun=1))


def tgtadm(*args, check=True):
    return run(['tgtadm', '-C', CONTROL_PORT, '--lld', 'iscsi'] + list(args), check=check, timeout=30)


def tgtd_pid():
    pids = find_pids('tgtd', PIDFILE)
    return pids[0] if pids else 0


def start_target():
    """Our tgtd, its target and LUN 1 (the backing file keeps its data across restarts)."""
    if not tgtd_pid():
        run_daemon(['tgtd', '-C', CONTROL_PORT, '-p', PIDFILE, '--iscsi', 'portal=' + PORTAL],
                   os.path.join(WORK, 'tgtd.log'), timeout=30)
        wait_for(lambda: tgtadm('--op', 'show', '--mode', 'sys', check=False).returncode == 0, 15, 'tgtd to answer')
    if IQN not in tgtadm('--op', 'show', '--mode', 'target').stdout:
        tgtadm('--op', 'new', '--mode', 'target', '--tid', '1', '-T', IQN)
        tgtadm('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL')
    serve_lun()


def serve_lun():
    if 'LUN: 1' not in tgtadm('--op', 'show', '--mode', 'target').stdout:
        tgtadm('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', BACKING)


def withdraw_lun():
    tgtadm('--op', 'delete', '--mode', 'logicalunit', '--tid', '1', '--lun', '1')


def kill_target():
    pid = tgtd_pid()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, 'tgtd to die')


def stop_target():
    if not tgtd_pid():
        return
    tgtadm('--op', 'delete', '--mode', 'target', '--tid', '1', '--force', check=False)
    tgtadm('--op', 'delete', '--mode', 'system', check=False)
    try:
        wait_for(lambda: not tgtd_pid(), 10, 'tgtd to exit')
    except Exception:
        kill_target()


@pytest.fixture(scope='module')
def target():
    os.makedirs(WORK, mode=0o700, exist_ok=True)
    stop_target()
    with open(BACKING, 'wb') as handle:
        handle.truncate(16 * 1024 * 1024)
    start_target()
    yield
    stop_target()


@pytest.fixture(scope='module')
def guest(target, tiny_image, libvirt_conn):
    params = dict(name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=PORT))
    run_module('guest', name=NAME, state='absent')
    made = run_module('guest', **params)
    assert not made.failed, made.msg
    attached = run_module('volume_attachment', **ATTACH)
    assert not attached.failed and attached.changed, attached.msg
    yield libvirt_conn.lookupByName(NAME)
    run_module('guest', name=NAME, state='absent')


def shell(command, timeout=120):
    return serial_shell(PORT, command, timeout)


def device():
    for _attempt in range(30):
        match = re.search(r'/sys/block/(\w+)/serial', shell('grep -l %s /sys/block/*/serial 2>/dev/null' % SERIAL))
        if match:
            return match.group(1)
        time.sleep(1)
    raise AssertionError('the iSCSI disk never showed up in the guest')


def start_write(dev, seek, then=''):
    """A 1 MiB direct write of a known pattern in the background (its outcome lands in /tmp/dd.log), and
    ``then`` in the same serial round trip."""
    return shell('rm -f /tmp/dd.log; (dd if=/tmp/pattern of=/dev/%s bs=64k seek=%d oflag=direct > /tmp/dd.out 2>&1; '
                 'echo rc=$? >> /tmp/dd.out; mv /tmp/dd.out /tmp/dd.log) & %s echo started' % (dev, seek, then))


def write_outcome(timeout):
    """What the background write printed, or None while it is still blocked after ``timeout`` seconds."""
    # polled inside the guest: a serial round trip costs seconds on a loaded machine
    out = shell('i=0; while [ ! -e /tmp/dd.log ] && [ $i -lt %d ]; do sleep 1; i=$((i + 1)); done; '
                'cat /tmp/dd.log 2>/dev/null || echo pending' % timeout, timeout=timeout + 60)
    # a line of its own: the echoed command line also carries 'rc='
    return out if re.search(r'(?m)^rc=\d', out) else None


def test_target_killed_then_back(guest):
    dev = device()
    shell('head -c 1048576 /dev/urandom > /tmp/pattern; md5sum /tmp/pattern > /tmp/pattern.md5')
    kill_target()
    try:
        # libiscsi reconnects without end: the write neither finishes nor fails while the target is gone.
        # The target stays down only seconds: libiscsi's reconnect backoff grows with the outage.
        # (quoted so that only the output, not the echoed command line, carries the word)
        out = start_write(dev, 0, then="sleep 3; cat /tmp/dd.log 2>/dev/null || echo STA''LLED;")
        assert 'STALLED' in out, 'the write finished with the target down: %s' % out
        assert guest.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        start_target()
    out = write_outcome(60)
    assert out and 'rc=0' in out, 'the stalled write did not complete once the target was back: %s' % out
    read_back = shell('dd if=/dev/%s bs=64k count=16 iflag=direct 2>/dev/null | md5sum; cat /tmp/pattern.md5' % dev)
    sums = re.findall(r'\b([0-9a-f]{32})\b', read_back)
    assert len(sums) >= 2 and sums[-1] == sums[-2], 'the LUN does not hold what was written: %s' % read_back
    tally.case('faults injected', 'iSCSI target killed under a running guest')


def test_lun_withdrawn_gives_io_errors_then_detach(guest, libvirt_conn):
    dev = device()
    withdraw_lun()
    try:
        start_write(dev, 32)
        out = write_outcome(30)
        assert out and 'Input/output error' in out and 'rc=0' not in out, 'the guest saw no I/O error: %s' % out
        assert guest.state()[0] == libvirt.VIR_DOMAIN_RUNNING, 'the guest stopped on an I/O error of a data disk'
        # the attachment is still what was asked for: the module changes nothing on a disk whose target failed
        again = run_module('volume_attachment', **ATTACH)
        assert not again.failed and not again.changed, again.msg
    finally:
        serve_lun()
    start_write(dev, 32)
    out = write_outcome(60)
    assert out and 'rc=0' in out, 'I/O did not work again once the LUN was back: %s' % out
    before = {k: v for k, v in libvirt_snapshot(libvirt_conn).items() if NAME in k}
    checked = run_module('volume_attachment', check=True, state='absent', guest=NAME, target='vdb')
    assert not checked.failed and checked.changed, checked.msg
    assert {k: v for k, v in libvirt_snapshot(libvirt_conn).items() if NAME in k} == before
    detached = run_module('volume_attachment', state='absent', guest=NAME, target='vdb')
    assert not detached.failed and detached.changed, detached.msg
    assert "protocol='iscsi'" not in guest.XMLDesc(0)
    assert 'GONE' in shell('ls /sys/block/%s >/dev/null 2>&1 && echo STI""LL || echo GO""NE' % dev)
    assert not run_module('volume_attachment', state='absent', guest=NAME, target='vdb').changed
    assert_shell_answers(PORT)
    tally.case('faults injected', 'iSCSI LUN withdrawn under a running guest')
    tally.case('check-mode changes compared', 'volume_attachment: detaching a disk whose LUN came back')


def test_error_policy_stop_pauses_the_guest_and_the_modules_report_the_disk(guest, libvirt_conn):
    """With error_policy stop, a lost LUN pauses the guest instead of failing its I/O; guest_info and
    volume_attachment say which disk failed, and resuming once the LUN is back retries the write."""
    attached = run_module('volume_attachment', error_policy='stop', **ATTACH)
    assert not attached.failed and attached.changed, attached.msg
    assert attached['attachment']['error_policy'] == 'stop' and attached['attachment']['error'] is None
    dev = device()
    # the write starts seconds after this shell call has returned: once the guest pauses, its console is silent
    shell('head -c 1048576 /dev/urandom > /tmp/pattern; rm -f /tmp/dd.log; (sleep 4; dd if=/tmp/pattern of=/dev/%s '
          'bs=64k seek=64 oflag=direct > /tmp/dd.out 2>&1; echo rc=$? >> /tmp/dd.out; mv /tmp/dd.out /tmp/dd.log) & '
          'echo started' % dev)
    withdraw_lun()
    try:
        wait_for(lambda: guest.state() == [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_IOERROR], 60,
                 'the guest to pause on the I/O error')
        info = run_module('guest_info', name=NAME)['guests'][0]
        assert info['state'] == 'paused' and info['paused_reason'] == 'ioerror', info
        assert [(d['target'], d['error']) for d in info['disks'] if d['error']] == [('vdb', 'io_error')], info['disks']
        again = run_module('volume_attachment', error_policy='stop', **ATTACH)
        assert not again.failed and not again.changed, again.msg
        assert again['attachment']['error'] == 'io_error', again['attachment']
    finally:
        serve_lun()
    resumed = run_module('guest', name=NAME, state='running')
    assert not resumed.failed and resumed.changed, resumed.msg
    out = write_outcome(60)
    assert out and 'rc=0' in out, 'the retried write did not complete once the LUN was back: %s' % out
    assert run_module('guest_info', name=NAME)['guests'][0]['state'] == 'running'
    before = {k: v for k, v in libvirt_snapshot(libvirt_conn).items() if NAME in k}
    refused = run_module('volume_attachment', error_policy='report', **ATTACH)
    assert refused.failed and 'error_policy' in refused.msg and 'detached' in refused.msg, refused.msg
    assert {k: v for k, v in libvirt_snapshot(libvirt_conn).items() if NAME in k} == before
    assert run_module('volume_attachment', state='absent', guest=NAME, target='vdb').changed
    tally.case('faults injected', 'iSCSI LUN withdrawn under a guest with error_policy stop')
