"""A tiny guest that rewrites its memory without pause (lab-host2 -> lab-host9): plain pre-copy times out and stays
on the source, auto-converge and post-copy finish, migration_force_complete and migration_abort from a second task
act on a running migration, and a destination that dies mid-migration leaves the guest on the source, once.

What makes pre-copy unable to finish does not depend on how fast the guest gets to run on a loaded machine:
- where the migration must not converge by itself, the pause QEMU may take at the switch-over is 1 ms, so it would
  have to find fewer than two dirty pages left at the end of a pass, which a running guest with any activity never
  leaves (NO_CONVERGE);
- where auto-converge has to do the work, the guest's own loop is CPU-bound (it burns CPU between the MiBs it
  rewrites), so that QEMU's throttle, which takes vCPU time, slows its writing in proportion. The test measures how
  fast the guest rewrites memory just before the migration and gives the link half of that: the guest outruns
  the link, whatever the load, and a throttle of about 80% makes it fall behind, so the migration converges
  without the 99% ceiling (see docs/reliability.md on what a vCPU throttled at 99% for minutes does under TCG). The
  test sees in QEMU's own job statistics, sampled while the migration runs, that QEMU throttled the guest (it does so
  only once the guest dirtied more than half of what the link carried).
Time limits are generous: they only bound a hang."""
import threading
import time

import libvirt
import libvirt_qemu
import pytest

from lab import guests, hosts
from lab.checks import assert_one_sentence
from lab.runner import run_module
from test_migrate import MIGRATION_URI, agent_sh, assert_runs_once, find, uptime
# the fixtures, used by name
from test_migrate import lab_pair, migrating  # noqa: F401  pylint: disable=unused-import

NAME = 'lab-mig-dirty'
# no room to pause at the switch-over: pre-copy cannot finish. The link carries the first pass over memory in
# seconds, and what is left once a guest is paused (its 16 MiB) in about two, long enough for the module to see
# the pause that migration_force_complete makes
NO_CONVERGE = dict(bandwidth_mib=8, max_downtime_ms=1)
# Rewriting a 16 MiB tmpfs file, a MiB at a time with a 15 ms pause after each (at most about 64 MiB/s), alternately
# from two random patterns, dirties the same pages over and over. Zeros would not do: QEMU sends a zero page as a
# few bytes.
_PATTERNS = ("head -c 16777216 /dev/urandom > /run/pa; head -c 16777216 /dev/urandom > /run/pb; "
             "cp /run/pa /run/dirty; ")
_REWRITE_MIB = "dd if=/run/$p of=/run/dirty bs=1M count=1 skip=$i seek=$i conv=notrunc 2>/dev/null; "
DIRTY_LOOP = (_PATTERNS + "(n=0; while true; do for p in pa pb; do i=0; while [ $i -lt 16 ]; do " + _REWRITE_MIB +
              "usleep 15000; i=$((i + 1)); done; n=$((n + 1)); echo $n > /run/passes; done; done) "
              ">/dev/null 2>&1 </dev/null &")
# The same rewriting, CPU-bound: after each MiB the guest's shell counts to 5000 (about a sixth of a second of an
# unloaded TCG vCPU), so the MiBs it writes per second follow the vCPU time it gets; /run/mibs counts them.
BURNING_LOOP = (_PATTERNS + "(n=0; m=0; while true; do for p in pa pb; do i=0; while [ $i -lt 16 ]; do " +
                _REWRITE_MIB + "j=0; while [ $j -lt 5000 ]; do j=$((j + 1)); done; m=$((m + 1)); echo $m > /run/mibs; "
                "i=$((i + 1)); done; n=$((n + 1)); echo $n > /run/passes; done; done) >/dev/null 2>&1 </dev/null &")
# auto-converge's throttle, in steps small enough that the guest falls behind the link well before QEMU's ceiling
THROTTLE = dict(auto_converge=True, auto_converge_initial=60, auto_converge_increment=10)
TIMEOUT = 600


def _start_loop(src, loop):
    agent_sh(src, NAME, loop)
    agent_sh(src, NAME, 'while [ "$(cat /run/passes 2>/dev/null || echo 0)" -lt 4 ]; do sleep 0.2; done', timeout=120)


@pytest.fixture
def dirty_guest(lab_pair, migrating):  # pylint: disable=redefined-outer-name
    """A tiny guest on lab-host2 running the dirtying loop (waited for inside the guest until it has made passes)."""
    migrating(NAME)
    _start_loop(lab_pair[2], DIRTY_LOOP)
    return lab_pair


@pytest.fixture
def burning_guest(lab_pair, migrating):  # pylint: disable=redefined-outer-name
    """A tiny guest on lab-host2 running the CPU-bound dirtying loop."""
    migrating(NAME)
    _start_loop(lab_pair[2], BURNING_LOOP)
    return lab_pair


def rewrite_rate(conn, seconds=10):
    """MiB/s the guest's CPU-bound loop rewrites, measured over ``seconds`` (the test's clock, the guest's counter)."""
    def count():
        return int(agent_sh(conn, NAME, 'cat /run/mibs'))
    first, started = count(), time.monotonic()
    time.sleep(seconds)         # the measuring window, not a wait for something
    return (count() - first) / (time.monotonic() - started)


class JobWatch:
    """The source's migration job statistics, sampled by the test every half second while a migration runs."""

    def __init__(self, conn):
        self.conn = conn
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                stats = self.conn.lookupByName(NAME).jobStats(0)
            except libvirt.libvirtError:      # not there yet, or gone to the destination
                stats = {}
            if stats.get('operation') == libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
                self.samples.append(stats)
            self._stop.wait(0.5)

    def wait(self, what, predicate, timeout=TIMEOUT):
        """Until a sample satisfies ``predicate``; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [sample for sample in list(self.samples) if predicate(sample)]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError('the migration of %s never showed %s within %d s; last sample: %s'
                             % (NAME, what, timeout, self.samples[-1:] or 'none'))

    def past_first_pass(self, timeout=TIMEOUT):
        return self.wait('a second pass over memory', lambda s: s.get('memory_iteration', 0) >= 2, timeout)

    def throttled(self):
        """Samples in which QEMU throttled the guest's vCPUs: it does so only after the guest dirtied more than half of
        what the link carried, in two passes running (its auto-converge trigger)."""
        return [s for s in self.samples if s.get('auto_converge_throttle')]

    def stop(self):
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def watch(lab_pair):
    """The job statistics of the migration of the test's guest, on the source."""
    watcher = JobWatch(lab_pair[2])
    yield watcher
    watcher.stop()


def _start(h1, h2, **options):
    """migrate in a background thread (the way an async task runs); returns (thread, result holder)."""
    holder = {}

    def work():
        holder['result'] = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                                      _timeout=TIMEOUT + 60, **options)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, holder


def _join(thread, holder, timeout=TIMEOUT + 120):
    thread.join(timeout)
    assert not thread.is_alive(), 'migrate did not return within %ss' % timeout
    return holder['result']


def _serial_tail(lines=60):
    """The end of the guest's serial console (its kernel's messages): what a failure needs to say why."""
    try:
        with open(guests.serial_log_path(NAME, fresh=False), 'rb') as handle:
            return b'\n'.join(handle.read().splitlines()[-lines:]).decode(errors='replace')
    except OSError as err:
        return '(no serial log: %s)' % err


def _qemu_view(conn):
    """What QEMU says of the guest's vCPU and interrupt controllers (HMP): evidence when its agent stops answering."""
    out = []
    for command in ('info status', 'info registers', 'info pic', 'info irq'):
        try:
            text = libvirt_qemu.qemuMonitorCommand(conn.lookupByName(NAME), command,
                                                   libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        except libvirt.libvirtError as err:
            text = str(err)
        out.append('(qemu) %s\n%s' % (command, '\n'.join(text.splitlines()[:30])))
    return '\n'.join(out)


def _console_answer(conn, timeout=20):
    """What the guest's serial shell prints for a computed marker and its uptime (read through libvirt's console
    stream, no agent): evidence of whether the guest's userspace runs when its agent does not answer."""
    dom = conn.lookupByName(NAME)
    stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    out = b''
    try:
        dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        stream.send(b'\necho console-$((6*7)); cat /proc/uptime\n')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and b'console-42' not in out:
            dom.isActive()          # lets libvirt's client read what arrived for the stream (no event loop here)
            chunk = stream.recv(4096)
            if isinstance(chunk, bytes) and chunk:
                out += chunk
            else:
                time.sleep(0.2)
        time.sleep(1)
        dom.isActive()
        chunk = stream.recv(4096)
        out += chunk if isinstance(chunk, bytes) else b''
    except libvirt.libvirtError as err:
        return 'console: %s (read so far: %r)' % (err, out[-300:])
    finally:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
    return 'console: %r' % out[-300:]


def _carried_on(conn, up_before, agent_timeout=90):
    """The guest's uptime, read inside it on ``conn``, went on from ``up_before`` (no restart on the way)."""
    try:
        after = uptime(conn, NAME, agent_timeout=agent_timeout)
    except AssertionError as err:
        raise AssertionError('%s; the end of its serial console:\n%s\nits serial shell now: %s\nand QEMU:\n%s'
                             % (err, _serial_tail(), _console_answer(conn), _qemu_view(conn))) from None
    assert after > up_before, 'the guest restarted: uptime %.2f s after, %.2f s before; its serial console:\n%s' % (
        after, up_before, _serial_tail())


def _stayed_on_source(src, dst, dom_id, up_before):
    dom = assert_runs_once(src, dst, NAME)
    assert dom.ID() == dom_id, 'the guest was restarted on the source'
    _carried_on(src, up_before)


def test_pre_copy_times_out_and_stays(dirty_guest, watch):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=60, on_timeout='abort', **NO_CONVERGE)
    watch.past_first_pass(timeout=90)
    result = _join(thread, holder)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'did not finish within 60s', 'on the source only')
    assert result['migration']['iterations'] >= 2, 'pre-copy never went past its first pass'
    _stayed_on_source(src, dst, dom_id, up_before)


def test_auto_converge_finishes(burning_guest, watch):
    h1, h2, src, dst = burning_guest
    rate = rewrite_rate(src)
    link = max(1, int(rate / 2))
    up_before = uptime(src, NAME)
    result = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                        bandwidth_mib=link, max_downtime_ms=500, timeout=TIMEOUT, _timeout=TIMEOUT + 60, **THROTTLE)
    assert not result.failed, result.msg
    # the premise, as QEMU measured it during this migration and the test saw: the guest outran the link
    throttled = watch.throttled()
    assert throttled, 'the test never saw QEMU throttle the guest (it rewrote %.1f MiB/s, the link %d MiB/s): %s' % (
        rate, link, watch.samples[-3:])
    stats = result['migration']
    assert stats['mode_used'] == 'auto-converge' and stats['auto_converge_throttle_percent'], stats
    print('auto-converge: the guest rewrote %.1f MiB/s over a %d MiB/s link; half-seconds at each throttle: %s' % (
        rate, link, {t: sum(1 for s in throttled if s['auto_converge_throttle'] == t)
                     for t in sorted({s['auto_converge_throttle'] for s in throttled})}))
    assert_runs_once(dst, src, NAME)
    _carried_on(dst, up_before, agent_timeout=240)


def test_post_copy_finishes(dirty_guest, watch):
    h1, h2, src, dst = dirty_guest
    up_before = uptime(src, NAME)
    result = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                        post_copy=True, post_copy_after_seconds=10, timeout=TIMEOUT, _timeout=TIMEOUT + 60,
                        **NO_CONVERGE)
    assert not result.failed, result.msg
    stats = result['migration']
    assert stats['mode_used'] == 'post-copy' and 'postcopy' in stats['flags'], stats
    assert stats['post_copy_after_seconds'] >= 10
    assert any('post-copy' in action for action in result['actions'])
    assert watch.samples, 'the test saw no migration job on the source'
    assert_runs_once(dst, src, NAME)
    _carried_on(dst, up_before)


def test_force_complete_from_another_task(dirty_guest, watch):
    h1, h2, src, dst = dirty_guest
    up_before = uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=TIMEOUT, **NO_CONVERGE)
    watch.past_first_pass()
    forced = run_module('guest_action', uri=h1.uri, name=NAME, action='migration_force_complete')
    assert not forced.failed and forced.changed and forced['method'] == 'paused', forced.msg
    result = _join(thread, holder)
    assert not result.failed, result.msg
    assert result['migration']['mode_used'] == 'paused'
    assert_runs_once(dst, src, NAME)
    _carried_on(dst, up_before)


def test_abort_from_another_task(dirty_guest, watch):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=TIMEOUT, **NO_CONVERGE)
    watch.past_first_pass()
    aborted = run_module('guest_action', uri=h1.uri, name=NAME, action='migration_abort')
    assert not aborted.failed and aborted.changed, aborted.msg
    result = _join(thread, holder)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'on the source only')
    _stayed_on_source(src, dst, dom_id, up_before)


def test_destination_killed_mid_migration(dirty_guest, watch):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=TIMEOUT, **NO_CONVERGE)
    watch.past_first_pass()
    try:
        hosts.kill_host(h2)
        result = _join(thread, holder)
    finally:
        hosts.start_host(h2.index, keep_state=True)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'failed', 'on the source only')
    back = libvirt.open(h2.uri)
    try:
        _stayed_on_source(src, back, dom_id, up_before)
    finally:
        back.close()
    assert find(src, NAME).isPersistent()
