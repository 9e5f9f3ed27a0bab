"""The undo of a failed cold move: the source guest starts again only once the destination holds no copy of it."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.migration import cold_move


class FakeDom:
    def __init__(self, active=False):
        self.active = active
        self.started = []
        self.undefined = False

    def isActive(self):
        return self.active

    def isPersistent(self):
        return True

    def destroy(self):
        self.active = False

    def undefine(self):
        self.undefined = True

    def createWithFlags(self, flags):
        self.started.append(flags)


class FakeConn:
    def __init__(self, dom=None):
        self.dom = dom

    def lookupByName(self, _name):
        if self.dom is None or self.dom.undefined:
            raise _no_domain()
        return self.dom

    def storagePoolLookupByName(self, _name):
        raise _no_pool()


def _error(code):
    err = libvirt.libvirtError('fake')
    err.get_error_code = lambda: code
    return err


def _no_domain():
    return _error(libvirt.VIR_ERR_NO_DOMAIN)


def _no_pool():
    return _error(libvirt.VIR_ERR_NO_STORAGE_POOL)


class FakeModule:
    def __init__(self, peer):
        self.params = dict(dest_uri='qemu+tcp://dest/system')
        self.peer = peer

    def open_peer(self, _uri):
        if isinstance(self.peer, Exception):
            raise self.peer
        return self.peer


def _undo(module, source, power='running'):
    with pytest.raises(VirtopsError) as err:
        cold_move.undo(module, source, 'web1', [], 'virtops-instances', power, "guest 'web1'", 'lost connection')
    return str(err.value)


def test_a_destination_that_cannot_be_checked_leaves_the_source_stopped():
    source = FakeDom()
    message = _undo(FakeModule(VirtopsError("cannot connect to libvirt at 'qemu+tcp://dest/system'.")), source)
    assert source.started == []
    assert 'left stopped on this host' in message and 'qemu+tcp://dest/system' in message


def test_a_copy_running_on_the_destination_is_removed_before_the_source_starts():
    copy = FakeDom(active=True)
    source = FakeDom()
    message = _undo(FakeModule(FakeConn(copy)), source)
    assert not copy.active and copy.undefined
    assert source.started == [0] and 'was undone' in message


def test_a_paused_guest_comes_back_paused_and_a_stopped_one_stays_stopped():
    paused, stopped = FakeDom(), FakeDom()
    _undo(FakeModule(FakeConn()), paused, power='paused')
    _undo(FakeModule(FakeConn()), stopped, power='stopped')
    assert paused.started == [libvirt.VIR_DOMAIN_START_PAUSED] and stopped.started == []
