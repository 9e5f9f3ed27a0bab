"""Changing a running guest: live disk QoS that really throttles, live root growth, restarts only when allowed."""
import os
import re
import subprocess
import time

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import assert_shell_answers, serial_shell
from lab.disk_io import BLOCK, read_seconds, throttled_minimum
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


def _guest_cpus_and_memory_kib():
    """What the running guest's kernel has: (CPUs present, MemTotal in KiB)."""
    out = _shell('cat /sys/devices/system/cpu/present; grep MemTotal /proc/meminfo')
    present = re.search(r'^(\d+)(?:-(\d+))?$', out.strip().splitlines()[0])
    memory = re.search(r'MemTotal:\s+(\d+) kB', out)
    assert present and memory, out
    return int(present.group(2) or present.group(1)) + 1, int(memory.group(1))


def _guest_until(what, accept, timeout=90):
    """Poll the guest's CPUs and memory until ``accept(cpus, memory_kib)``; raises naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _guest_cpus_and_memory_kib()
        if accept(*seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError('the guest never showed %s within %d s: CPUs, MemTotal KiB = %s' % (what, timeout, seen))
        time.sleep(1)


LIMIT = 512 * 1024          # bytes/s: the root disk's total_bytes_sec while throttled


def test_disk_qos_applies_live_and_throttles(changes_guest, libvirt_conn):
    params, dom = changes_guest
    boot_id = _boot_id(libvirt_conn)
    limited = dict(params, disk_qos=dict(total_bytes_sec=LIMIT))
    result = run_module('guest', **limited)
    assert not result.failed, result.msg
    assert result.changed and result['changes'] == ['disk_qos']
    assert any('live' in action for action in result['actions'])
    assert _boot_id(libvirt_conn) == boot_id, 'the guest was restarted for a live change'
    assert dom.blockIoTune('vda', 0)['total_bytes_sec'] == LIMIT
    # 4 MiB under 512 KiB/s: no less than about 7.8 s, however fast or loaded the machine
    blocks = 64
    throttled = read_seconds(SERIAL_PORT, 'vda', 256, blocks)
    assert throttled >= throttled_minimum(blocks * BLOCK, LIMIT), (throttled, throttled_minimum(blocks * BLOCK, LIMIT))
    assert not run_module('guest', **limited).changed
    assert run_module('guest', **dict(params, disk_qos={})).changed
    assert dom.blockIoTune('vda', 0)['total_bytes_sec'] == 0
    # lifted: 16 MiB (not read before) faster than the old limit allows, serial round trip included
    blocks = 256
    lifted = read_seconds(SERIAL_PORT, 'vda', 512, blocks)
    assert lifted < blocks * BLOCK / LIMIT, 'the lifted limit still holds: %.1f s for 16 MiB' % lifted


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
    assert_shell_answers(SERIAL_PORT)
    assert _guest_cpus_and_memory_kib()[0] == 2, 'the restarted guest does not have 2 vCPUs'
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
    assert_shell_answers(SERIAL_PORT)
    assert _guest_cpus_and_memory_kib()[0] == 2
    grown = run_module('guest', **dict(params, vcpus=3, memory_mb=128))
    assert not grown.failed, grown.msg
    assert sorted(grown['changes']) == ['memory_mb', 'vcpus']
    assert any('live' in action for action in grown['actions']), grown['actions']
    dom = libvirt_conn.lookupByName(NAME)
    assert _boot_id(libvirt_conn) == boot_id, 'the guest was restarted for a live change'
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 3
    # the guest's kernel has the hot-plugged vCPU, and its balloon driver gave the memory back
    _guest_until('3 vCPUs present', lambda cpus, _memory: cpus == 3)
    assert _wait(lambda: dom.info()[2] <= 130 * 1024), dom.info()
    _guest_until('at most 128 MiB of memory', lambda _cpus, memory: memory <= 128 * 1024)
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
    _guest_until('1 vCPU after the restart', lambda cpus, _memory: cpus == 1)
    assert not run_module('guest', **dict(params, vcpus=1)).changed
