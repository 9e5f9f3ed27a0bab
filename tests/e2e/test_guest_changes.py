"""Changing a running guest: live disk QoS that really throttles, live root growth, restarts only when allowed."""
import os
import re
import subprocess
import time

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-changes'
SERIAL_PORT = 4562
BASE_DIR = '/var/lib/virtops-lab/shared/bases'


@pytest.fixture(scope='module')
def changes_guest(libvirt_conn, tiny_image):
    os.makedirs(BASE_DIR, exist_ok=True)
    base = os.path.join(BASE_DIR, 'pattern-64m.raw')
    if not os.path.exists(base):
        subprocess.run(['dd', 'if=/dev/urandom', 'of=' + base, 'bs=1M', 'count=64', 'status=none'], check=True)
    params = dict(name=NAME, virt_type='qemu', memory_mb=192, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=base, serial_console=dict(type='tcp', port=SERIAL_PORT),
                  shutdown_timeout=30)
    run_module('guest', name=NAME, state='absent')
    result = run_module('guest', **params)
    assert not result.failed, result.msg
    yield params, libvirt_conn.lookupByName(NAME)
    run_module('guest', name=NAME, state='absent')


def _boot_id(conn):
    """The running domain's id, asked afresh (a virDomain object keeps the id it was looked up with)."""
    return conn.lookupByName(NAME).ID()


def _shell(command, timeout=120):
    return serial_shell(SERIAL_PORT, command, timeout)


def _read_seconds(skip_blocks):
    out = _shell('time dd if=/dev/vda of=/dev/null bs=64k count=64 skip=%d' % skip_blocks)
    match = re.search(r'real\s+(\d+)m\s*([\d.]+)s', out)
    assert match, out
    return int(match.group(1)) * 60 + float(match.group(2))


def test_disk_qos_applies_live_and_throttles(changes_guest, libvirt_conn):
    params, dom = changes_guest
    boot_id = _boot_id(libvirt_conn)
    free = _read_seconds(0)
    limited = dict(params, disk_qos=dict(total_bytes_sec=512 * 1024))
    result = run_module('guest', **limited)
    assert not result.failed, result.msg
    assert result.changed and result['changes'] == ['disk_qos']
    assert any('live' in action for action in result['actions'])
    assert _boot_id(libvirt_conn) == boot_id, 'the guest was restarted for a live change'
    assert dom.blockIoTune('vda', 0)['total_bytes_sec'] == 512 * 1024
    throttled = _read_seconds(256)
    # 4 MiB at 512 KiB/s takes about 8 s; unthrottled it is far quicker.
    assert throttled > 5 and throttled > 3 * free, (free, throttled)
    assert not run_module('guest', **limited).changed
    assert run_module('guest', **dict(params, disk_qos={})).changed
    assert dom.blockIoTune('vda', 0)['total_bytes_sec'] == 0


def test_root_disk_grows_live_and_never_shrinks(changes_guest, libvirt_conn):
    params, dom = changes_guest
    boot_id = _boot_id(libvirt_conn)
    grown = run_module('guest', **dict(params, root_size_gb=1))
    assert not grown.failed, grown.msg
    assert grown.changed and grown['changes'] == ['root_size_gb']
    assert dom.blockInfo('vda', 0)[0] == 1024 ** 3 and _boot_id(libvirt_conn) == boot_id
    assert '2097152' in _shell('cat /sys/block/vda/size'), 'the running guest was not told of the new size'
    assert not run_module('guest', **dict(params, root_size_gb=1)).changed
    assert run_module('guest', **dict(params, root_size_gb=2)).changed
    before = libvirt_snapshot(libvirt_conn)
    smaller = run_module('guest', **dict(params, root_size_gb=1))
    assert smaller.failed
    assert_one_sentence(smaller.msg, NAME, 'shrinking is refused')
    assert libvirt_snapshot(libvirt_conn) == before


def test_restart_only_when_allowed(changes_guest, libvirt_conn):
    params, dom = changes_guest
    boot_id = _boot_id(libvirt_conn)
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('guest', **dict(params, vcpus=2))
    assert refused.failed
    assert_one_sentence(refused.msg, NAME, 'vcpus', 'allow_restart')
    assert libvirt_snapshot(libvirt_conn) == before and _boot_id(libvirt_conn) == boot_id
    allowed = run_module('guest', **dict(params, vcpus=2, allow_restart=True))
    assert not allowed.failed, allowed.msg
    assert allowed['guest']['vcpus'] == 2 and allowed['guest']['state'] == 'running'
    assert _boot_id(libvirt_conn) != boot_id
    assert not run_module('guest', **dict(params, vcpus=2)).changed


def _wait(predicate, timeout=60):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(1)
    return predicate()


def test_vcpus_and_memory_change_live_below_their_maxima(changes_guest, libvirt_conn):
    params = dict(changes_guest[0], vcpus=2, max_vcpus=3, max_memory_mb=256)
    roomy = run_module('guest', **dict(params, allow_restart=True))
    assert not roomy.failed, roomy.msg
    assert {'max_memory_mb', 'max_vcpus'} <= set(roomy['changes'])
    boot_id = _boot_id(libvirt_conn)
    assert _wait(lambda: 'boot complete' in _shell('echo boot complete', timeout=30))
    grown = run_module('guest', **dict(params, vcpus=3, memory_mb=128))
    assert not grown.failed, grown.msg
    assert sorted(grown['changes']) == ['memory_mb', 'vcpus']
    assert any('live' in action for action in grown['actions']), grown['actions']
    dom = libvirt_conn.lookupByName(NAME)
    assert _boot_id(libvirt_conn) == boot_id, 'the guest was restarted for a live change'
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 3
    assert 'cpu2' in _shell('ls /sys/devices/system/cpu'), 'the guest did not see the new vCPU'
    # the balloon driver in the guest gives the memory back; libvirt reports what it holds now
    assert _wait(lambda: dom.info()[2] <= 130 * 1024), dom.info()
    assert run_module('guest_info', name=NAME)['guests'][0]['vcpus'] == 3
    assert not run_module('guest', **dict(params, vcpus=3, memory_mb=128)).changed


def test_vcpus_that_cannot_unplug_live_apply_with_a_restart_when_allowed(changes_guest, libvirt_conn):
    """vCPUs the guest booted with are not hot-unpluggable: the live change fails, and a restart applies it only when
    allow_restart is set."""
    params = dict(changes_guest[0], vcpus=3, max_vcpus=3, memory_mb=128, max_memory_mb=256)
    assert not run_module('guest', **dict(params, allow_restart=True)).failed
    boot_id = _boot_id(libvirt_conn)
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('guest', **dict(params, vcpus=1))
    assert refused.failed
    assert_one_sentence(refused.msg, NAME, 'vcpus', 'allow_restart')
    assert libvirt_snapshot(libvirt_conn) == before and _boot_id(libvirt_conn) == boot_id
    lowered = run_module('guest', **dict(params, vcpus=1, allow_restart=True))
    assert not lowered.failed, lowered.msg
    assert any('restarted' in note for note in lowered['actions']), lowered['actions']
    assert lowered['guest']['vcpus'] == 1 and lowered['guest']['state'] == 'running'
    assert _boot_id(libvirt_conn) != boot_id
    assert not run_module('guest', **dict(params, vcpus=1)).changed
