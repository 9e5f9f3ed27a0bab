"""The pure naming logic of the libvirt inventory plugin: group names, image stems, addresses, host names."""
import pytest

from ansible_collections.virtops.compute.plugins.inventory.libvirt import (
    first_address, guest_groups, image_stem, inventory_name, safe_group_name,
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


def test_first_address_prefers_ipv4_over_ipv6_across_nics():
    info = dict(interfaces=[
        dict(mac='52:54:00:00:00:01', addresses=[dict(address='fe80::1', prefix=64, family='ipv6')]),
        dict(mac='52:54:00:00:00:02', addresses=[dict(address='192.168.122.7', prefix=24, family='ipv4')]),
    ])
    assert first_address(info) == '192.168.122.7'
    assert first_address(dict(interfaces=info['interfaces'][:1])) == 'fe80::1'
    assert first_address(dict(interfaces=[dict(addresses=[])])) is None
    assert first_address({}) is None


def test_a_name_taken_on_another_host_gets_the_host_appended():
    taken = {'web1'}
    assert inventory_name('web1', 'node2', taken) == 'web1@node2'
    assert inventory_name('web2', 'node2', taken) == 'web2'
