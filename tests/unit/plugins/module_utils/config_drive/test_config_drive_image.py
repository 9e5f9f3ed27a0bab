"""Config drive images: reproducible bytes, and what a reader (pycdlib, our FAT reader, fsck, mtools) finds in them."""
import io
import os
import shutil
import subprocess
import time

import pycdlib
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import vfat as config_drive_vfat

FILES = layout.tree(layout.normalise(dict(
    name='web1', public_keys={'ops': 'ssh-ed25519 AAAA ops'}, user_data='#cloud-config\n{}\n',
    network_data_from_nics=[dict(mac='52:54:00:00:00:01', address='10.0.0.5/24')],
    files=[dict(path='/etc/motd', content='hi\n')]), 'test'))


@pytest.mark.parametrize('fmt', image.FORMATS)
def test_same_tree_same_bytes_whatever_the_clock_and_timezone(fmt, monkeypatch):
    first = image.build(FILES, fmt)
    monkeypatch.setenv('TZ', 'Pacific/Kiritimati')
    time.tzset()
    try:
        time.sleep(1.1)
        assert image.build(FILES, fmt) == first
    finally:
        monkeypatch.delenv('TZ')
        time.tzset()
    changed = dict(FILES, **{'openstack/content/0000': b'other\n'})
    assert image.build(changed, fmt) != first


def test_iso_reads_back_with_pycdlib():
    data = image.build(FILES, 'iso9660')
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        assert iso.pvd.volume_identifier.rstrip() == b'config-2'
        assert iso.has_rock_ridge() and iso.has_joliet()
        for path in ('/openstack/latest/meta_data.json', '/openstack/2012-08-10/meta_data.json',
                     '/openstack/2015-10-15/network_data.json', '/openstack/content/0000',
                     '/ec2/2009-04-04/meta-data.json'):
            for key in ('rr_path', 'joliet_path'):
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, **{key: path})
                assert out.getvalue() == FILES[path.lstrip('/')], (key, path)
    finally:
        iso.close()
    files, label = image.read(data)
    assert files == FILES and label == 'config-2'


def test_the_clock_is_given_back_after_a_build():
    image.build(FILES, 'iso9660')
    assert pycdlib.pycdlib.time is time and pycdlib.dates.time is time and pycdlib.headervd.time is time


def test_vfat_reads_back():
    data = image.build(FILES, 'vfat')
    files, label = config_drive_vfat.read(data)
    assert files == FILES and label == 'config-2'
    assert len(data) % 512 == 0


def test_vfat_with_big_files_grows_its_clusters():
    big = dict(('openstack/content/%04d' % index, os.urandom(1024) * 1024) for index in range(40))
    data = config_drive_vfat.build(big)
    assert config_drive_vfat.read(data)[0] == big


def test_vfat_passes_fsck_and_mtools_sees_long_names(tmp_path):
    assert shutil.which('fsck.vfat') and shutil.which('mdir'), 'dosfstools and mtools (scripts/debian-packages.txt)'
    path = str(tmp_path / 'drive.img')
    with open(path, 'wb') as handle:
        handle.write(image.build(FILES, 'vfat'))
    check = subprocess.run(['fsck.vfat', '-n', path], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    listing = subprocess.run(['mdir', '-i', path, '-b', '-/', '::/'], capture_output=True, text=True, check=False).stdout
    assert '::/openstack/2012-08-10/meta_data.json' in listing and '::/openstack/latest/vendor_data2.json' in listing
    label = subprocess.run(['mlabel', '-i', path, '-s', '::'], capture_output=True, text=True, check=False).stdout
    assert 'config-2' in label


def test_write_atomically_sets_mode_0600_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / 'drive.iso')
    image.write_atomically(path, b'abc', 'test')
    image.write_atomically(path, b'abcd', 'test')
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(str(tmp_path)) == ['drive.iso']
    with open(path, 'rb') as handle:
        assert handle.read() == b'abcd'
