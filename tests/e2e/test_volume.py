"""The volume module against the lab's libvirtd: empty, copied and backed volumes, growing, and guarded removal."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.guests import domain_xml, remove_guest, remove_guest_files, start_guest
from lab.runner import run_module

GIB = 1024 ** 3
MIB = 1024 ** 2
POOLS_DIR = '/var/lib/virtops-lab/pools'
POOL = 'lab-vol-pool'
IMAGE_POOL = 'lab-vol-images'
# images here are in no storage pool: the module uploads them itself
LOOSE_DIR = '/var/lib/virtops-lab/vol-images'
USER_GUEST = 'lab-vol-user'
RUNNING_GUEST = 'lab-vol-runner'


def _drop_pool(conn, name):
    import libvirt
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    if pool.isActive():
        pool.destroy()
    pool.undefine()


def _drop_guest(conn, name):
    import libvirt
    try:
        conn.lookupByName(name).undefine()
    except libvirt.libvirtError:
        pass


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def _qemu_img_info(path):
    out = subprocess.run(['qemu-img', 'info', '-U', '--output=json', path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _same_contents(image, copy):
    """qemu-img compare: equal guest-visible data (a larger copy must read zeros past the image's end)."""
    return subprocess.run(['qemu-img', 'compare', '-U', image, copy], capture_output=True, text=True, check=False).returncode == 0


@pytest.fixture(scope='module')
def pools(libvirt_conn):
    """The pool volumes are made in, and a pool holding the base image; both removed with their directories."""
    dirs = [os.path.join(POOLS_DIR, POOL), os.path.join(POOLS_DIR, IMAGE_POOL), LOOSE_DIR]
    for name in (POOL, IMAGE_POOL):
        _drop_pool(libvirt_conn, name)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(LOOSE_DIR)
    raw = os.path.join(LOOSE_DIR, 'base.raw')
    with open(raw, 'wb') as handle:
        handle.write(os.urandom(3 * MIB))
        handle.seek(20 * MIB - 4096)
        handle.write(b'end of the base image'.ljust(4096, b'.'))
    subprocess.run(['qemu-img', 'convert', '-O', 'qcow2', raw, os.path.join(LOOSE_DIR, 'base.qcow2')], check=True)
    big = os.path.join(LOOSE_DIR, 'big.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', big, '2G'], check=True)
    os.makedirs(dirs[1])
    shutil.copy(os.path.join(LOOSE_DIR, 'base.qcow2'), os.path.join(dirs[1], 'base.qcow2'))
    for name, path in ((POOL, dirs[0]), (IMAGE_POOL, dirs[1])):
        result = run_module('storage_pool', name=name, path=path, autostart=False)
        assert not result.failed, result.msg
    yield dict(pool_path=dirs[0], pooled_image=os.path.join(dirs[1], 'base.qcow2'),
               loose_qcow2=os.path.join(LOOSE_DIR, 'base.qcow2'), loose_raw=raw, loose_big=big)
    _drop_guest(libvirt_conn, USER_GUEST)
    for name in (POOL, IMAGE_POOL):
        _drop_pool(libvirt_conn, name)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def volume(libvirt_conn, pools, request):
    """A volume name in POOL for this test; the volume is deleted afterwards."""
    name = request.node.originalname.replace('test_', '')[:40] + '.img'
    yield name
    _drop_guest(libvirt_conn, USER_GUEST)
    pool = libvirt_conn.storagePoolLookupByName(POOL)
    pool.refresh(0)
    for vol in pool.listAllVolumes(0):
        vol.delete(0)


def test_check_mode_creates_nothing(libvirt_conn, pools, volume):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('volume', check=True, diff=True, pool=POOL, name=volume, size_gb=1)
    assert not result.failed, result.msg
    assert result.changed and result['volume']['capacity_bytes'] == GIB
    assert result['volume']['path'] == os.path.join(pools['pool_path'], volume)
    assert result['diff']['before']['state'] == 'absent' and result['diff']['after']['state'] == 'present'
    assert libvirt_snapshot(libvirt_conn) == before
    assert not os.path.exists(os.path.join(pools['pool_path'], volume))


def test_create_is_idempotent_and_diffs(libvirt_conn, pools, volume):
    made = run_module('volume', diff=True, pool=POOL, name=volume, size_gb=1)
    assert not made.failed, made.msg
    assert made.changed
    assert made['diff'] == {'before': {'state': 'absent', 'format': None, 'capacity_bytes': None},
                            'after': {'state': 'present', 'format': 'qcow2', 'capacity_bytes': GIB}}
    reported = made['volume']
    assert reported['name'] == volume and reported['pool'] == POOL and reported['backing'] is None
    info = _qemu_img_info(reported['path'])
    assert info['format'] == 'qcow2' and info['virtual-size'] == GIB
    vol = libvirt_conn.storagePoolLookupByName(POOL).storageVolLookupByName(volume)
    assert vol.info()[1] == GIB and vol.path() == reported['path']
    before = libvirt_snapshot(libvirt_conn)
    again = run_module('volume', diff=True, pool=POOL, name=volume, size_gb=1)
    assert not again.failed and not again.changed and again['diff'] == {'before': {}, 'after': {}}
    assert not run_module('volume', pool=POOL, name=volume).changed
    assert libvirt_snapshot(libvirt_conn) == before


def test_raw_volume_is_sparse_and_raw(pools, volume):
    made = run_module('volume', pool=POOL, name=volume, size_gb=1, format='raw')
    assert not made.failed, made.msg
    info = _qemu_img_info(made['volume']['path'])
    assert info['format'] == 'raw' and info['virtual-size'] == GIB
    assert made['volume']['allocation_bytes'] < GIB


def test_grow(libvirt_conn, pools, volume):
    assert not run_module('volume', pool=POOL, name=volume, size_gb=1).failed
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('volume', check=True, pool=POOL, name=volume, size_gb=2)
    assert checked.changed and checked['volume']['capacity_bytes'] == 2 * GIB
    assert libvirt_snapshot(libvirt_conn) == before
    grown = run_module('volume', diff=True, pool=POOL, name=volume, size_gb=2)
    assert not grown.failed, grown.msg
    assert grown.changed and grown['diff'] == {'before': {'capacity_bytes': GIB}, 'after': {'capacity_bytes': 2 * GIB}}
    assert _qemu_img_info(grown['volume']['path'])['virtual-size'] == 2 * GIB
    assert not run_module('volume', pool=POOL, name=volume, size_gb=2).changed


def test_shrink_is_refused(libvirt_conn, pools, volume):
    assert not run_module('volume', pool=POOL, name=volume, size_gb=2).failed
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('volume', pool=POOL, name=volume, size_gb=1)
    assert refused.failed
    assert refused.msg == ("volume '%s' in pool '%s': size_gb 1 is smaller than the volume's 2 GiB; shrinking is refused."
                           % (volume, POOL))
    assert_one_sentence(refused.msg)
    assert libvirt_snapshot(libvirt_conn) == before


@pytest.mark.parametrize('image_key, fmt', [('loose_qcow2', 'qcow2'), ('loose_raw', 'raw'), ('pooled_image', 'qcow2'),
                                            ('pooled_image', 'raw')],
                         ids=['uploaded qcow2', 'uploaded raw', 'copied by libvirt', 'converted to raw by libvirt'])
def test_full_copy_of_an_image(libvirt_conn, pools, volume, image_key, fmt):
    image = pools[image_key]
    base_sum = _sha256(image)
    before = libvirt_snapshot(libvirt_conn)
    assert run_module('volume', check=True, pool=POOL, name=volume, format=fmt, from_image=image).changed
    assert libvirt_snapshot(libvirt_conn) == before
    made = run_module('volume', pool=POOL, name=volume, format=fmt, from_image=image)
    assert not made.failed, made.msg
    copy = made['volume']
    assert made.changed and copy['backing'] is None and copy['format'] == fmt and copy['capacity_bytes'] == 20 * MIB
    info = _qemu_img_info(copy['path'])
    assert info['format'] == fmt and 'backing-filename' not in info
    assert _same_contents(image, copy['path'])
    # an independent copy: writing into it leaves the image as it was
    subprocess.run(['qemu-io', '-f', fmt, '-c', 'write -P 0x5a 0 1M', copy['path']], check=True, capture_output=True)
    assert not _same_contents(image, copy['path']) and _sha256(image) == base_sum
    assert not run_module('volume', pool=POOL, name=volume, format=fmt, from_image=image).changed


def test_full_copy_grown_to_size_gb(pools, volume):
    made = run_module('volume', pool=POOL, name=volume, from_image=pools['loose_qcow2'], size_gb=1)
    assert not made.failed, made.msg
    assert made['volume']['capacity_bytes'] == GIB and _qemu_img_info(made['volume']['path'])['virtual-size'] == GIB
    assert _same_contents(pools['loose_qcow2'], made['volume']['path'])


def test_overlay_on_an_image(libvirt_conn, pools, volume):
    image = pools['pooled_image']
    base_sum = _sha256(image)
    made = run_module('volume', diff=True, pool=POOL, name=volume, from_image=image, backing=True, size_gb=1)
    assert not made.failed, made.msg
    overlay = made['volume']
    assert made.changed and overlay['backing'] == image and made['diff']['after']['backing'] == image
    info = _qemu_img_info(overlay['path'])
    assert info['backing-filename'] == image and info['virtual-size'] == GIB
    assert overlay['allocation_bytes'] < 2 * MIB
    assert _same_contents(image, overlay['path'])
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', overlay['path']], check=True, capture_output=True)
    assert _sha256(image) == base_sum
    assert not run_module('volume', pool=POOL, name=volume, from_image=image, backing=True, size_gb=1).changed
    # the base image, a volume itself, is not deleted from under its overlay
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('volume', pool=IMAGE_POOL, name='base.qcow2', state='absent')
    assert refused.failed
    assert_one_sentence(refused.msg, "volume 'base.qcow2' in pool '%s'" % IMAGE_POOL, '%s/%s' % (POOL, volume))
    assert libvirt_snapshot(libvirt_conn) == before and os.path.isfile(image)


def test_absent_is_refused_while_a_guest_uses_the_volume(libvirt_conn, pools, volume):
    path = run_module('volume', pool=POOL, name=volume, size_gb=1)['volume']['path']
    # defined, never started: a stopped guest's disk is just as much in use
    libvirt_conn.defineXML(domain_xml(USER_GUEST, '/nonexistent/vmlinuz', None, None,
                                      '/var/lib/virtops-lab/shared/logs/%s.serial.log' % USER_GUEST, memory_mib=64,
                                      disk=path, agent=False))
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('volume', pool=POOL, name=volume, state='absent')
    assert refused.failed
    assert_one_sentence(refused.msg, "volume '%s' in pool '%s'" % (volume, POOL), "'%s'" % USER_GUEST)
    checked = run_module('volume', check=True, pool=POOL, name=volume, state='absent')
    assert checked.failed
    assert_one_sentence(checked.msg, "volume '%s' in pool '%s'" % (volume, POOL), "'%s'" % USER_GUEST)
    assert libvirt_snapshot(libvirt_conn) == before and os.path.isfile(path)
    libvirt_conn.lookupByName(USER_GUEST).undefine()
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('volume', check=True, diff=True, pool=POOL, name=volume, state='absent')
    assert checked.changed and checked['diff']['after']['state'] == 'absent'
    assert libvirt_snapshot(libvirt_conn) == before
    removed = run_module('volume', pool=POOL, name=volume, state='absent')
    assert removed.changed and removed['volume'] is None and not os.path.exists(path)
    assert not run_module('volume', pool=POOL, name=volume, state='absent').changed


def test_grow_and_absent_are_refused_while_a_running_guest_uses_the_volume(libvirt_conn, pools, volume, tiny_image):
    path = run_module('volume', pool=POOL, name=volume, size_gb=1)['volume']['path']
    start_guest(libvirt_conn, RUNNING_GUEST, tiny_image, memory_mib=128, disk=path, agent=False)
    try:
        before = libvirt_snapshot(libvirt_conn)
        refused = run_module('volume', pool=POOL, name=volume, size_gb=2)
        assert refused.failed
        assert_one_sentence(refused.msg, "volume '%s' in pool '%s'" % (volume, POOL), "'%s'" % RUNNING_GUEST,
                            'running', 'volume_attachment')
        refused = run_module('volume', pool=POOL, name=volume, state='absent')
        assert refused.failed
        assert_one_sentence(refused.msg, "volume '%s' in pool '%s'" % (volume, POOL), "'%s'" % RUNNING_GUEST)
        assert libvirt_snapshot(libvirt_conn) == before
        assert _qemu_img_info(path)['virtual-size'] == GIB
    finally:
        remove_guest(libvirt_conn, RUNNING_GUEST)
        remove_guest_files(RUNNING_GUEST)


BAD_INPUT = [
    ('missing pool', dict(pool='lab-vol-no-such-pool', size_gb=1), ["pool 'lab-vol-no-such-pool'", 'does not exist']),
    ('no size for a new volume', dict(), ['size_gb']),
    ('backing without an image', dict(size_gb=1, backing=True), ['backing', 'from_image']),
    ('raw overlay', dict(format='raw', backing=True, from_image='/x.qcow2'), ['backing', 'qcow2']),
    ('missing image', dict(from_image='/nonexistent/base.qcow2'), ['/nonexistent/base.qcow2', 'does not exist']),
    ('size not positive', dict(size_gb=0), ['size_gb 0', 'positive']),
    ('size below the image', dict(from_image='{loose_big}', size_gb=1), ["image's 2 GiB", 'shrinking is refused']),
    ('upload needing a conversion', dict(from_image='{loose_raw}', format='qcow2'), ['{loose_raw}', 'raw']),
    ('name with a slash', dict(name='../escape', size_gb=1), ["'../escape'", '/']),
]


@pytest.mark.parametrize('params, names', [(case[1], case[2]) for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_refused_and_changes_nothing(libvirt_conn, pools, volume, params, names):
    args = dict(pool=POOL, name=volume)
    args.update((key, value.format(**pools) if isinstance(value, str) else value) for key, value in params.items())
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('volume', **args)
    assert result.failed, 'accepted: %r' % (params,)
    assert_one_sentence(result.msg, "volume '%s' in pool '%s'" % (args['name'], args['pool']),
                        *[name.format(**pools) for name in names])
    assert libvirt_snapshot(libvirt_conn) == before


def test_inactive_pool_is_refused(libvirt_conn, pools, volume):
    assert run_module('storage_pool', name=POOL, state='inactive').changed
    try:
        before = libvirt_snapshot(libvirt_conn)
        result = run_module('volume', pool=POOL, name=volume, size_gb=1)
        assert result.failed
        assert_one_sentence(result.msg, "volume '%s' in pool '%s'" % (volume, POOL), 'not active')
        assert libvirt_snapshot(libvirt_conn) == before
    finally:
        assert not run_module('storage_pool', name=POOL, state='active').failed


def test_existing_volume_keeps_its_format_and_origin(libvirt_conn, pools, volume):
    assert not run_module('volume', pool=POOL, name=volume, from_image=pools['pooled_image'], backing=True).failed
    before = libvirt_snapshot(libvirt_conn)
    for params, names in ((dict(format='raw'), ['qcow2', 'raw']),
                          (dict(from_image=pools['loose_qcow2'], backing=True), [pools['loose_qcow2']]),
                          (dict(from_image=pools['pooled_image']), ['overlay', 'backing false'])):
        result = run_module('volume', pool=POOL, name=volume, **params)
        assert result.failed, 'accepted: %r' % (params,)
        assert_one_sentence(result.msg, "volume '%s' in pool '%s'" % (volume, POOL), *names)
    assert libvirt_snapshot(libvirt_conn) == before


def test_remote_uri_copies_pooled_images_and_refuses_loose_ones(libvirt_conn, pools, volume, main_tcp_uri):
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('volume', uri=main_tcp_uri, pool=POOL, name=volume, from_image=pools['loose_qcow2'])
    assert refused.failed
    assert_one_sentence(refused.msg, "volume '%s' in pool '%s'" % (volume, POOL), pools['loose_qcow2'], 'remote uri')
    assert libvirt_snapshot(libvirt_conn) == before
    made = run_module('volume', uri=main_tcp_uri, pool=POOL, name=volume, from_image=pools['pooled_image'])
    assert not made.failed, made.msg
    assert _same_contents(pools['pooled_image'], made['volume']['path'])
