"""The instance pool made by two runs at the same moment: the one that loses the race uses the other's pool."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt


def no_such_pool(name):
    """The error libvirt raises for a pool that does not exist (its code is what the lookup goes by)."""
    err = libvirt.libvirtError('Storage pool not found: no storage pool with matching name %s' % name)
    err.err = (libvirt.VIR_ERR_NO_STORAGE_POOL, 0, str(err), 2, None, None, None, 0, 0)
    return err


class FakePool:
    def __init__(self, active=False, create_error=False):
        self.active, self.create_error, self.autostart = active, create_error, None

    def build(self, flags):
        raise libvirt.libvirtError('directory exists')

    def setAutostart(self, value):
        self.autostart = value

    def isActive(self):
        return self.active

    def create(self, flags):
        # the other run started it a moment before
        self.active = True
        if self.create_error:
            raise libvirt.libvirtError('storage pool is already active')


class RacingConn:
    """No pool at the first lookup; by the time of our define, the other run has defined it."""
    def __init__(self, pool, exists_after_define=True):
        self.pool, self.lookups, self.exists_after_define = pool, 0, exists_after_define

    def storagePoolLookupByName(self, name):
        self.lookups += 1
        if self.lookups == 1 or not self.exists_after_define:
            raise no_such_pool(name)
        return self.pool

    def storagePoolDefineXML(self, xml, flags):
        raise libvirt.libvirtError("operation failed: pool 'virtops-instances' already exists")


def test_losing_the_define_race_uses_the_other_pool():
    pool = FakePool(create_error=True)
    assert instance_storage.ensure_pool(RacingConn(pool)) is pool
    assert pool.active and pool.autostart == 1


def test_a_define_that_fails_for_another_reason_is_not_hidden():
    with pytest.raises(libvirt.libvirtError, match='already exists'):
        instance_storage.ensure_pool(RacingConn(FakePool(), exists_after_define=False))


def test_a_start_that_really_fails_is_not_hidden():
    class Broken(FakePool):
        def create(self, flags):
            raise libvirt.libvirtError('cannot open directory')
    with pytest.raises(libvirt.libvirtError, match='cannot open directory'):
        instance_storage.ensure_pool(RacingConn(Broken()))
