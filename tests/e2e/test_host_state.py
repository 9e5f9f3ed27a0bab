"""The host module's service state on a lab host, run inside that host as on a real compute host."""
import json
import os
import stat

import libvirt
import pytest

from lab import hosts
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.computes import fact_path, forget_state
from lab.runner import run_module

BUSY = 'lab-hst-busy'


def inside(host, module, **params):
    """Run a module inside the lab host (its libvirtd may have been restarted, so look the pid up again)."""
    params.setdefault('uri', 'qemu:///system')
    return run_module(module, nsenter_pid=hosts.get_host(host.index).libvirtd_pid, **params)


def read_fact(host):
    with open(fact_path(host)) as handle:
        return json.load(handle)


def file_bytes(host):
    try:
        with open(fact_path(host), 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


@pytest.fixture
def host3(lab_host3):
    """lab-host3 starting from no state file (a host nobody ever disabled)."""
    forget_state(lab_host3)
    yield lab_host3
    forget_state(lab_host3)


@pytest.fixture
def conn3(host3):
    conn = libvirt.open(host3.uri)
    yield conn
    conn.close()


def test_the_state_file_is_the_lab_hosts_own(host3):
    assert hosts.has_own_mount(hosts.get_host(3), '/etc/ansible')
    result = inside(host3, 'host', state='disabled')
    assert not result.failed, result.msg
    assert result['host']['hostname'] == 'lab-host3'
    assert os.path.exists(fact_path(host3))
    assert not os.path.exists('/etc/ansible/facts.d/virtops_compute.fact')


def test_enabled_disabled_maintenance_on_an_empty_host(host3, conn3):
    # a host nobody disabled is enabled: nothing to write
    enabled = inside(host3, 'host', state='enabled')
    assert not enabled.failed and not enabled.changed, enabled.data
    assert file_bytes(host3) is None

    before = libvirt_snapshot(conn3)
    check = inside(host3, 'host', state='disabled', reason='failing DIMM', check=True, diff=True)
    assert check.changed and check['host']['service_state'] == 'disabled'
    assert check['diff']['before']['service_state'] == 'enabled'
    assert file_bytes(host3) is None and libvirt_snapshot(conn3) == before

    disabled = inside(host3, 'host', state='disabled', reason='failing DIMM')
    assert disabled.changed, disabled.data
    data = read_fact(host3)
    assert data['service_state'] == 'disabled' and data['maintenance_reason'] == 'failing DIMM'
    assert data['changed_at'].endswith('Z')
    assert stat.S_IMODE(os.stat(fact_path(host3)).st_mode) == 0o644
    assert os.listdir(os.path.dirname(fact_path(host3))) == ['virtops_compute.fact']
    info = inside(host3, 'host_info', probe=False)
    assert (info['host']['service_state'], info['host']['maintenance_reason']) == ('disabled', 'failing DIMM')

    written = file_bytes(host3)
    again = inside(host3, 'host', state='disabled', reason='failing DIMM')
    assert not again.changed and file_bytes(host3) == written
    # without a reason the stored one stays
    assert not inside(host3, 'host', state='disabled').changed

    check = inside(host3, 'host', state='maintenance', reason='DIMM swap', check=True)
    assert check.changed and file_bytes(host3) == written
    maint = inside(host3, 'host', state='maintenance', reason='DIMM swap')
    assert maint.changed, maint.data
    assert read_fact(host3)['service_state'] == 'maintenance'
    info = inside(host3, 'host_info', probe=False)
    assert (info['host']['service_state'], info['host']['maintenance_reason']) == ('maintenance', 'DIMM swap')
    assert not inside(host3, 'host', state='maintenance', reason='DIMM swap').changed
    assert libvirt_snapshot(conn3) == before

    back = inside(host3, 'host', state='enabled')
    assert back.changed and read_fact(host3)['service_state'] == 'enabled'
    assert read_fact(host3)['maintenance_reason'] is None
    # against the host's remote URI host_info cannot read the file, and says so with null
    remote = run_module('host_info', uri=host3.uri, probe=False)
    assert remote['host']['service_state'] is None


def test_maintenance_refused_while_a_guest_runs_or_is_paused(host3, conn3, make_tiny_guest):
    guest = make_tiny_guest(BUSY, conn=conn3)
    assert inside(host3, 'host', state='disabled', reason='draining').changed
    written = file_bytes(host3)
    before = libvirt_snapshot(conn3)

    refused = inside(host3, 'host', state='maintenance', reason='upgrade')
    assert refused.failed
    assert_one_sentence(refused.msg, "host 'lab-host3'", "guest '%s'" % BUSY, 'maintenance')
    assert file_bytes(host3) == written and libvirt_snapshot(conn3) == before
    # the running guest was untouched by disabling
    assert guest.domain(conn3).isActive()

    guest.domain(conn3).suspend()
    try:
        paused = inside(host3, 'host', state='maintenance', check=True)
        assert paused.failed
        assert_one_sentence(paused.msg, "guest '%s'" % BUSY)
        assert file_bytes(host3) == written
    finally:
        guest.domain(conn3).resume()


def test_a_suspended_guest_still_counts(host3, conn3, make_tiny_guest):
    guest = make_tiny_guest(BUSY, conn=conn3)
    guest.domain(conn3).managedSave(0)
    assert not guest.domain(conn3).isActive() and guest.domain(conn3).hasManagedSaveImage(0)
    refused = inside(host3, 'host', state='maintenance')
    assert refused.failed
    assert_one_sentence(refused.msg, "guest '%s'" % BUSY)
    assert file_bytes(host3) is None


def test_libvirt_not_answering_changes_nothing(host3):
    inside(host3, 'host', state='disabled', reason='before')
    written = file_bytes(host3)
    dead = 'qemu+unix:///system?socket=/run/libvirt/no-such-sock'
    result = inside(host3, 'host', state='maintenance', uri=dead)
    assert result.failed
    assert_one_sentence(result.msg, dead)
    assert file_bytes(host3) == written


def test_remote_uri_is_refused(host3):
    result = inside(host3, 'host', state='disabled', uri=host3.uri)
    assert result.failed
    assert_one_sentence(result.msg, host3.uri, 'remote')
    assert file_bytes(host3) is None


def test_initial_state_is_written_once_and_then_kept(host3):
    # a new host: check mode says it would write, and writes nothing
    check = inside(host3, 'host', state='enabled', initial=True, check=True)
    assert check.changed and file_bytes(host3) is None, check.data
    first = inside(host3, 'host', state='enabled', initial=True)
    assert first.changed, first.data
    assert read_fact(host3)['service_state'] == 'enabled'
    assert not inside(host3, 'host', state='enabled', initial=True).changed

    # someone disables it; an initial state never puts it back
    assert inside(host3, 'host', state='disabled', reason='burn-in').changed
    written = file_bytes(host3)
    kept = inside(host3, 'host', state='enabled', initial=True, diff=True)
    assert not kept.changed and file_bytes(host3) == written, kept.data
    assert kept['host']['service_state'] == 'disabled' and kept['diff']['before'] == kept['diff']['after']


def test_bad_inputs(host3):
    unknown = inside(host3, 'host', state='retired')
    assert unknown.failed and 'state' in unknown.msg and 'retired' in unknown.msg
    nothing = inside(host3, 'host', reason='why')
    assert nothing.failed and 'state' in nothing.msg and 'service' in nothing.msg
    initial = inside(host3, 'host', service='started', initial=True)
    assert initial.failed and 'initial' in initial.msg and 'state' in initial.msg
    short = inside(host3, 'host', state='disabled', timeout=0)
    assert short.failed
    assert_one_sentence(short.msg, 'timeout')
    assert file_bytes(host3) is None
