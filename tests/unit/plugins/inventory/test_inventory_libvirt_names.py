"""The pure naming logic of the libvirt inventory plugin: group names, image stems, addresses, host names."""
import pytest

from ansible_collections.virtops.compute.plugins.inventory.libvirt import (
    guest_groups, image_stem, inventory_name, private_cache_problem, safe_group_name,
)


@pytest.mark.parametrize('text, expected', [
    ('lab-host1', 'lab_host1'),
    ('node1.example.com', 'node1_example_com'),
    ('running', 'running'),
    ('9lives', '_9lives'),
    ('--', 'unknown'),
    ('', 'unknown'),
    ('Höst', 'H_st'),
])
def test_safe_group_name(text, expected):
    assert safe_group_name(text) == expected


@pytest.mark.parametrize('image, expected', [
    ('/srv/images/debian-12.qcow2', 'debian-12'),
    ('/srv/images/cirros.IMG', 'cirros'),
    ('rocky9.raw', 'rocky9'),
    ('/srv/images/plain', 'plain'),
    ('/srv/images/dir/', 'dir'),
])
def test_image_stem(image, expected):
    assert image_stem(image) == expected


def test_groups_of_an_unmanaged_guest_are_host_and_state_only():
    assert guest_groups('lab-host1', 'shutdown', {}) == ['libvirt_host_lab_host1', 'libvirt_state_shutdown']
    assert guest_groups('vm', 'running', None) == ['libvirt_host_vm', 'libvirt_state_running']


def test_groups_of_a_managed_rescued_guest_name_its_image():
    metadata = dict(managed_by='virtops.compute', image='/srv/images/debian-12.qcow2', rescued=True)
    assert guest_groups('node1.example.com', 'running', metadata, prefix='lv_') == [
        'lv_host_node1_example_com', 'lv_state_running', 'lv_managed', 'lv_image_debian_12', 'lv_rescued']


def test_metadata_of_another_tool_does_not_make_a_guest_managed():
    groups = guest_groups('vm', 'paused', dict(managed_by='someone.else', image=None))
    assert groups == ['libvirt_host_vm', 'libvirt_state_paused']


def test_a_private_cache_directory_is_one_only_its_user_writes(tmp_path):
    private = tmp_path / 'private'
    private.mkdir(mode=0o700)
    assert private_cache_problem(str(private)) is None
    shared = tmp_path / 'shared'
    shared.mkdir()
    shared.chmod(0o1777)
    assert 'other users can write' in private_cache_problem(str(shared))
    assert 'belongs to uid' in private_cache_problem(str(private), uid=12345)
    link = tmp_path / 'link'
    link.symlink_to(private)
    assert private_cache_problem(str(link)) == 'it is not a directory'


def test_a_name_taken_on_another_host_gets_the_host_appended():
    taken = {'web1'}
    assert inventory_name('web1', 'node2', taken) == 'web1@node2'
    assert inventory_name('web2', 'node2', taken) == 'web2'
