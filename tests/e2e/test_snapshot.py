"""Snapshots of a tiny guest's root disk: live under write load without a pause, cold with the state restored,
and the image boots as a new guest with the data written before the cut."""
import os
import subprocess

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-snap'
COPY = 'lab-snap-copy'
PORT, COPY_PORT = 4567, 4568
SNAP_DIR = '/var/lib/virtops-lab/shared/snapshots'
MARKER = 'virtops-snapshot-marker'
MARKER_SECTOR = 2048


@pytest.fixture(scope='module')
def snap_guest(libvirt_conn, tiny_image):
    os.makedirs(SNAP_DIR, exist_ok=True)
    base = os.path.join(SNAP_DIR, 'base-64m.qcow2')
    if not os.path.exists(base):
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '64M'], check=True)
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=base, guest_agent=True, shutdown_timeout=20,
                  serial_console=dict(type='tcp', port=PORT))
    for name in (NAME, COPY):
        run_module('guest', name=name, state='absent')
    assert not run_module('guest', **params).failed
    yield params
    for name in (NAME, COPY):
        run_module('guest', name=name, state='absent')


def _dest(name):
    path = os.path.join(SNAP_DIR, name)
    for leftover in (path, path + '.virtops-partial'):
        if os.path.exists(leftover):
            os.unlink(leftover)
    return path


def _marker_in_image(path):
    raw = path + '.raw'
    subprocess.run(['qemu-img', 'convert', '-O', 'raw', path, raw], check=True)
    try:
        with open(raw, 'rb') as handle:
            handle.seek(MARKER_SECTOR * 512)
            return MARKER.encode() in handle.read(512)
    finally:
        os.unlink(raw)


def test_live_snapshot_under_write_load(snap_guest, libvirt_conn, tiny_image):
    shell = serial_shell(PORT, "echo %s | dd of=/dev/vda bs=512 seek=%d conv=notrunc 2>/dev/null; sync; "
                               "(while true; do dd if=/dev/urandom of=/dev/vda bs=64k seek=256 count=64 conv=notrunc "
                               "2>/dev/null; done) & echo LOAD-STA''RTED" % (MARKER, MARKER_SECTOR))
    assert 'LOAD-STARTED' in shell
    dest = _dest('live.qcow2')
    checked = run_module('snapshot', check=True, guest=NAME, dest=dest)
    assert not checked.failed and checked.changed and not os.path.exists(dest)
    boot_id = libvirt_conn.lookupByName(NAME).ID()
    result = run_module('snapshot', guest=NAME, dest=dest, quiesce=True)
    assert not result.failed, result.msg
    snap = result['snapshot']
    assert snap['mode'] == 'live' and snap['guest_paused_seconds'] == 0.0 and snap['duration_seconds'] > 0
    assert libvirt_conn.lookupByName(NAME).ID() == boot_id and libvirt_conn.lookupByName(NAME).state()[0] == 1
    assert os.path.exists(dest) and not os.path.exists(dest + '.virtops-partial')
    info = subprocess.run(['qemu-img', 'info', dest], capture_output=True, text=True, check=True).stdout
    assert 'backing file' not in info, 'the snapshot still depends on a backing file'
    assert _marker_in_image(dest), 'data written before the snapshot is missing from it'
    assert '<mirror' not in libvirt_conn.lookupByName(NAME).XMLDesc(0), 'the copy job was left running'
    again = run_module('snapshot', guest=NAME, dest=dest)
    assert not again.failed and not again.changed

    copy = run_module('guest', name=COPY, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel,
                      initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, image=dest,
                      serial_console=dict(type='tcp', port=COPY_PORT))
    assert not copy.failed, copy.msg
    out = serial_shell(COPY_PORT, 'dd if=/dev/vda bs=512 skip=%d count=1 2>/dev/null | head -c 40' % MARKER_SECTOR)
    assert MARKER in out, out
    run_module('guest', name=COPY, state='absent')


def test_cold_snapshot_of_a_running_guest_restores_its_state(snap_guest, libvirt_conn):
    dest = _dest('cold.qcow2')
    result = run_module('snapshot', guest=NAME, dest=dest, mode='cold')
    assert not result.failed, result.msg
    assert result['snapshot']['mode'] == 'cold' and result['snapshot']['guest_paused_seconds'] > 0
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.state()[0] == 1 and not dom.hasManagedSaveImage(0), 'the guest is not running again as it was'
    assert _marker_in_image(dest)


def test_cold_snapshot_of_a_stopped_guest(snap_guest, libvirt_conn):
    assert not run_module('guest', **dict(snap_guest, state='stopped')).failed
    dest = _dest('stopped.raw')
    result = run_module('snapshot', guest=NAME, dest=dest, format='raw')
    assert not result.failed, result.msg
    assert result['snapshot']['mode'] == 'cold' and libvirt_conn.lookupByName(NAME).state()[0] == 5
    assert _marker_in_image(dest)
    assert not run_module('guest', **snap_guest).failed


@pytest.mark.parametrize('params, words', [
    (dict(guest='lab-snap-nobody', dest=SNAP_DIR + '/x.qcow2'), ['lab-snap-nobody', 'does not exist']),
    (dict(guest=NAME, dest='/nonexistent-dir/x.qcow2'), [NAME, '/nonexistent-dir/x.qcow2', 'does not exist']),
    (dict(guest=NAME, dest=SNAP_DIR + '/x.qcow2', disk='vdq'), [NAME, 'vdq']),
])
def test_bad_input(snap_guest, libvirt_conn, params, words):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('snapshot', **params)
    assert result.failed
    assert_one_sentence(result.msg, *words)
    assert libvirt_snapshot(libvirt_conn) == before
    assert not os.path.exists(SNAP_DIR + '/x.qcow2')
