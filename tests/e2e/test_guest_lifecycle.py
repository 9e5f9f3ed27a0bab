"""The guest module walks one real tiny guest through its whole life (TCG).

Each step is checked against libvirt and the guest's own serial log, and run a
second time to prove it is idempotent; check mode is shown to leave libvirt
exactly as it was before each change.
"""
import hashlib
import os
import subprocess
import time

import libvirt
import pytest

from lab import agent
from lab.checks import libvirt_snapshot
from lab.console import wait_for_log
from lab.proc import qemu_pids
from lab.runner import run_module

NAME = 'lab-life'
BASE_DIR = '/var/lib/virtops-lab/shared/bases'


@pytest.fixture(scope='module')
def base_image():
    os.makedirs(BASE_DIR, exist_ok=True)
    path = os.path.join(BASE_DIR, 'blank-64m.qcow2')
    if not os.path.exists(path):
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, '64M'], check=True)
    return path


def _sha256(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture(scope='module')
def life(libvirt_conn, tiny_image, base_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=256, vcpus=1, kernel=tiny_image.kernel,
                  initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, image=base_image, guest_agent=True,
                  shutdown_timeout=30)
    run_module('guest', name=NAME, state='absent')
    yield params
    run_module('guest', name=NAME, state='absent')


def _converge(params, **changes):
    args = dict(params)
    args.update(changes)
    first = run_module('guest', **args)
    assert not first.failed, first.msg
    second = run_module('guest', **args)
    assert not second.failed, second.msg
    assert not second.changed, 'second run changed %s' % second.get('changes')
    return first


def _check_mode_changes_nothing(conn, params, **changes):
    args = dict(params)
    args.update(changes)
    before = libvirt_snapshot(conn)
    result = run_module('guest', check=True, **args)
    assert not result.failed, result.msg
    assert result.changed
    assert libvirt_snapshot(conn) == before


INSTANCES = '/var/lib/libvirt/virtops/instances'


def _serial(_conn):
    with open(os.path.join(INSTANCES, NAME + '-console.log'), errors='replace') as handle:
        return handle.read()


def _wait_serial(_conn, text, count=1):
    wait_for_log(os.path.join(INSTANCES, NAME + '-console.log'), text, count)


def _vcpu_ns(dom):
    """Time the guest's one vCPU thread has run (ns): only the guest's own instructions move it, unlike the
    domain's CPU time, which QEMU's other threads add to while the guest is paused."""
    return dom.vcpus()[0][0][2]


def _wait_vcpu_runs(dom, since, at_least_ns=200_000_000, timeout=120):
    """Until the vCPU has run ``at_least_ns`` more than ``since``; returns its time then."""
    deadline = time.monotonic() + timeout
    while _vcpu_ns(dom) - since < at_least_ns:
        if time.monotonic() > deadline:
            raise AssertionError('the vCPU ran only %.2f s in %d s' % ((_vcpu_ns(dom) - since) / 1e9, timeout))
        time.sleep(0.2)
    return _vcpu_ns(dom)


# keeps the vCPU busy for two minutes (guest time), so that a running vCPU's time visibly grows
BUSY = 'end=$(($(cut -d. -f1 /proc/uptime) + 120)); while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do :; done'


def test_lifecycle(libvirt_conn, life, tiny_image, base_image):
    conn = libvirt_conn
    base_digest = _sha256(base_image)
    marker = tiny_image.marker

    # launch -> running
    _check_mode_changes_nothing(conn, life, state='running')
    launched = _converge(life, state='running')
    assert launched.changed and launched['guest']['state'] == 'running' and launched['guest']['power_state'] == 1
    dom = conn.lookupByName(NAME)
    assert "type='qemu'" in dom.XMLDesc(0)
    root = [d for d in launched['guest']['disks'] if d['target'] == 'vda'][0]
    vol = conn.storageVolLookupByPath(root['source'] if isinstance(root['source'], str) else root['source']['path'])
    assert base_image in vol.XMLDesc(0), 'the root disk is not an overlay of the base image'
    _wait_serial(conn, marker)
    agent.wait_for_agent(dom)
    first_boot, _uptime = agent.boot(dom)
    assert len(qemu_pids(NAME)) == 1
    agent.run(dom, ['/bin/sh', '-c', '(%s) >/dev/null 2>&1 &' % BUSY])
    running_vcpu = _wait_vcpu_runs(dom, _vcpu_ns(dom))

    # paused: the busy vCPU stops; over a second and a half it runs not at all (it ran for 0.2 s just before)
    _check_mode_changes_nothing(conn, life, state='paused')
    paused = _converge(life, state='paused')
    assert paused['guest']['state'] == 'paused' and paused['guest']['power_state'] == 3
    vcpu_paused = _vcpu_ns(dom)
    assert vcpu_paused > running_vcpu, 'the busy vCPU did not run before the pause'
    time.sleep(1.5)      # an interval of nothing happening: there is no event to wait for
    assert _vcpu_ns(dom) == vcpu_paused, 'the vCPU ran while the guest was paused'

    # running again (unpause): the vCPU runs on, in the same boot
    resumed = _converge(life, state='running')
    assert resumed['guest']['state'] == 'running'
    _wait_vcpu_runs(dom, vcpu_paused)
    assert agent.boot(dom)[0] == first_boot, 'unpausing booted the guest afresh'

    # suspended: no QEMU process, a managed-save image
    before_suspend = agent.boot(dom)
    _check_mode_changes_nothing(conn, life, state='suspended')
    suspended = _converge(life, state='suspended')
    assert suspended['guest']['state'] == 'suspended' and suspended['guest']['power_state'] == 7
    assert not dom.isActive() and dom.hasManagedSaveImage(0)
    assert suspended['guest']['managed_save'] is True
    assert qemu_pids(NAME) == [], 'a QEMU process still runs the suspended guest'

    # running: resumes where it left off, not a fresh boot: same boot id, the guest's uptime carries on
    _converge(life, state='running')
    assert dom.isActive() and not dom.hasManagedSaveImage(0) and len(qemu_pids(NAME)) == 1
    agent.wait_for_agent(dom)
    boot_id, uptime = agent.boot(dom)
    assert boot_id == first_boot and uptime >= before_suspend[1], \
        'the guest booted afresh instead of resuming: %s after %s' % ((boot_id, uptime), before_suspend)

    # stopped: a clean ACPI shutdown
    _check_mode_changes_nothing(conn, life, state='stopped')
    stopped = _converge(life, state='stopped')
    assert stopped['guest']['state'] == 'shutdown' and stopped['guest']['power_state'] == 4
    assert 'shut down cleanly' in stopped['actions']
    assert 'powering off' in _serial(conn), 'the guest was not asked to shut down (agent or ACPI)'

    # running: a fresh boot (the positive control of the checks above: a new boot has a new id)
    _converge(life, state='running')
    _wait_serial(conn, marker, count=2)
    agent.wait_for_agent(dom)
    assert agent.boot(dom)[0] != first_boot, 'a stop and start did not boot the guest afresh'

    # absent: nothing left but the base image
    _check_mode_changes_nothing(conn, life, state='absent')
    gone = _converge(life, state='absent')
    assert gone.changed and gone['guest'] is None
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(NAME)
    leftovers = [p for p in os.listdir(INSTANCES) if p.startswith(NAME)]
    assert leftovers == []
    assert _sha256(base_image) == base_digest, 'the base image was written'
