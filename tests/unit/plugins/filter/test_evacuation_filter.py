"""Evacuation records and fences: made without secrets, believed only with the controller's MAC, and refused with a
reason naming what is wrong."""
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.virtops.compute.plugins.filter.evacuation import (
    FilterModule, evacuation_document, evacuation_fence_mac, evacuation_fences, evacuation_owned, evacuation_records,
    evacuation_verify,
)
from unit.recorded_guests import guest_xml

KEY = 'k' * 40
HOST_UUID = '11111111-2222-4333-8444-555555555555'
UUID = '6f1c2d3e-0000-4000-8000-000000000001'


def guest_info(xml=None):
    """A guest_info entry (with definition) of the guest test_model_recorded builds."""
    return dict(name='web1', uuid=UUID, state='running', max_mem_kb=262144, vcpus=1, definition=xml or guest_xml(),
                disks=[dict(target='vda', pool='instances', capacity_bytes=2 * 1024 ** 3,
                            backing_chain=[dict(path='/srv/pool/base.qcow2', format='qcow2')]),
                       dict(target='hdd', pool='instances', backing_chain=[])])


def made(xml=None):
    return evacuation_records([guest_info(xml)], 'cn1', HOST_UUID, 'cn1.example')


def documents(record, key=KEY):
    return {'/state/guests/%s.json' % record['uuid']: evacuation_document(record, key)}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'evacuation_records', 'evacuation_document', 'evacuation_verify',
                                             'evacuation_owned', 'evacuation_fence_mac', 'evacuation_fences'}


def test_a_record_names_root_disk_image_drive_and_no_secret():
    result = made()
    assert result['refused'] == []
    record = result['records'][0]
    assert record['host'] == 'cn1' and record['host_uuid'] == HOST_UUID and record['memory_mb'] == 256
    assert record['root_disk'] == dict(path='/srv/pool/web1-root.qcow2', target='vda', format='qcow2', pool='instances',
                                       capacity_bytes=2 * 1024 ** 3, image='/srv/pool/base.qcow2', image_format='qcow2')
    # the config drive is found the way the guest module attaches it, not as "the first read-only disk"
    assert record['config_drive'] == dict(path='/srv/pool/web1.iso', target='hdd', format='iso9660')
    assert record['volumes'] == []
    assert 's3cret' not in json.dumps(record)


def test_a_guest_that_could_not_be_rebuilt_is_named_not_recorded():
    hostdev = ("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/>"
               "</source></hostdev>")
    result = made(guest_xml(hostdev))
    assert result['records'] == []
    assert result['refused'][0]['name'] == 'web1' and 'host device' in result['refused'][0]['reason']


def test_records_verify_with_the_key_only():
    record = made()['records'][0]
    good = evacuation_verify(documents(record), KEY)
    assert good == dict(records=[record], refused=[])
    other_key = evacuation_verify(documents(record), 'x' * 40)
    assert other_key['records'] == [] and 'MAC does not verify' in other_key['refused'][0]['reason']


@pytest.mark.parametrize('change', [
    lambda r: r['root_disk'].update(image='/etc/shadow'),
    lambda r: r.update(definition=r['definition'].replace('</devices>', '<hostdev/></devices>')),
    lambda r: r.update(host='cn2'),
])
def test_a_record_changed_after_signing_is_refused(change):
    record = made()['records'][0]
    path, text = next(iter(documents(record).items()))
    document = json.loads(text)
    change(document['record'])
    result = evacuation_verify({path: json.dumps(document)}, KEY)
    assert result['records'] == [] and result['refused'] == [
        dict(path=path, reason="its MAC does not verify (it was changed, or written, by someone without the "
                               "controller's key)")]


def test_a_signed_record_must_still_be_whole():
    record = made()['records'][0]
    wrong_name = evacuation_verify({'/state/guests/00000000-0000-4000-8000-000000000000.json':
                                    evacuation_document(record, KEY)}, KEY)
    assert 'not the one its file name says' in wrong_name['refused'][0]['reason']
    other_drive = dict(record, config_drive=dict(path='/srv/pool/other-root.qcow2', format='vfat'))
    assert 'config drive is not a disk' in evacuation_verify(documents(other_drive), KEY)['refused'][0]['reason']
    assert 'record version' in evacuation_verify(documents(dict(record, version=0)), KEY)['refused'][0]['reason']
    garbage = evacuation_verify({'/state/guests/x.json': '{"record": 1}'}, KEY)
    assert 'not a record this role wrote' in garbage['refused'][0]['reason']


def test_a_short_key_is_refused():
    with pytest.raises(AnsibleFilterError, match='at least 32 characters'):
        evacuation_document(made()['records'][0], 'short')


def test_owned_records_are_found_by_their_host_even_unverified():
    record = made()['records'][0]
    docs = dict(documents(record), **{'/state/guests/bad.json': 'not json'})
    assert evacuation_owned(docs, 'cn1') == {UUID: '/state/guests/%s.json' % UUID}
    assert evacuation_owned(docs, 'cn2') == {}


def fence(from_uuid, uuid=UUID, key=KEY):
    mac = evacuation_fence_mac(dict(from_host_uuid=from_uuid, uuid=uuid), key)
    return 'from_host_uuid=%s\nfrom_host=cn1\nto_host=cn2\nguest=web1\nuuid=%s\nmac=%s\n' % (from_uuid, uuid, mac)


def test_fences_of_this_host_are_believed_when_signed():
    other = '99999999-2222-4333-8444-555555555555'
    docs = {'/f/%s.fence' % UUID: fence(HOST_UUID), '/f/7f1c2d3e-0000-4000-8000-000000000002.fence':
            fence(other, '7f1c2d3e-0000-4000-8000-000000000002')}
    assert evacuation_fences(docs, KEY, HOST_UUID) == dict(fenced={UUID: '/f/%s.fence' % UUID}, refused=[])
    forged = {'/f/%s.fence' % UUID: fence(HOST_UUID, key='z' * 40)}
    result = evacuation_fences(forged, KEY, HOST_UUID)
    assert result['fenced'] == {} and 'MAC does not verify' in result['refused'][0]['reason']
    renamed = {'/f/7f1c2d3e-0000-4000-8000-000000000002.fence': fence(HOST_UUID)}
    assert evacuation_fences(renamed, KEY, HOST_UUID)['fenced'] == {}
