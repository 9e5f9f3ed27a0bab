"""A config drive kept in a pool is replaced only once its successor is complete.

The pool sits on a 3 MiB tmpfs holding a small drive. A new drive too big for the file system cannot be made: the
task fails in one sentence and the old drive is still there, byte for byte (deleting the old one first, or writing
in place, loses it). A new drive that fits replaces the old one, with no temporary volume left behind.
"""
import hashlib
import os
import subprocess

import pytest

from lab.checks import assert_one_sentence
from lab.guests import SHARED_DIR
from lab.runner import run_module

POOL = 'lab-cda-pool'
VOLUME = 'cda-guest-config.iso'
TMPFS = os.path.join(SHARED_DIR, 'cda-tmpfs')


@pytest.fixture
def small_pool(libvirt_conn):
    import libvirt
    os.makedirs(TMPFS, exist_ok=True)
    if os.path.ismount(TMPFS):
        subprocess.run(['umount', '-l', TMPFS], check=False)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=3m,mode=755', 'lab-cda', TMPFS], check=True)
    try:
        libvirt_conn.storagePoolLookupByName(POOL).destroy()
    except libvirt.libvirtError:
        pass
    pool = libvirt_conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, TMPFS), 0)
    yield pool
    pool.destroy()
    subprocess.run(['umount', '-l', TMPFS], check=False)


def _digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_a_drive_that_does_not_fit_leaves_the_old_one_whole(small_pool):
    params = dict(pool=POOL, volume=VOLUME, format='iso9660', name='cda-guest', uri='qemu:///system')
    made = run_module('config_drive', **params)
    assert not made.failed and made.changed, made.msg
    path = made['config_drive']['path']
    before = _digest(path)
    # 3.5 MiB of file content: more than the whole tmpfs
    big = dict(params, files=[dict(path='/var/lib/big', content='x' * (3584 * 1024))])
    refused = run_module('config_drive', **big)
    small_pool.refresh(0)
    # what the run said and what the file holds now, for a failure's message
    seen = 'the run: failed=%s changed=%s msg=%r; the drive now %d bytes' % (
        refused.failed, refused.data.get('changed'), refused.msg, os.path.getsize(path))
    assert [vol.name() for vol in small_pool.listAllVolumes(0)] == [VOLUME], (
        'the old drive is gone or a half-made one left (%s)' % seen)
    assert _digest(path) == before, 'the old drive was changed (%s)' % seen
    assert refused.failed, refused.data
    assert_one_sentence(refused.msg, VOLUME)
    # positive control: a new drive that fits replaces it, leaving nothing else
    changed = run_module('config_drive', **dict(params, hostname='cda-guest-2'))
    assert not changed.failed and changed['changes'] == ['content'], changed.data
    small_pool.refresh(0)
    assert [vol.name() for vol in small_pool.listAllVolumes(0)] == [VOLUME] and _digest(path) != before
    assert os.stat(path).st_mode & 0o777 == 0o600
