"""A tiny guest that dirties its memory faster than a capped link copies it (lab-host2 -> lab-host9): plain pre-copy
times out and stays on the source, auto-converge and post-copy finish, migration_force_complete and migration_abort
from a second task act on a running migration, and a destination that dies mid-migration leaves the guest on the
source, once."""
import threading
import time

import libvirt
import pytest

from lab import hosts
from lab.checks import assert_one_sentence
from lab.runner import run_module
from test_migrate import MIGRATION_URI, agent_sh, assert_runs_once, find, uptime
# the fixtures, used by name
from test_migrate import lab_pair, migrating  # noqa: F401  pylint: disable=unused-import

NAME = 'lab-mig-dirty'
BANDWIDTH_MIB = 8
# Rewriting a 16 MiB tmpfs file in a loop, alternately from two random patterns, dirties the same pages over and
# over far faster than 8 MiB/s. Zeros would not do: QEMU sends a zero page as a few bytes, and libvirt's dirty-rate
# sampling compares page contents.
DIRTY_LOOP = ("head -c 16777216 /dev/urandom > /run/pa; head -c 16777216 /dev/urandom > /run/pb; cp /run/pa /run/dirty; "
              "(n=0; while true; do for p in pa pb; do dd if=/run/$p of=/run/dirty bs=1M conv=notrunc 2>/dev/null; "
              "n=$((n + 1)); echo $n > /run/passes; done; done) >/dev/null 2>&1 </dev/null &")
PASS_MIB = 16


@pytest.fixture
def dirty_guest(lab_pair, migrating):  # pylint: disable=redefined-outer-name
    """A tiny guest on lab-host2 running the dirtying loop, checked to dirty memory well above the cap."""
    _h1, _h2, src, _dst = lab_pair
    migrating(NAME)
    agent_sh(src, NAME, DIRTY_LOOP)
    # the loop counts its passes over the 16 MiB: its rate is the rate at which it dirties memory
    agent_sh(src, NAME, 'while [ ! -s /run/passes ]; do sleep 0.2; done')
    first, began = int(agent_sh(src, NAME, 'cat /run/passes')), time.monotonic()
    time.sleep(3)
    passes = int(agent_sh(src, NAME, 'cat /run/passes')) - first
    rate = passes * PASS_MIB / (time.monotonic() - began)
    assert rate > BANDWIDTH_MIB, 'the guest dirties only %.1f MiB/s' % rate
    return lab_pair


def _start(h1, h2, **options):
    """migrate in a background thread (the way an async task runs); returns (thread, result holder)."""
    holder = {}

    def work():
        holder['result'] = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                                      bandwidth_mib=BANDWIDTH_MIB, **options)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, holder


def _wait_for_job(conn, seconds_in=3.0, timeout=30):
    dom = conn.lookupByName(NAME)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = dom.jobStats(0)
        if stats.get('operation') == libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT and \
                stats.get('time_elapsed', 0) >= seconds_in * 1000:
            return stats
        time.sleep(0.3)
    raise AssertionError('no migration of %s started within %ss' % (NAME, timeout))


def _join(thread, holder, timeout=180):
    thread.join(timeout)
    assert not thread.is_alive(), 'migrate did not return within %ss' % timeout
    return holder['result']


def _stayed_on_source(src, dst, dom_id, up_before):
    dom = assert_runs_once(src, dst, NAME)
    assert dom.ID() == dom_id, 'the guest was restarted on the source'
    assert uptime(src, NAME) > up_before


def test_pre_copy_times_out_and_stays(dirty_guest):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    result = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                        bandwidth_mib=BANDWIDTH_MIB, timeout=20, on_timeout='abort')
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'did not finish within 20s', 'on the source only')
    assert result['migration']['iterations'] >= 2, 'pre-copy never went past its first pass'
    _stayed_on_source(src, dst, dom_id, up_before)


def test_auto_converge_finishes(dirty_guest):
    h1, h2, src, dst = dirty_guest
    up_before = uptime(src, NAME)
    result = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                        bandwidth_mib=BANDWIDTH_MIB, auto_converge=True, auto_converge_initial=60,
                        auto_converge_increment=20, max_downtime_ms=500, timeout=150)
    assert not result.failed, result.msg
    stats = result['migration']
    assert stats['mode_used'] == 'auto-converge' and stats['auto_converge_throttle_percent'], stats
    assert_runs_once(dst, src, NAME)
    # the memory loop keeps running on the destination; on a loaded host its agent can take a while to come back
    assert uptime(dst, NAME, agent_timeout=240) > up_before


def test_post_copy_finishes(dirty_guest):
    h1, h2, src, dst = dirty_guest
    up_before = uptime(src, NAME)
    result = run_module('migrate', uri=h1.uri, guest=NAME, dest_uri=h2.uri, migration_uri=MIGRATION_URI,
                        bandwidth_mib=BANDWIDTH_MIB, post_copy=True, timeout=150)
    assert not result.failed, result.msg
    stats = result['migration']
    assert stats['mode_used'] == 'post-copy' and 'postcopy' in stats['flags'], stats
    assert stats['post_copy_after_seconds'] > 0
    assert any('post-copy' in action for action in result['actions'])
    assert_runs_once(dst, src, NAME)
    assert uptime(dst, NAME) > up_before


def test_force_complete_from_another_task(dirty_guest):
    h1, h2, src, dst = dirty_guest
    up_before = uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=150)
    _wait_for_job(src)
    forced = run_module('guest_action', uri=h1.uri, name=NAME, action='migration_force_complete')
    assert not forced.failed and forced.changed and forced['method'] == 'paused', forced.msg
    result = _join(thread, holder)
    assert not result.failed, result.msg
    assert result['migration']['mode_used'] == 'paused'
    assert_runs_once(dst, src, NAME)
    assert uptime(dst, NAME) > up_before


def test_abort_from_another_task(dirty_guest):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=150)
    _wait_for_job(src)
    aborted = run_module('guest_action', uri=h1.uri, name=NAME, action='migration_abort')
    assert not aborted.failed and aborted.changed, aborted.msg
    result = _join(thread, holder)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'on the source only')
    _stayed_on_source(src, dst, dom_id, up_before)


def test_destination_killed_mid_migration(dirty_guest):
    h1, h2, src, dst = dirty_guest
    dom_id, up_before = src.lookupByName(NAME).ID(), uptime(src, NAME)
    thread, holder = _start(h1, h2, timeout=150)
    _wait_for_job(src)
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
