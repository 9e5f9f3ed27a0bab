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

from lab.checks import libvirt_snapshot
from lab.console import wait_for_log
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

    # paused: the CPU time stops growing
    _check_mode_changes_nothing(conn, life, state='paused')
    paused = _converge(life, state='paused')
    assert paused['guest']['state'] == 'paused' and paused['guest']['power_state'] == 3
    cpu_before = dom.info()[4]
    time.sleep(2)
    assert dom.info()[4] == cpu_before

    # running again (unpause), without a new boot
    resumed = _converge(life, state='running')
    assert resumed['guest']['state'] == 'running'
    time.sleep(1)
    assert dom.info()[4] > cpu_before

    # suspended: no QEMU process, a managed-save image
    _check_mode_changes_nothing(conn, life, state='suspended')
    suspended = _converge(life, state='suspended')
    assert suspended['guest']['state'] == 'suspended' and suspended['guest']['power_state'] == 7
    assert not dom.isActive() and dom.hasManagedSaveImage(0)
    assert suspended['guest']['managed_save'] is True

    # running: resumes where it left off, not a fresh boot
    _converge(life, state='running')
    assert dom.isActive() and not dom.hasManagedSaveImage(0)
    time.sleep(2)
    assert _serial(conn).count(marker) == 1, 'the guest booted afresh instead of resuming'

    # stopped: a clean ACPI shutdown
    _check_mode_changes_nothing(conn, life, state='stopped')
    stopped = _converge(life, state='stopped')
    assert stopped['guest']['state'] == 'shutdown' and stopped['guest']['power_state'] == 4
    assert 'shut down cleanly' in stopped['actions']
    assert 'powering off' in _serial(conn), 'the guest was not asked to shut down (agent or ACPI)'

    # running: a fresh boot
    _converge(life, state='running')
    _wait_serial(conn, marker, count=2)

    # absent: nothing left but the base image
    _check_mode_changes_nothing(conn, life, state='absent')
    gone = _converge(life, state='absent')
    assert gone.changed and gone['guest'] is None
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(NAME)
    leftovers = [p for p in os.listdir(INSTANCES) if p.startswith(NAME)]
    assert leftovers == []
    assert _sha256(base_image) == base_digest, 'the base image was written'
