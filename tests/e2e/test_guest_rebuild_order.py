"""A rebuild makes the new root disk before it lets go of the old one.

The guest's instance pool is a small tmpfs, filled up after the guest started: there is no room for a second root
disk. The rebuild fails in one sentence and the guest is as it was: running, on its old root disk (the data it wrote
there is still there, read from inside the guest). Deleting the old disk first would have made room and thrown the
guest's data away before anything could fail.
"""
import os
import subprocess

import pytest

from lab import guests
from lab.checks import assert_one_sentence
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-rebuild-full'
PORT = 4586
POOL = 'lab-rbf-pool'
BASE_DIR = os.path.join(guests.SHARED_DIR, 'rebuild-order')
TMPFS = os.path.join(BASE_DIR, 'pool')
MARKER = 'written-before-the-rebuild'


@pytest.fixture
def full_pool_guest(libvirt_conn, tiny_image):
    import libvirt
    os.makedirs(TMPFS, exist_ok=True)
    if os.path.ismount(TMPFS):
        subprocess.run(['umount', '-l', TMPFS], check=False)
    # mounted before the guest starts: QEMU's mount namespace sees only what was there when it started
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m,mode=755', 'lab-rbf', TMPFS], check=True)
    try:
        libvirt_conn.storagePoolLookupByName(POOL).destroy()
    except libvirt.libvirtError:
        pass
    pool = libvirt_conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, TMPFS), 0)
    params = dict(name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=guests.image_with_marker(BASE_DIR, 'image-A-marker'),
                  storage_pool=POOL, serial_console=dict(type='tcp', port=PORT), shutdown_timeout=10)
    run_module('guest', name=NAME, state='absent', storage_pool=POOL)
    made = run_module('guest', **params)
    assert not made.failed, made.msg
    try:
        yield params
    finally:
        run_module('guest', name=NAME, state='absent', storage_pool=POOL)
        pool.destroy()
        subprocess.run(['umount', '-l', TMPFS], check=False)


def test_a_rebuild_without_room_for_the_new_disk_keeps_the_old_one(full_pool_guest, libvirt_conn):
    out = serial_shell(PORT, 'echo %s | dd of=/dev/vda bs=512 seek=200 conv=notrunc 2>/dev/null; sync; '
                             'echo wrote-$((6*7))' % MARKER)
    assert 'wrote-42' in out, out
    stat = os.statvfs(TMPFS)
    filler = os.path.join(TMPFS, 'filler')
    # leave less than a qcow2 overlay needs (its header, refcount table and L1 table: a few clusters)
    subprocess.run(['dd', 'if=/dev/zero', 'of=' + filler, 'bs=4096',
                    'count=%d' % max(stat.f_bavail - 16, 0)], capture_output=True, check=False)
    uuid = libvirt_conn.lookupByName(NAME).UUIDString()
    result = run_module('guest_action', name=NAME, action='rebuild',
                        image=guests.image_with_marker(BASE_DIR, 'image-B-marker'))
    os.unlink(filler)
    assert result.failed, result.data
    assert_one_sentence(result.msg, NAME, 'as it was')
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.UUIDString() == uuid and dom.isActive(), 'the guest is not running again'
    assert sorted(os.listdir(TMPFS)) == ['%s-console.log' % NAME, '%s-root.qcow2' % NAME], os.listdir(TMPFS)
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=200 count=1 2>/dev/null | head -c 26; echo; '
                             'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 14; echo')
    assert MARKER in out and 'image-A-marker' in out, out
    # positive control: with room again, the same rebuild goes through
    rebuilt = run_module('guest_action', name=NAME, action='rebuild',
                         image=guests.image_with_marker(BASE_DIR, 'image-B-marker'))
    assert not rebuilt.failed, rebuilt.msg
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 14; echo')
    assert 'image-B-marker' in out, out
