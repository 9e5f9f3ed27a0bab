"""Rebuild regenerates the guest's config drive: new user data and seed, the same identity, seen by the guest."""
import hashlib
import json
import os
import re
import stat
import time

import pytest

from lab import guests
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

BASE_DIR = '/var/lib/virtops-lab/shared/rebuild-drive'
PORTS = {'iso9660': 4612, 'vfat': 4613}
DRIVE_UUID = '3d1f7c2a-5b8e-4e0f-a7c1-9b2d6e4f8a10'


def _image(marker):
    return guests.image_with_marker(BASE_DIR, marker)


def _sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _inside(port, command, expect, timeout=180):
    """What ``command`` prints in the guest once ``expect`` is in it (the drive is mounted a moment after boot)."""
    deadline, out = time.time() + timeout, ''
    while time.time() < deadline:
        out = serial_shell(port, command, timeout=30)
        if expect in out:
            return out
        time.sleep(2)
    raise AssertionError('%r never showed %r; last output:\n%s' % (command, expect, out))


def _meta(port):
    # the file ends without a newline; the echo keeps the shell's marker off its line
    out = _inside(port, 'cat /mnt/config/openstack/latest/meta_data.json; echo', '"uuid"')
    return json.loads(re.search(r'^\{.*\}', out, re.M).group(0))


@pytest.fixture
def drive_guest(request, tiny_image):
    fmt = request.param
    name = 'lab-rbd-' + ('iso' if fmt == 'iso9660' else 'vfat')
    os.makedirs(BASE_DIR, exist_ok=True)
    dest = os.path.join(BASE_DIR, name + ('.iso' if fmt == 'iso9660' else '.img'))
    written = run_module('config_drive', dest=dest, format=fmt, uuid=DRIVE_UUID, name=name, hostname=name + '-host',
                         public_keys={'ops': 'ssh-ed25519 AAAAC3rebuild ops'}, user_data='old-user-data\n',
                         random_seed='b2xkLXNlZWQ=', files=[dict(path='/etc/motd', content='old motd\n')])
    assert not written.failed, written.msg
    params = dict(name=name, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=_image('drive-image-A'), config_drive=dest,
                  serial_console=dict(type='tcp', port=PORTS[fmt]), shutdown_timeout=5)
    run_module('guest', name=name, state='absent')
    created = run_module('guest', **params)
    assert not created.failed, created.msg
    yield name, dest, PORTS[fmt]
    run_module('guest', name=name, state='absent')
    os.unlink(dest)


@pytest.mark.parametrize('drive_guest', ['iso9660', 'vfat'], indirect=True)
def test_rebuild_regenerates_the_drive(drive_guest, libvirt_conn):
    name, dest, port = drive_guest
    assert 'old-user-data' in _inside(port, 'cat /mnt/config/openstack/latest/user_data', 'old-user-data')
    old_meta = _meta(port)
    assert old_meta['random_seed'] == 'b2xkLXNlZWQ='
    before, sha = libvirt_snapshot(libvirt_conn), _sha(dest)
    image_b = _image('drive-image-B')
    checked = run_module('guest_action', check=True, name=name, action='rebuild', image=image_b, user_data='new-user-data\n')
    assert not checked.failed and checked.changed, checked.msg
    assert 'openstack/latest/user_data' in checked['config_drive']['changed_files']
    assert libvirt_snapshot(libvirt_conn) == before and _sha(dest) == sha, 'check mode changed something'

    owner = (os.stat(dest).st_uid, os.stat(dest).st_gid)
    result = run_module('guest_action', name=name, action='rebuild', image=image_b, user_data='new-user-data\n')
    assert not result.failed, result.msg
    changed = result['config_drive']['changed_files']
    assert 'openstack/latest/user_data' in changed and 'openstack/latest/meta_data.json' in changed, changed
    assert 'openstack/latest/network_data.json' not in changed and 'openstack/content/0000' not in changed, changed
    assert any('config drive regenerated' in action for action in result['actions']), result['actions']
    info = os.stat(dest)
    assert stat.S_IMODE(info.st_mode) == 0o600 and (info.st_uid, info.st_gid) == owner
    assert libvirt_conn.lookupByName(name).isActive()
    assert 'drive-image-B' in serial_shell(port, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 24; echo')
    assert 'new-user-data' in _inside(port, 'cat /mnt/config/openstack/latest/user_data', 'new-user-data')
    new_meta = _meta(port)
    for key in ('uuid', 'name', 'hostname', 'public_keys', 'files'):
        assert new_meta[key] == old_meta[key], key
    assert new_meta['uuid'] == DRIVE_UUID and new_meta['random_seed'] != old_meta['random_seed']
    assert 'old motd' in serial_shell(port, 'cat /mnt/config/openstack/content/0000')


@pytest.mark.parametrize('drive_guest', ['iso9660'], indirect=True)
def test_a_foreign_drive_is_refused_before_anything_changes(drive_guest, libvirt_conn, tiny_image):
    name, dest, _port = drive_guest
    import pycdlib     # the lab's own dependency, to make a drive by hand as users do
    foreign = os.path.join(BASE_DIR, 'foreign.iso')
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge='1.09', vol_ident='config-2')
    iso.add_directory('/OPENSTACK', rr_name='openstack', joliet_path='/openstack')
    iso.write(foreign)
    iso.close()
    moved = run_module('guest', name=name, config_drive=foreign, state='stopped', allow_restart=True, shutdown_timeout=5)
    assert not moved.failed, moved.msg
    try:
        before, sha = libvirt_snapshot(libvirt_conn), _sha(foreign)
        result = run_module('guest_action', name=name, action='rebuild', image=_image('drive-image-B'))
        assert result.failed
        assert_one_sentence(result.msg, name, foreign, 'not made by virtops.compute')
        assert libvirt_snapshot(libvirt_conn) == before and _sha(foreign) == sha
    finally:
        os.unlink(foreign)
    detached = run_module('guest', name=name, config_drive='', state='stopped')
    assert not detached.failed, detached.msg
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_action', name=name, action='rebuild', image=_image('drive-image-B'), user_data='x')
    assert result.failed
    assert_one_sentence(result.msg, name, 'no config drive', 'user_data')
    assert libvirt_snapshot(libvirt_conn) == before
