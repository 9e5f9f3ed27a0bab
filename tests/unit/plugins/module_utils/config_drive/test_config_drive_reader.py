"""Reading a config drive back into its options, and regenerating it for a rebuild."""
import io
import json

import pycdlib
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import reader
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import vfat as config_drive_vfat
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

OPTIONS = dict(
    name='web1', hostname='web1.example', uuid='0b6a5f0e-8d7e-4f57-9a55-0d6c1f0a2b3c', admin_pass='s3cret',
    public_keys={'ops': 'ssh-ed25519 AAAA ops'}, meta={'role': 'web'}, user_data='#cloud-config\n{}\n',
    vendor_data={'motd': 'hello'}, random_seed='c2VlZA==',
    network_data_from_nics=[dict(mac='52:54:00:00:00:01', address='10.0.0.5/24', gateway='10.0.0.1')],
    files=[dict(path='/etc/motd', content='hi\n'), dict(path='/etc/issue', content='')])


@pytest.mark.parametrize('fmt', image.FORMATS)
@pytest.mark.parametrize('options', [OPTIONS, dict(name='bare')], ids=['full', 'bare'])
def test_a_drive_reads_back_into_the_options_that_made_it(fmt, options):
    spec = layout.normalise(options, 'test')
    data = image.build(layout.tree(spec), fmt)
    found, found_format = reader.read_drive(data)
    assert found == spec and found_format == fmt


def _foreign_iso(label='config-2'):
    """A config-2 ISO made by hand, as tests/e2e/test_guest_config_drive.py makes one."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge='1.09', vol_ident=label)
    iso.add_fp(io.BytesIO(b'hi'), 2, '/HELLO.TXT;1', rr_name='hello.txt', joliet_path='/hello.txt')
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def test_a_drive_not_made_by_virtops_is_refused():
    with pytest.raises(reader.NotOurs):
        reader.read_drive(_foreign_iso())
    with pytest.raises(reader.NotOurs, match='label'):
        reader.read_drive(image.build(layout.tree(layout.normalise(dict(name='x'), 't')), 'iso9660', label='cidata'))
    with pytest.raises(reader.NotOurs):
        reader.read_drive(b'\0' * 4096)
    with pytest.raises(reader.NotOurs):
        reader.read_drive(b'')


def test_a_drive_with_hand_edited_content_is_refused():
    files = layout.tree(layout.normalise(OPTIONS, 'test'))
    meta = json.loads(files['openstack/latest/meta_data.json'])
    meta['extra'] = 'added by hand'
    files['openstack/latest/meta_data.json'] = json.dumps(meta).encode()
    with pytest.raises(reader.NotOurs, match='not the ones'):
        reader.read_drive(config_drive_vfat.build(files, 'config-2'))
    del files['openstack/latest/meta_data.json']
    with pytest.raises(reader.NotOurs, match='meta_data.json'):
        reader.spec_from_files(files)


def test_regenerate_keeps_identity_replaces_given_inputs_and_renews_the_seed():
    spec = layout.normalise(OPTIONS, 'test')
    old_files = layout.tree(spec)
    new_spec, new_files = reader.regenerate(spec, dict(user_data='#!/bin/sh\necho new\n', name='ignored'), 'test')
    for key in ('uuid', 'name', 'hostname', 'public_keys', 'network_data', 'vendor_data', 'files', 'meta', 'admin_pass'):
        assert new_spec[key] == spec[key], key
    assert new_spec['user_data'] == b'#!/bin/sh\necho new\n'
    assert new_spec['random_seed'] != spec['random_seed'] and len(new_spec['random_seed']) > 600
    changed = reader.changed_paths(old_files, new_files)
    assert 'openstack/latest/user_data' in changed and 'openstack/latest/meta_data.json' in changed
    assert 'openstack/latest/network_data.json' not in changed and 'ec2/latest/meta-data.json' not in changed
    # the regenerated drive reads back too, so a second rebuild can regenerate it again
    assert reader.read_drive(image.build(new_files, 'vfat'))[0] == new_spec


def test_regenerate_replaces_files_meta_and_admin_pass():
    spec = layout.normalise(OPTIONS, 'test')
    new_spec, new_files = reader.regenerate(spec, dict(files=[dict(path='/etc/new', content='n')], meta={'role': 'db'},
                                                       admin_pass='other'), 'test', seed='c2VlZDI=')
    assert new_spec['files'] == [('/etc/new', b'n')] and new_spec['meta'] == {'role': 'db'}
    assert new_spec['admin_pass'] == 'other' and new_spec['random_seed'] == 'c2VlZDI='
    assert 'openstack/content/0001' not in new_files and new_files['openstack/content/0000'] == b'n'


def test_regenerate_checks_new_inputs_in_one_sentence():
    spec = layout.normalise(OPTIONS, 'test')
    with pytest.raises(VirtopsError, match="file path 'etc/x'"):
        reader.regenerate(spec, dict(files=[dict(path='etc/x', content='')]), "guest 'web1'")


class _Target:
    """What reader.existing_drive needs of a file or pool volume."""
    where = "config_drive '/x/drive.iso'"
    kind = 'file'

    def __init__(self, data, size=None):
        self.data = data
        self._size = size if size is not None or data is None else len(data)
        self.reads = 0

    def size(self):
        return self._size

    def current(self):
        self.reads += 1
        return self.data


def test_existing_drive_gives_our_drive_and_nothing_for_no_file():
    ours = image.build(layout.tree(layout.normalise(OPTIONS, 'test')), 'vfat')
    assert reader.existing_drive(_Target(ours), 'hint') == ours
    assert reader.existing_drive(_Target(None), 'hint') is None


@pytest.mark.parametrize('data', [_foreign_iso(), _foreign_iso('DEBIAN_12'), b'', b'plain text\n'],
                         ids=['hand-made config-2', 'installer', 'empty', 'text'])
def test_existing_drive_refuses_anything_else_in_one_sentence(data):
    with pytest.raises(VirtopsError) as err:
        reader.existing_drive(_Target(data), 'set force: true to replace it')
    message = str(err.value)
    assert message.startswith("config_drive '/x/drive.iso': the existing file is not a config drive virtops.compute "
                              "wrote (")
    assert message.endswith('; set force: true to replace it.') and '\n' not in message


def test_a_huge_file_is_refused_without_being_read():
    target = _Target(b'', size=reader.MAX_DRIVE_BYTES + 1)
    with pytest.raises(VirtopsError, match='more than any drive it writes'):
        reader.existing_drive(target, 'hint')
    assert target.reads == 0
