"""A backstop for the hangs pytest-timeout cannot end.

pytest-timeout's signal method interrupts a test only when Python gets control back: a test blocked in a C call
(libguestfs waiting on an appliance that never answers, seen once in a full run) keeps its pending SIGALRM for as
long as the call lasts, and only the lane's limit ends it, an hour later and without the test's name. This
thread watches the running test's clock. Two minutes past the test's own limit it prints the test's name and every
thread's stack, and kills the QEMU processes this process started (a libguestfs appliance): the blocked call then
returns, the pending time-out fails the test, and its fixtures tear down as usual. Should the test still run two
minutes after that, the process exits, so the lane fails in minutes, with the name above.
"""
import faulthandler
import os
import signal
import sys
import threading
import time
from contextlib import nullcontext

import pytest

GRACE_SECONDS = 120
POLL_SECONDS = 5


def _limit(item):
    marker = item.get_closest_marker('timeout')
    if marker is not None:
        value = marker.kwargs.get('timeout', marker.args[0] if marker.args else None)
    else:
        value = item.config.getoption('timeout', None) or item.config.getini('timeout')
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


class _Guard:
    def __init__(self, config):
        # imported once tests run: at plugin load, before pytest-ansible's collection loader, it would break it
        from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
        self.qemu_children = appliance_watch.qemu_children
        self.capture = config.pluginmanager.getplugin('capturemanager')
        self.running = ()  # (node id, deadline) of the test now running, empty between tests
        self.lock = threading.Lock()
        thread = threading.Thread(target=self._watch, name='hang-guard', daemon=True)
        thread.start()

    def _say(self, text):
        """Print on the run's own output, past the test's captured output: the run may end right after."""
        with self.capture.global_and_fixture_disabled() if self.capture is not None else nullcontext():
            sys.stderr.write('\n[hang guard] %s\n' % text)
            sys.stderr.flush()
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)

    def _watch(self):
        freed = None  # the test whose QEMU children were killed to free it
        while True:
            time.sleep(POLL_SECONDS)
            with self.lock:
                running = self.running
            if not running or time.monotonic() < running[1]:
                continue
            nodeid = running[0]
            if freed != nodeid:
                freed = nodeid
                pids = self.qemu_children()
                self._say('%s still runs %d s after its time limit, stuck outside Python; its stacks follow. '
                          'Killing the QEMU processes it started (%s) so that the call it waits in returns.'
                          % (nodeid, GRACE_SECONDS, ', '.join(map(str, pids)) or 'none'))
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            elif time.monotonic() - running[1] >= GRACE_SECONDS:
                self._say('%s still runs; ending this test run.' % nodeid)
                os._exit(3)

    def start(self, item):
        limit = _limit(item)
        with self.lock:
            self.running = (item.nodeid, time.monotonic() + limit + GRACE_SECONDS) if limit else ()

    def stop(self):
        with self.lock:
            self.running = ()


_GUARD = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _GUARD:
        _GUARD.append(_Guard(item.config))
    _GUARD[0].start(item)
    try:
        yield
    finally:
        _GUARD[0].stop()
