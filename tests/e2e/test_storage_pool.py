"""The storage_pool module against the lab's libvirtd: define, build, start, stop, autostart and removal of dir pools."""
import os
import re
import shutil

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module

POOLS_DIR = '/var/lib/virtops-lab/pools'


def _drop_pool(conn, name):
    import libvirt
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    if pool.isActive():
        pool.destroy()
    pool.undefine()


@pytest.fixture
def pool(libvirt_conn, request):
    """A pool name and directory for this test only; whatever the test left is removed afterwards."""
    name = 'lab-sp-' + re.sub(r'[^a-z0-9]+', '-', request.node.name.lower().replace('test_', ''))[:40].strip('-')
    path = os.path.join(POOLS_DIR, name)
    _drop_pool(libvirt_conn, name)
    shutil.rmtree(path, ignore_errors=True)
    yield name, path
    _drop_pool(libvirt_conn, name)
    shutil.rmtree(path, ignore_errors=True)


def _libvirt_pool(conn, name):
    return conn.storagePoolLookupByName(name)


def test_check_mode_defines_nothing(libvirt_conn, pool):
    name, path = pool
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('storage_pool', check=True, diff=True, name=name, path=path)
    assert not result.failed, result.msg
    assert result.changed
    assert result['pool']['state'] == 'active' and result['pool']['path'] == path and result['pool']['autostart'] is True
    assert result['diff']['before']['state'] == 'absent' and result['diff']['after']['state'] == 'active'
    assert libvirt_snapshot(libvirt_conn) == before
    assert not os.path.exists(path)


def test_present_defines_builds_starts_and_autostarts_once(libvirt_conn, pool):
    name, path = pool
    first = run_module('storage_pool', diff=True, name=name, path=path + '/')
    assert not first.failed, first.msg
    assert first.changed
    assert first['diff'] == {'before': {'state': 'absent', 'type': None, 'path': None, 'autostart': None},
                             'after': {'state': 'active', 'type': 'dir', 'path': path, 'autostart': True}}
    made = _libvirt_pool(libvirt_conn, name)
    assert made.isActive() and made.autostart()
    assert os.path.isdir(path)
    reported = first['pool']
    assert reported['name'] == name and reported['type'] == 'dir' and reported['path'] == path
    assert reported['volumes'] == [] and reported['capacity_bytes'] > 0 and reported['available_bytes'] > 0
    before = libvirt_snapshot(libvirt_conn)
    again = run_module('storage_pool', diff=True, name=name, path=path)
    assert not again.failed and not again.changed and again['diff'] == {'before': {}, 'after': {}}
    assert run_module('storage_pool', name=name, state='active').changed is False
    assert libvirt_snapshot(libvirt_conn) == before


def test_inactive_stops_and_active_starts_again(libvirt_conn, pool):
    name, path = pool
    created = run_module('storage_pool', name=name, path=path, state='inactive')
    assert not created.failed, created.msg
    assert created['pool']['state'] == 'inactive' and created['pool']['autostart'] is False
    assert os.path.isdir(path) and not _libvirt_pool(libvirt_conn, name).isActive()
    before = libvirt_snapshot(libvirt_conn)
    assert run_module('storage_pool', check=True, name=name, state='present').changed
    assert libvirt_snapshot(libvirt_conn) == before
    started = run_module('storage_pool', diff=True, name=name, state='present')
    assert started.changed and started['diff'] == {'before': {'state': 'inactive'}, 'after': {'state': 'active'}}
    assert _libvirt_pool(libvirt_conn, name).isActive()
    stopped = run_module('storage_pool', name=name, state='inactive')
    assert stopped.changed and not _libvirt_pool(libvirt_conn, name).isActive()
    assert not run_module('storage_pool', name=name, state='inactive').changed


def test_autostart_follows_the_option(libvirt_conn, pool):
    name, path = pool
    assert run_module('storage_pool', name=name, path=path, autostart=False)['pool']['autostart'] is False
    assert not _libvirt_pool(libvirt_conn, name).autostart()
    turned = run_module('storage_pool', diff=True, name=name, autostart=True)
    assert turned.changed and turned['diff'] == {'before': {'autostart': False}, 'after': {'autostart': True}}
    assert _libvirt_pool(libvirt_conn, name).autostart()
    # left out, the setting stays as it is
    assert not run_module('storage_pool', name=name).changed
    assert _libvirt_pool(libvirt_conn, name).autostart()


def test_path_change_is_refused(libvirt_conn, pool):
    name, path = pool
    assert not run_module('storage_pool', name=name, path=path).failed
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('storage_pool', name=name, path=path + '-elsewhere')
    assert result.failed
    assert_one_sentence(result.msg, "storage pool '%s'" % name, path + '-elsewhere', "'%s'" % path)
    assert libvirt_snapshot(libvirt_conn) == before


@pytest.mark.parametrize('params, names', [
    (dict(path=None), ['does not exist', 'path']),
    (dict(path='relative/dir'), ['relative/dir', 'absolute']),
], ids=['new pool without a path', 'relative path'])
def test_bad_input_is_refused_and_changes_nothing(libvirt_conn, pool, params, names):
    name, _path = pool
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('storage_pool', name=name, **params)
    assert result.failed
    assert_one_sentence(result.msg, "storage pool '%s'" % name, *names)
    assert libvirt_snapshot(libvirt_conn) == before


def test_absent_with_delete_path_is_refused_while_volumes_remain(libvirt_conn, pool):
    name, path = pool
    assert not run_module('storage_pool', name=name, path=path).failed
    for vol in ('data1.qcow2', 'data2.qcow2'):
        assert not run_module('volume', pool=name, name=vol, size_gb=1).failed
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('storage_pool', name=name, state='absent', delete_path=True)
    assert refused.failed
    assert_one_sentence(refused.msg, "storage pool '%s'" % name, "'data1.qcow2', 'data2.qcow2'")
    assert libvirt_snapshot(libvirt_conn) == before
    # an inactive pool lists no volumes; the module still finds them, and leaves the pool inactive
    assert run_module('storage_pool', name=name, state='inactive').changed
    stopped = libvirt_snapshot(libvirt_conn)
    refused = run_module('storage_pool', name=name, state='absent', delete_path=True)
    assert refused.failed
    assert_one_sentence(refused.msg, "storage pool '%s'" % name, "'data1.qcow2', 'data2.qcow2'")
    assert libvirt_snapshot(libvirt_conn) == stopped and os.path.isfile(os.path.join(path, 'data1.qcow2'))


def test_absent_keeps_the_directory_unless_told(libvirt_conn, pool):
    name, path = pool
    assert not run_module('storage_pool', name=name, path=path).failed
    assert not run_module('volume', pool=name, name='kept.qcow2', size_gb=1).failed
    before = libvirt_snapshot(libvirt_conn)
    assert run_module('storage_pool', check=True, name=name, state='absent').changed
    assert libvirt_snapshot(libvirt_conn) == before
    removed = run_module('storage_pool', diff=True, name=name, state='absent')
    assert not removed.failed and removed.changed and removed['pool'] is None
    assert removed['diff']['before']['state'] == 'active' and removed['diff']['after']['state'] == 'absent'
    assert 'pool:' + name not in libvirt_snapshot(libvirt_conn)
    assert os.path.isfile(os.path.join(path, 'kept.qcow2'))
    assert not run_module('storage_pool', name=name, state='absent').changed
    # defined again over the same directory, the pool finds its volume again
    assert run_module('storage_pool', name=name, path=path)['pool']['volumes'] == ['kept.qcow2']


def test_absent_with_delete_path_removes_an_empty_pool_and_its_directory(libvirt_conn, pool):
    name, path = pool
    assert not run_module('storage_pool', name=name, path=path).failed
    assert not run_module('volume', pool=name, name='gone.qcow2', size_gb=1).failed
    assert run_module('volume', pool=name, name='gone.qcow2', state='absent').changed
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('storage_pool', check=True, diff=True, name=name, state='absent', delete_path=True)
    assert checked.changed and checked['diff']['before']['directory'] == path
    assert libvirt_snapshot(libvirt_conn) == before and os.path.isdir(path)
    removed = run_module('storage_pool', name=name, state='absent', delete_path=True)
    assert not removed.failed, removed.msg
    assert removed.changed and not os.path.exists(path)
    assert 'pool:' + name not in libvirt_snapshot(libvirt_conn)
    assert not run_module('storage_pool', name=name, state='absent', delete_path=True).changed


def test_a_stranger_file_keeps_the_pool_as_it_was(libvirt_conn, pool):
    name, path = pool
    assert not run_module('storage_pool', name=name, path=path).failed
    os.mkfifo(os.path.join(path, 'not-a-volume'))
    # libvirt lists no volume for a FIFO, but the pool's directory cannot be removed around it
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('storage_pool', name=name, state='absent', delete_path=True)
    assert result.failed
    assert_one_sentence(result.msg, "storage pool '%s'" % name, path, 'left active')
    assert libvirt_snapshot(libvirt_conn) == before and _libvirt_pool(libvirt_conn, name).isActive()
