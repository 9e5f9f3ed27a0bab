"""Resolving disk sources that need no libvirt: fibre channel paths, iSCSI names, CHAP secret digests."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.storage import secrets as secret_store
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.storage.sources import fc_device, validate


@pytest.fixture
def by_path(tmp_path):
    for name in ('pci-0000:05:00.0-fc-0x5005076801234567-lun-0', 'pci-0000:05:00.0-fc-0x5005076801234567-lun-3',
                 'pci-0000:05:00.1-fc-0x5005076801234567-lun-3', 'pci-0000:00:1f.2-ata-1'):
        (tmp_path / name).write_text('')
    return str(tmp_path)


@pytest.mark.parametrize('wwn', ['0x5005076801234567', '5005076801234567', '50:05:07:68:01:23:45:67', '0X5005076801234567'])
def test_fc_lun_resolves_through_by_path(by_path, wwn):
    assert fc_device(wwn, 3, by_path).endswith('pci-0000:05:00.0-fc-0x5005076801234567-lun-3')


def test_fc_lun_without_a_path_is_one_sentence(by_path):
    with pytest.raises(VirtopsError) as err:
        fc_device('0x5005076801234567', 7, by_path)
    assert 'LUN 7' in str(err.value) and str(err.value).endswith('.')


def _params(**source):
    params = dict(state='present', volume=None, path=None, block=None, iscsi=None, fibre_channel=None)
    params.update(source)
    return params


@pytest.mark.parametrize('iqn', ['iqn.2026-11.lab.virtops:lab1', 'iqn.1992-01.com.example', 'eui.02004567A425678D',
                                 'naa.52004567BA64678D'])
def test_good_iscsi_names(iqn):
    validate('w', _params(iscsi=dict(portal='192.0.2.1:3260', iqn=iqn, lun=0)))


@pytest.mark.parametrize('iqn', ['iqn.26-11.x', 'lab1', 'iqn.2026-11.', 'iqn.2026-11.x:a b', 'iqn.2026-11.x:t\n',
                                 'iqn.\u0662\u0660\u0662\u0666-11.x'])
def test_bad_iscsi_names(iqn):
    with pytest.raises(VirtopsError, match='iscsi.iqn'):
        validate('w', _params(iscsi=dict(portal='192.0.2.1:3260', iqn=iqn, lun=0)))


def test_chap_needs_a_user():
    with pytest.raises(VirtopsError, match='chap_username'):
        validate('w', _params(iscsi=dict(portal='192.0.2.1:3260', iqn='iqn.2026-11.a.b', lun=0, chap_password='x')))


def test_secret_digest_matches_only_its_value():
    tag = secret_store.new_tag('pass')
    description, found = secret_store.split_description('CHAP for array1 ' + tag)
    assert description == 'CHAP for array1' and found == tag
    assert secret_store.value_matches(found, 'pass') and not secret_store.value_matches(found, 'Pass')
    assert secret_store.split_description('plain words') == ('plain words', None)
