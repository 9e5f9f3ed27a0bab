"""The config drive's metadata tree against the OpenStack metadata format, and its checks of bad input."""
import json

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import network as config_drive_network
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import content as image_content

WHERE = "config_drive '/tmp/cd.iso'"
NOVA_VERSIONS = ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22',
                 '2018-08-27']
NETWORK_DATA = {
    'links': [{'id': 'tap1', 'type': 'phy', 'ethernet_mac_address': '52:54:00:12:34:56', 'mtu': 1500},
              {'id': 'vlan101', 'type': 'vlan', 'vlan_link': 'tap1', 'vlan_id': 101,
               'vlan_mac_address': '52:54:00:12:34:56'}],
    'networks': [{'id': 'net0', 'type': 'ipv4', 'link': 'tap1', 'ip_address': '10.0.0.5', 'netmask': '255.255.255.0',
                  'routes': [{'network': '0.0.0.0', 'netmask': '0.0.0.0', 'gateway': '10.0.0.1'}]},
                 {'id': 'net1', 'type': 'ipv6', 'link': 'vlan101', 'ip_address': '2001:db8::5',
                  'netmask': 'ffff:ffff:ffff:ffff::'},
                 {'id': 'net2', 'type': 'ipv4_dhcp', 'link': 'vlan101'}],
    'services': [{'type': 'dns', 'address': '10.0.0.2'}],
}


def params(**overrides):
    base = dict(name='web1', hostname='web1.example.org', public_keys={'ops': 'ssh-ed25519 AAAAC3 ops@example'},
                admin_pass='Sup3r-s3cret', meta={'role': 'web', 'tier': 1}, user_data='#!/bin/sh\necho hi\n',
                vendor_data={'cloud-init': '#cloud-config\n{}\n'}, network_data=NETWORK_DATA,
                files=[{'path': '/etc/motd', 'content': 'hello\n'}, {'path': '/root/notes.txt', 'content': 'x'}],
                availability_zone='nova', launch_index=0)
    base.update(overrides)
    return base


def tree(**overrides):
    return layout.tree(layout.normalise(params(**overrides), WHERE))


def test_every_dated_version_and_latest_has_meta_data_and_user_data():
    files = tree()
    versions = sorted({path.split('/')[1] for path in files if path.startswith('openstack/')} - {'content'})
    assert versions == sorted(NOVA_VERSIONS + ['latest'])
    for version in NOVA_VERSIONS + ['latest']:
        assert 'openstack/%s/meta_data.json' % version in files
        assert files['openstack/%s/user_data' % version] == b'#!/bin/sh\necho hi\n'


FIRST_VERSIONS = [('vendor_data.json', '2013-10-17'), ('network_data.json', '2015-10-15'), ('vendor_data2.json', '2016-10-06')]


@pytest.mark.parametrize('name, first', FIRST_VERSIONS)
def test_files_appear_from_the_version_that_introduced_them(name, first):
    files = tree()
    for version in NOVA_VERSIONS:
        assert ('openstack/%s/%s' % (version, name) in files) == (version >= first), (version, name)
    assert 'openstack/latest/%s' % name in files


def test_meta_data_keys_follow_nova():
    data = json.loads(tree()['openstack/latest/meta_data.json'])
    assert set(data) == {'uuid', 'name', 'hostname', 'public_keys', 'keys', 'admin_pass', 'meta', 'files',
                         'launch_index', 'availability_zone', 'devices'}
    assert data['public_keys'] == {'ops': 'ssh-ed25519 AAAAC3 ops@example'}
    assert data['keys'] == [{'name': 'ops', 'type': 'ssh', 'data': 'ssh-ed25519 AAAAC3 ops@example'}]
    assert data['meta'] == {'role': 'web', 'tier': '1'}
    assert data['admin_pass'] == 'Sup3r-s3cret'
    old = json.loads(tree()['openstack/2012-08-10/meta_data.json'])
    assert 'devices' not in old


def test_injected_files_are_referenced_by_content_path():
    files = tree()
    data = json.loads(files['openstack/latest/meta_data.json'])
    assert data['files'] == [{'path': '/etc/motd', 'content_path': '/content/0000'},
                             {'path': '/root/notes.txt', 'content_path': '/content/0001'}]
    for entry in data['files']:
        assert ('openstack' + entry['content_path']) in files
    assert files['openstack/content/0000'] == b'hello\n'


def test_random_seed_only_from_2013_04_04():
    files = tree(random_seed='c2VlZA==')
    assert 'random_seed' not in json.loads(files['openstack/2012-08-10/meta_data.json'])
    assert json.loads(files['openstack/2013-04-04/meta_data.json'])['random_seed'] == 'c2VlZA=='


def test_vendor_data2_files_static_vendor_data_under_static():
    files = tree(admin_pass=None)
    assert json.loads(files['openstack/latest/vendor_data.json']) == {'cloud-init': '#cloud-config\n{}\n'}
    assert json.loads(files['openstack/latest/vendor_data2.json']) == {'static': {'cloud-init': '#cloud-config\n{}\n'}}


def test_admin_pass_reaches_cloud_init_as_a_hash_of_roots_password():
    """cloud-init reads no admin_pass from meta_data.json: vendor_data2.json's cloud-init key (vendor data to
    cloud-init) sets root's password to a SHA-512 hash of it, the same for the same drive."""
    files = tree()
    vendor_data2 = json.loads(files['openstack/latest/vendor_data2.json'])
    assert vendor_data2['static'] == {'cloud-init': '#cloud-config\n{}\n'}, 'the static vendor data was touched'
    config = vendor_data2['cloud-init']
    assert config.startswith('#cloud-config\n') and 'Sup3r-s3cret' not in config
    users = json.loads(config.split('\n', 1)[1])['chpasswd']['users']
    assert [(user['name'], user['type']) for user in users] == [('root', 'hash')]
    hashed = users[0]['password']
    assert hashed.startswith('$6$') and image_content.crypt.crypt('Sup3r-s3cret', hashed) == hashed
    assert tree() == files, 'the same options gave other bytes'
    other_drive = json.loads(tree(uuid='6c1e1f86-2c4c-4e8e-9c2e-2b0c7a0b8d10')['openstack/latest/vendor_data2.json'])
    assert other_drive['cloud-init'] != config, 'two drives share a salt'
    assert 'cloud-init' not in json.loads(tree(admin_pass=None)['openstack/latest/vendor_data2.json'])


def test_ec2_tree():
    files = tree()
    for version in ('2009-04-04', 'latest'):
        data = json.loads(files['ec2/%s/meta-data.json' % version])
        assert data['hostname'] == data['local-hostname'] == 'web1.example.org'
        assert data['public-keys'] == {'0': {'openssh-key': 'ssh-ed25519 AAAAC3 ops@example'}}
        assert data['placement'] == {'availability-zone': 'nova'}
        assert files['ec2/%s/user-data' % version] == b'#!/bin/sh\necho hi\n'


def test_without_user_data_there_is_no_user_data_file():
    assert not [path for path in tree(user_data=None) if path.endswith(('user_data', 'user-data'))]


def test_same_options_give_same_bytes_and_a_derived_uuid_is_stable():
    assert tree() == tree()
    first = json.loads(tree()['openstack/latest/meta_data.json'])['uuid']
    assert first == json.loads(tree(meta={'other': 'x'})['openstack/latest/meta_data.json'])['uuid']
    assert first != json.loads(tree(name='web2')['openstack/latest/meta_data.json'])['uuid']


def test_redacted_summary_hides_the_password():
    spec = layout.normalise(params(random_seed='c2VlZA=='), WHERE)
    summary = layout.summary(spec, layout.tree(spec))
    assert 'Sup3r-s3cret' not in json.dumps(summary) and 'c2VlZA==' not in json.dumps(summary)
    assert summary['meta_data']['admin_pass'] == '********'


def test_network_data_from_nics():
    data = config_drive_network.from_nics([{'mac': '52:54:00:AA:BB:CC', 'address': '10.0.2.77/24', 'gateway': '10.0.2.2',
                                            'dns': ['10.0.2.3']}, {'mac': '52:54:00:00:00:02'}], WHERE)
    assert data['links'][0] == {'id': 'nic0', 'type': 'phy', 'ethernet_mac_address': '52:54:00:aa:bb:cc'}
    assert data['networks'][0] == {'id': 'network0', 'link': 'nic0', 'type': 'ipv4', 'ip_address': '10.0.2.77',
                                   'netmask': '255.255.255.0', 'services': [{'type': 'dns', 'address': '10.0.2.3'}],
                                   'routes': [{'network': '0.0.0.0', 'netmask': '0.0.0.0', 'gateway': '10.0.2.2'}]}
    assert data['networks'][1]['type'] == 'ipv4_dhcp'
    assert data['services'] == [{'type': 'dns', 'address': '10.0.2.3'}]


@pytest.mark.parametrize('overrides, words', [
    (dict(network_data=dict(links=[], networks=[dict(id='n0', link='eth9', type='ipv4_dhcp')])), "link 'eth9'"),
    (dict(network_data=dict(links=[dict(id='l0')], networks=[dict(id='n0', link='l0', type='ipv4',
                                                                  ip_address='10.0.0.300', netmask='255.255.255.0')])),
     '10.0.0.300'),
    (dict(network_data=dict(links=[dict(id='l0')], networks=[dict(id='n0', link='l0', type='ipv4',
                                                                  ip_address='10.0.0.3', netmask='255.0.255.0')])),
     'netmask'),
    (dict(network_data=dict(links=[dict(id='l0', type='vlan', vlan_link='nope')])), "link 'nope'"),
    (dict(files=[dict(path='etc/motd', content='x')]), "'etc/motd'"),
    (dict(files=[dict(path='/etc/../motd', content='x')]), "'/etc/../motd'"),
    (dict(user_data='x' * 65537), '65537 bytes'),
    (dict(uuid='not-a-uuid'), 'not-a-uuid'),
    (dict(network_data=None, network_data_from_nics=[dict(mac='52:54:00:00:00:01', address='10.0.0.5')]),
     'prefix'),
])
def test_bad_input_is_one_sentence(overrides, words):
    with pytest.raises(VirtopsError) as err:
        tree(**overrides)
    message = str(err.value)
    assert message.startswith(WHERE) and message.endswith('.') and '\n' not in message
    assert words in message


def test_user_data_at_the_limit_is_accepted():
    assert len(tree(user_data='x' * 65536)['openstack/latest/user_data']) == 65536
