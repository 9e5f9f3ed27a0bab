"""A config drive is written only over a config drive virtops.compute wrote.

Whatever else sits where a drive should go (an installer ISO, a hand-made config-2 ISO, a text file, a symbolic
link to a file of the host, a volume of a pool) is left byte for byte as it was, in check mode and for real,
for `state: present` and `state: absent`, through the `config_drive` module (file and pool volume) and the
`guests` module (the drive volume it names after the guest). `force: true` is the positive control: the same
file is then replaced, and from then on is a drive the module rewrites without `force`.
"""
import hashlib
import io
import os
import shutil
import tempfile

import pycdlib
import pytest

from lab import tally
from lab.checks import assert_one_sentence
from lab.runner import run_module

LAB_DIR = '/var/lib/virtops-lab'
POOL = 'lab-cdo-pool'
GUEST = 'lab-cdo-0'
REFUSAL = 'not a config drive virtops.compute wrote'


def iso_bytes(label, name='readme.txt', content=b'an installer, not a config drive\n'):
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge='1.09', vol_ident=label)
    iso.add_fp(io.BytesIO(content), len(content), '/README.TXT;1', rr_name=name, joliet_path='/' + name)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def listing(directory):
    return sorted(os.listdir(directory))


@pytest.fixture
def drive_dir():
    os.makedirs(LAB_DIR, exist_ok=True)
    path = tempfile.mkdtemp(prefix='config-drive-owner-', dir=LAB_DIR)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _foreign(directory, kind):
    """Put something that is not our drive at <directory>/drive.iso; returns (dest, the file whose bytes must stay)."""
    dest = os.path.join(directory, 'drive.iso')
    if kind == 'symlink':
        secret = os.path.join(directory, 'host-secret')
        with open(secret, 'w') as handle:
            handle.write('a file of the host the link points at\n')
        os.symlink(secret, dest)
        return dest, secret
    data = {'installer iso': iso_bytes('DEBIAN_12'),
            'hand-made config-2 iso': iso_bytes('config-2', 'meta_data.json', b'{"uuid": "x"}'),
            'text file': b'keep me\n',
            'empty file': b''}[kind]
    with open(dest, 'wb') as handle:
        handle.write(data)
    return dest, dest


@pytest.mark.parametrize('kind', ['installer iso', 'hand-made config-2 iso', 'text file', 'empty file', 'symlink'])
def test_a_file_that_is_not_our_drive_is_left_alone(drive_dir, kind):
    dest, kept = _foreign(drive_dir, kind)
    before, files = digest(kept), listing(drive_dir)
    params = dict(dest=dest, name='cdo-guest', admin_pass='cdo-Adm1n', user_data='#cloud-config\n{}\n')
    for check in (True, False):
        for state in ('present', 'absent'):
            result = run_module('config_drive', check=check, state=state, **params)
            assert result.failed, (kind, check, state, result.data)
            assert_one_sentence(result.msg, dest)
            assert REFUSAL in result.msg or 'not a regular file' in result.msg, result.msg
            assert digest(kept) == before and listing(drive_dir) == files, 'the file changed or a file was added'
            assert os.path.islink(dest) == (kind == 'symlink')
            tally.case('bad inputs tried', 'config_drive over a %s, check=%s, state=%s' % (kind, check, state))
    if kind == 'symlink':
        return
    # positive control: told to, the module replaces it; then it is a drive of ours and changes without force
    forced = run_module('config_drive', force=True, **params)
    assert not forced.failed and forced.changed and forced['changes'] == ['content'], forced.data
    assert digest(dest) != before
    rewritten = run_module('config_drive', **dict(params, hostname='cdo-guest-2'))
    assert not rewritten.failed and rewritten.changed and rewritten['changes'] == ['content'], rewritten.data
    assert not run_module('config_drive', **dict(params, hostname='cdo-guest-2')).changed
    assert run_module('config_drive', dest=dest, state='absent').changed and not os.path.exists(dest)


@pytest.fixture
def pool(libvirt_conn):
    import libvirt
    try:
        libvirt_conn.storagePoolLookupByName(POOL).destroy()
    except libvirt.libvirtError:
        pass
    directory = tempfile.mkdtemp(prefix='config-drive-owner-pool-', dir=LAB_DIR)
    # transient: nothing of it is left in libvirt afterwards
    made = libvirt_conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, directory), 0)
    yield made
    run_module('guests', guests=[dict(name=GUEST, state='absent', storage_pool=POOL)])
    made.destroy()
    shutil.rmtree(directory, ignore_errors=True)


def _upload(conn, pool, name, data):
    vol = pool.createXML("<volume><name>%s</name><capacity unit='bytes'>%d</capacity>"
                         "<target><format type='raw'/></target></volume>" % (name, len(data)), 0)
    stream = conn.newStream(0)
    vol.upload(stream, 0, len(data), 0)
    stream.send(data)
    stream.finish()
    return vol


def test_a_pool_volume_that_is_not_our_drive_is_left_alone(libvirt_conn, pool):
    vol = _upload(libvirt_conn, pool, 'cdo-guest-config.iso', iso_bytes('DEBIAN_12'))
    before = digest(vol.path())
    params = dict(pool=POOL, volume='cdo-guest-config.iso', name='cdo-guest', uri='qemu:///system')
    for check in (True, False):
        for state in ('present', 'absent'):
            result = run_module('config_drive', check=check, state=state, **params)
            assert result.failed, (check, state, result.data)
            assert_one_sentence(result.msg, 'cdo-guest-config.iso', REFUSAL)
            assert [v.name() for v in pool.listAllVolumes(0)] == ['cdo-guest-config.iso'] and digest(vol.path()) == before
    forced = run_module('config_drive', force=True, **params)
    assert not forced.failed and forced.changed and digest(vol.path()) != before, forced.data


def test_the_guests_module_leaves_a_foreign_volume_with_its_drive_name_alone(libvirt_conn, pool, tiny_image):
    name = GUEST + '-config.iso'
    vol = _upload(libvirt_conn, pool, name, iso_bytes('DEBIAN_12'))
    before = digest(vol.path())
    item = dict(name=GUEST, virt_type='qemu', vcpus=1, memory_mb=96, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline, storage_pool=POOL, config_drive=dict(hostname='cdo.lab.example'))
    for check in (True, False):
        result = run_module('guests', check=check, guests=[item])
        assert result.failed, result.data
        entry = result['guests'][0]
        assert REFUSAL in entry['msg'] and name in entry['msg'], entry
        assert digest(vol.path()) == before
        assert GUEST not in [dom.name() for dom in libvirt_conn.listAllDomains(0)], 'the guest was defined anyway'
    # removing the guest keeps a volume that only shares its drive's name
    gone = run_module('guests', guests=[dict(name=GUEST, state='absent', storage_pool=POOL)])
    assert not gone.failed, gone.msg
    assert digest(vol.path()) == before
