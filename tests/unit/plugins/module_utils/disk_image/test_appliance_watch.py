"""The libguestfs watchdog's judgement (pure) and its kill path, on real child processes standing in for QEMU."""
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
from ansible_collections.virtops.compute.plugins.module_utils.disk_image.appliance_watch import (
    ApplianceStalled, ApplianceWatchdog, StallJudge, WatchedHandle, process_progress, retry_once_on_stall)

BUSY = [sys.executable, '-c', 'while True: pass']
IDLE = [sys.executable, '-c', 'import time; time.sleep(600)']


def test_an_idle_process_is_stalled_only_after_the_whole_window():
    judge = StallJudge(stall_seconds=60)
    assert not judge.stalled(0, (10.0, 500))
    assert not judge.stalled(30, (10.1, 500))
    assert not judge.stalled(59, (10.2, 500))
    assert judge.stalled(60, (10.2, 500))


def test_cpu_or_disk_bytes_count_as_progress():
    judge = StallJudge(stall_seconds=60)
    judge.stalled(0, (10.0, 500))
    assert not judge.stalled(50, (10.0 + 0.05 * 50, 500)), 'a CPU share of 5% is work'
    assert not judge.stalled(100, (12.5, 501)), 'moved disk bytes are work'
    assert not judge.stalled(159, (12.5, 501))
    assert judge.stalled(160, (12.5, 501))


def test_a_process_that_is_not_there_is_never_judged():
    judge = StallJudge(stall_seconds=1)
    assert not judge.stalled(0, None)
    assert not judge.stalled(100, None)
    judge.stalled(100, (1.0, 0))
    assert not judge.stalled(100.5, (1.0, 0))
    assert judge.stalled(101, (1.0, 0))


def test_progress_of_a_live_process_and_of_a_gone_one():
    proc = subprocess.Popen(IDLE)
    try:
        cpu, io_bytes = process_progress(proc.pid)
        assert cpu >= 0 and io_bytes >= 0
    finally:
        proc.kill()
        proc.wait()
    assert process_progress(proc.pid) is None


@contextmanager
def _watched_child(command, stall_seconds):
    """A child process standing in for the appliance's QEMU, watched as one."""
    proc = subprocess.Popen(command)
    watchdog = ApplianceWatchdog('/images/x.qcow2', stall_seconds=stall_seconds, poll_seconds=0.1)
    watchdog.pid = proc.pid
    watchdog.start()
    try:
        yield proc, watchdog
    finally:
        watchdog.stop()
        proc.kill()
        proc.wait()


def _blocking_call(proc, seconds):
    """Stands in for a libguestfs call: blocks until the appliance dies (an error) or the work is done."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return 'done'
    raise RuntimeError('appliance closed the connection unexpectedly')


def test_a_stuck_appliance_is_killed_and_the_call_fails_in_one_sentence():
    with _watched_child(IDLE, stall_seconds=1) as (proc, watchdog):
        with pytest.raises(ApplianceStalled) as caught:
            with watchdog.outstanding('e2fsck'):
                _blocking_call(proc, 120)
        message = str(caught.value)
        assert message == ("the libguestfs appliance for image '/images/x.qcow2' stopped answering during e2fsck "
                           "(no CPU time and no disk I/O for 1 s) and was stopped.")
        assert proc.poll() == -9, 'the watchdog did not kill the appliance'
        with pytest.raises(ApplianceStalled):
            with watchdog.outstanding('umount_all'):
                pytest.fail('a call went to an appliance already stopped')


def test_a_busy_appliance_is_left_to_work_past_the_window():
    with _watched_child(BUSY, stall_seconds=1) as (proc, watchdog):
        with watchdog.outstanding('resize2fs'):
            assert _blocking_call(proc, 4) == 'done'
        assert watchdog.fired is None and proc.poll() is None


def test_an_idle_appliance_between_calls_is_left_alone():
    with _watched_child(IDLE, stall_seconds=0.5) as (proc, watchdog):
        time.sleep(2)  # no call outstanding: idle is what an appliance between calls is
        assert watchdog.fired is None and proc.poll() is None


def test_other_errors_pass_through_unchanged():
    watchdog = ApplianceWatchdog('/images/x.qcow2')
    with pytest.raises(RuntimeError, match='no such file'):
        with watchdog.outstanding('read_file'):
            raise RuntimeError('read_file: /etc/x: no such file')


class _Handle:
    version = 7

    def __init__(self):
        self.calls = []

    def mount_ro(self, device, mountpoint):
        self.calls.append(('mount_ro', device, mountpoint))
        return 'ok'


def test_a_watched_handle_passes_calls_and_attributes_through():
    handle = _Handle()
    watched = WatchedHandle(handle, ApplianceWatchdog('/images/x.qcow2'))
    assert watched.mount_ro('/dev/sda1', '/') == 'ok'
    assert handle.calls == [('mount_ro', '/dev/sda1', '/')]
    assert watched.version == 7


def test_work_is_started_again_once_after_a_stall_and_no_more():
    attempts = []

    def work():
        attempts.append(1)
        if len(attempts) < 3:
            raise ApplianceStalled('stalled %d' % len(attempts))
        return 'grown'
    logged = []
    with pytest.raises(ApplianceStalled, match='stalled 2'):
        retry_once_on_stall(work, logged.append)
    assert len(attempts) == 2
    assert logged == ['stalled 1 Trying once more on a fresh appliance.']
    attempts[:] = [1]
    assert retry_once_on_stall(work) == 'grown'


def test_only_qemu_children_of_this_process_are_found(tmp_path):
    named_qemu = tmp_path / 'qemu-system-x86_64'
    named_qemu.symlink_to(sys.executable)
    other = subprocess.Popen(IDLE)
    qemu = subprocess.Popen([str(named_qemu)] + IDLE[1:])
    try:
        found = appliance_watch.qemu_children()
        assert qemu.pid in found, 'a child named like QEMU was not found'
        assert other.pid not in found, 'a child that is not QEMU was taken for one'
    finally:
        for proc in (other, qemu):
            proc.kill()
            proc.wait()
