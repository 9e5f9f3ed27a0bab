# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Noticing a libguestfs appliance that stopped answering, and stopping it.

A libguestfs call blocks in C until the appliance answers.  An appliance that never answers
(seen under TCG: an e2fsck whose disk request never completed, with the machine idle) would
hold the module, and the play, for ever: Python runs no signal handler, so no time-out either,
until that C call returns.  A thread beside the call watches the appliance's QEMU process.
One that spends almost no CPU and moves no disk bytes for ``stall_seconds`` is stuck, not slow:
an appliance at work under TCG keeps a CPU busy, and under KVM one waiting on slow storage
moves its I/O counters.  Killing the stuck QEMU makes the blocked call return with an error,
which becomes one sentence (``ApplianceStalled``).  Nothing here reads a guest's data.
"""


import os
import signal
import threading
import time
from contextlib import contextmanager

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.host import procfs

STALL_SECONDS = 300
POLL_SECONDS = 5
# the share of the wall-clock time an appliance at work spends on a CPU at the very least
BUSY_SHARE = 0.05


class ApplianceStalled(VirtopsError):
    """The appliance was stopped because it stopped answering; a fresh one may well answer."""


def process_progress(pid):
    """``(cpu seconds, disk bytes read and written)`` of a live process, or None once it has gone."""
    state = procfs.stat(pid)
    if state is None or not procfs.alive(state[1]):
        return None
    fields = state[1]
    cpu = (int(fields[11]) + int(fields[12])) / float(os.sysconf('SC_CLK_TCK'))
    io_bytes = 0
    try:
        with open('/proc/%d/io' % pid) as handle:
            counters = dict(line.split(':', 1) for line in handle if ':' in line)
        io_bytes = int(counters.get('read_bytes', 0)) + int(counters.get('write_bytes', 0))
    except (OSError, ValueError):
        pass  # without I/O accounting the CPU time alone tells
    return cpu, io_bytes


def qemu_children(parent=None):
    """The QEMU processes ``parent`` (this process) started: libguestfs's direct backend forks the appliance."""
    parent = str(os.getpid() if parent is None else parent)
    found = []
    for entry in os.listdir('/proc'):
        state = procfs.stat(int(entry)) if entry.isdigit() else None
        if state is not None and state[1][1] == parent and 'qemu' in state[0]:
            found.append(int(entry))
    return found


class StallJudge:
    """Decides from samples of ``(cpu seconds, io bytes)`` whether a process is stuck; pure, so unit-tested."""

    def __init__(self, stall_seconds, busy_share=BUSY_SHARE):
        self.stall_seconds = stall_seconds
        self.busy_share = busy_share
        self.baseline = None

    def reset(self):
        self.baseline = None

    def stalled(self, now, sample):
        if sample is None:
            self.baseline = None
            return False
        if self.baseline is None:
            self.baseline = (now, sample)
            return False
        since, (cpu, io_bytes) = self.baseline
        elapsed = now - since
        if sample[1] != io_bytes or sample[0] - cpu >= max(self.busy_share * elapsed, 0.01):
            self.baseline = (now, sample)
            return False
        return elapsed >= self.stall_seconds


class ApplianceWatchdog:
    """Watches one appliance while a call into it is outstanding, and kills it once it is stuck."""

    def __init__(self, image, stall_seconds=STALL_SECONDS, poll_seconds=POLL_SECONDS, log=None):
        self.image = image
        self.poll_seconds = poll_seconds
        self.log = log or (lambda _msg: None)
        self.judge = StallJudge(stall_seconds)
        self.pid = None  # set once launch has answered; until then the QEMU children of this process
        self.fired = None  # the call during which the appliance was stopped
        self._call = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._watch, name='libguestfs-watchdog', daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _pids(self):
        return [self.pid] if self.pid else qemu_children()

    def _sample(self):
        samples = [process_progress(pid) for pid in self._pids()]
        samples = [sample for sample in samples if sample is not None]
        if not samples:
            return None  # no QEMU yet (libguestfs builds its appliance first) or gone: nothing to judge
        return sum(cpu for cpu, _io in samples), sum(io for _cpu, io in samples)

    def _watch(self):
        while not self._stop.wait(self.poll_seconds):
            with self._lock:
                call = self._call
                if call is None or self.fired:
                    continue  # between calls an appliance is idle by right; outstanding() starts each call afresh
                if not self.judge.stalled(time.monotonic(), self._sample()):
                    continue
                self.fired = call
                pids = self._pids()
            self.log('libguestfs: the appliance for %s made no progress in %s for %d s; stopping it (pid %s)'
                     % (self.image, call, self.judge.stall_seconds, ', '.join(str(pid) for pid in pids)))
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def stalled_error(self):
        return ApplianceStalled("the libguestfs appliance for image '%s' stopped answering during %s (no CPU time and "
                                "no disk I/O for %d s) and was stopped."
                                % (self.image, self.fired, self.judge.stall_seconds))

    @contextmanager
    def outstanding(self, call):
        """Around one blocking call: a call on an appliance already stopped, or one it was stopped during,
        raises ApplianceStalled instead of libguestfs's own error."""
        if self.fired:
            raise self.stalled_error()
        with self._lock:
            self._call = call
            self.judge.reset()
        try:
            yield
        except RuntimeError:
            if self.fired:
                raise self.stalled_error()
            raise
        finally:
            with self._lock:
                self._call = None


class WatchedHandle:
    """A libguestfs handle whose every call is watched; attributes pass through unchanged."""

    def __init__(self, handle, watchdog):
        self._handle = handle
        self._watchdog = watchdog

    def __getattr__(self, name):
        attr = getattr(self._handle, name)
        if not callable(attr):
            return attr

        def watched(*args, **kwargs):
            with self._watchdog.outstanding(name):
                return attr(*args, **kwargs)
        return watched


def retry_once_on_stall(work, log=None):
    """``work()``, and once more when its appliance stalled: it then ran on a fresh appliance.  Only for work
    that is safe to start again (a converge that reads before it writes, an fsck)."""
    try:
        return work()
    except ApplianceStalled as err:
        (log or (lambda _msg: None))('%s Trying once more on a fresh appliance.' % err)
        return work()
