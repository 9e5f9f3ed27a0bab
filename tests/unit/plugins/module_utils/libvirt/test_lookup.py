"""A lookup tells "there is no such object" from every other failure, which it raises."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup


def libvirt_error(code, message):
    err = libvirt.libvirtError(message)
    err.err = (code, 0, message, 2, None, None, None, 0, 0)
    return err


class Conn:
    def __init__(self, error=None, found=None):
        self.error, self.found = error, found

    def _answer(self, *_args):
        if self.error is not None:
            raise self.error
        return self.found

    lookupByName = storagePoolLookupByName = storageVolLookupByPath = networkLookupByName = _answer
    nwfilterLookupByName = secretLookupByUsage = lookupByUUIDString = storageVolLookupByName = _answer


CASES = [
    (lookup.find_domain, ('web1',), libvirt.VIR_ERR_NO_DOMAIN),
    (lookup.find_domain_by_uuid, ('00000000-0000-0000-0000-000000000001',), libvirt.VIR_ERR_NO_DOMAIN),
    (lookup.find_pool, ('default',), libvirt.VIR_ERR_NO_STORAGE_POOL),
    (lookup.find_volume, ('disk.qcow2',), libvirt.VIR_ERR_NO_STORAGE_VOL),
    (lookup.find_volume_by_path, ('/var/lib/x.qcow2',), libvirt.VIR_ERR_NO_STORAGE_VOL),
    (lookup.find_network, ('default',), libvirt.VIR_ERR_NO_NETWORK),
    (lookup.find_nwfilter, ('web',), libvirt.VIR_ERR_NO_NWFILTER),
    (lookup.find_secret, (libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, 'chap'), libvirt.VIR_ERR_NO_SECRET),
]


@pytest.mark.parametrize('find, args, code', CASES, ids=[case[0].__name__ for case in CASES])
def test_no_such_object_is_none(find, args, code):
    assert find(Conn(error=libvirt_error(code, 'not found')), *args) is None


@pytest.mark.parametrize('find, args, code', CASES, ids=[case[0].__name__ for case in CASES])
def test_found_object_is_returned(find, args, code):
    marker = object()
    assert find(Conn(found=marker), *args) is marker


@pytest.mark.parametrize('find, args, code', CASES, ids=[case[0].__name__ for case in CASES])
def test_a_lost_connection_is_raised_not_taken_for_absence(find, args, code):
    lost = libvirt_error(libvirt.VIR_ERR_SYSTEM_ERROR, 'Cannot recv data: Connection reset by peer')
    with pytest.raises(libvirt.libvirtError, match='Cannot recv data'):
        find(Conn(error=lost), *args)


def test_vanished_knows_every_kind_of_missing_object():
    assert lookup.vanished(libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, 'gone'))
    assert lookup.vanished(libvirt_error(libvirt.VIR_ERR_NO_STORAGE_VOL, 'gone'))
    assert not lookup.vanished(libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, 'busy'))
