"""A config drive in a pool is swapped in only once the new image reads back as written (fakes of libvirt's pool
and volume objects; the streams replaced by what the host's file ended up holding)."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import pool as drive_pool
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

POOL_XML = "<pool type='dir'><name>p</name><target><path>/nonexistent/pool</path></target></pool>"


class FakeVolume:
    def __init__(self, pool, name):
        self.pool, self.name_ = pool, name
        self.data = b''

    def name(self):
        return self.name_

    def path(self):
        return '/nonexistent/pool/' + self.name_

    def delete(self, _flags):
        del self.pool.volumes[self.name_]


class FakePool:
    def __init__(self):
        self.volumes = {}

    def createXML(self, xml, _flags):
        name = xml.split('<name>')[1].split('</name>')[0]
        self.volumes[name] = FakeVolume(self, name)
        return self.volumes[name]

    def createXMLFrom(self, xml, source, flags):
        made = self.createXML(xml, flags)
        made.data = source.data
        return made

    def XMLDesc(self, _flags):
        return POOL_XML

    def listAllVolumes(self, _flags):
        return list(self.volumes.values())

    def storageVolLookupByName(self, name):
        return self.volumes[name]

    def refresh(self, _flags):
        pass


def _target(monkeypatch, lands):
    """A target whose uploads leave ``lands(data)`` in the volume, as the host's file system would."""
    pool = FakePool()
    old = pool.createXML('<volume><name>cd.iso</name></volume>', 0)
    old.data = b'old drive'

    def upload(_conn, vol, reader, length):
        vol.data = lands(reader.read(length))

    monkeypatch.setattr(drive_pool.streams, 'upload', upload)
    monkeypatch.setattr(drive_pool.streams, 'download', lambda _conn, vol, length: vol.data[:length])
    monkeypatch.setattr(drive_pool, 'refresh', lambda _pool: None)
    target = drive_pool.PoolTarget(None, 'p', 'cd.iso')
    target._pool = pool
    return target, pool


def test_an_image_the_host_took_short_is_never_swapped_in(monkeypatch):
    target, pool = _target(monkeypatch, lambda data: data[:4096] + bytes(len(data) - 4096))
    with pytest.raises(VirtopsError) as refused:
        target.write(b'n' * 8192)
    assert str(refused.value) == ("config_drive 'p/cd.iso': the new image did not reach the pool whole (it reads "
                                  "back as written for 4096 of 8192 bytes; is the pool full?), so the old one is "
                                  "left as it was.")
    assert list(pool.volumes) == ['cd.iso'] and pool.volumes['cd.iso'].data == b'old drive'


def test_an_image_that_reads_back_whole_replaces_the_old_one(monkeypatch):
    target, pool = _target(monkeypatch, lambda data: data)
    target.write(b'n' * 8192)
    assert list(pool.volumes) == ['cd.iso'] and pool.volumes['cd.iso'].data == b'n' * 8192
