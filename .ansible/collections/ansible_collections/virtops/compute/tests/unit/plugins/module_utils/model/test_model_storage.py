"""Storage pools and volumes: round trips, sizes in bytes, valid XML, a real pool with a backed volume."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume

# pool-dumpxml of a running dir pool (libvirt 9.0 prints the empty <source> with a blank line inside)
DIR_POOL = """<pool type='dir'>
  <name>virtops</name>
  <uuid>4527cb9a-3664-4c11-8248-633a2f6b6127</uuid>
  <capacity unit='bytes'>270553174016</capacity>
  <allocation unit='bytes'>23943393280</allocation>
  <available unit='bytes'>246609780736</available>
  <source>
  </source>
  <target>
    <path>/var/lib/virtops/pool</path>
    <permissions>
      <mode>0755</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </target>
</pool>"""

ISCSI_POOL = """<pool type='iscsi'>
  <name>san</name>
  <uuid>1c2f3e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f</uuid>
  <capacity unit='GiB'>10</capacity>
  <allocation unit='GiB'>10</allocation>
  <available unit='bytes'>0</available>
  <source>
    <host name='127.0.0.1' port='3260'/>
    <device path='iqn.2026-01.org.example:storage'/>
    <auth type='chap' username='chapuser'>
      <secret usage='virtops-san'/>
    </auth>
  </source>
  <target>
    <path>/dev/disk/by-path</path>
  </target>
</pool>"""

# vol-dumpxml of a qcow2 overlay on a raw base, as libvirt 9.0 prints it
OVERLAY_VOLUME = """<volume type='file'>
  <name>over.qcow2</name>
  <key>/var/lib/virtops/pool/over.qcow2</key>
  <capacity unit='bytes'>10485760</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196616</physical>
  <target>
    <path>/var/lib/virtops/pool/over.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <timestamps>
      <atime>1795573918.732505027</atime>
      <mtime>1795573918.727474848</mtime>
      <ctime>1795573918.732437100</ctime>
      <btime>0</btime>
    </timestamps>
    <compat>1.1</compat>
    <clusterSize unit='B'>65536</clusterSize>
    <features/>
  </target>
  <backingStore>
    <path>/var/lib/virtops/pool/base.raw</path>
    <format type='raw'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </backingStore>
</volume>"""


@pytest.mark.parametrize('cls, text', [(StoragePool, DIR_POOL), (StoragePool, ISCSI_POOL), (StorageVolume, OVERLAY_VOLUME)],
                         ids=['dir-pool', 'iscsi-pool', 'overlay'])
def test_round_trip_is_lossless(lossless, cls, text):
    lossless(cls, text)


def test_blank_source_becomes_empty_element():
    assert '<source/>' in StoragePool.from_xml(DIR_POOL).to_xml()


def test_pool_reads():
    pool = StoragePool.from_xml(DIR_POOL)
    assert (pool.type, pool.name, pool.uuid, pool.target_path) == (
        'dir', 'virtops', '4527cb9a-3664-4c11-8248-633a2f6b6127', '/var/lib/virtops/pool')
    assert (pool.capacity_bytes, pool.allocation_bytes, pool.available_bytes) == (270553174016, 23943393280, 246609780736)
    assert (pool.permissions_mode, pool.permissions_owner, pool.permissions_group) == ('0755', 0, 0)
    assert (pool.source_host, pool.source_dir, pool.source_devices, pool.source_name) == (None, None, [], None)
    san = StoragePool.from_xml(ISCSI_POOL)
    assert (san.capacity_bytes, san.available_bytes) == (10 << 30, 0)
    assert (san.source_host, san.source_port, san.source_devices) == ('127.0.0.1', 3260, ['iqn.2026-01.org.example:storage'])


def test_volume_reads():
    vol = StorageVolume.from_xml(OVERLAY_VOLUME)
    assert (vol.type, vol.name, vol.key) == ('file', 'over.qcow2', '/var/lib/virtops/pool/over.qcow2')
    assert (vol.capacity_bytes, vol.allocation_bytes, vol.physical_bytes) == (10485760, 200704, 196616)
    assert (vol.target_path, vol.target_format, vol.target_compat) == ('/var/lib/virtops/pool/over.qcow2', 'qcow2', '1.1')
    assert (vol.permissions_mode, vol.permissions_owner, vol.permissions_group) == ('0600', 0, 0)
    assert (vol.backing_path, vol.backing_format) == ('/var/lib/virtops/pool/base.raw', 'raw')


def test_volume_sizes_and_setters():
    vol = StorageVolume.from_xml("<volume><name>v</name><capacity unit='G'>20</capacity><allocation>4096</allocation></volume>")
    assert vol.capacity_bytes == 20 << 30 and vol.allocation_bytes == 4096       # no unit: bytes
    vol.capacity_bytes = 30 << 30
    assert '<capacity unit="bytes">32212254720</capacity>' in vol.to_xml()
    vol.allocation_bytes = None
    vol.backing_path = '/b'
    vol.backing_format = 'qcow2'
    vol.backing_path = None
    vol.backing_format = None
    assert vol.to_xml(pretty=False) == '<volume><name>v</name><capacity unit="bytes">32212254720</capacity></volume>'


def build_pool(name, path):
    pool = StoragePool()
    pool.type = 'dir'
    pool.name = name
    pool.target_path = path
    pool.permissions_mode = '0755'
    return pool


def build_volume(name, capacity, fmt, backing=None, backing_format=None):
    vol = StorageVolume()
    vol.name = name
    vol.capacity_bytes = capacity
    vol.allocation_bytes = 0
    vol.target_format = fmt
    vol.backing_path = backing
    vol.backing_format = backing_format
    return vol


def test_built_objects_validate(validate_xml):
    validate_xml(build_pool('virtops-model-pool', '/var/lib/virtops/pool'), 'storagepool')
    validate_xml(build_volume('base.raw', 1 << 20, 'raw'), 'storagevol')
    overlay = build_volume('over.qcow2', 10 << 20, 'qcow2', '/var/lib/virtops/pool/base.raw', 'raw')
    overlay.permissions_mode = '0644'
    overlay.permissions_owner = 64055
    overlay.target_compat = '1.1'
    validate_xml(overlay, 'storagevol')


def test_libvirt_pool_and_backed_volume(conn, unique_name, tmp_path, lossless):
    path = tmp_path / 'pool'
    pool = conn.storagePoolDefineXML(build_pool(unique_name, str(path)).to_xml(), 0)
    volumes = []
    try:
        pool.build(0)
        pool.create(0)
        read = lossless(StoragePool, pool.XMLDesc(0))
        assert (read.name, read.uuid, read.target_path) == (unique_name, pool.UUIDString(), str(path))
        assert read.capacity_bytes == pool.info()[1] and read.available_bytes == pool.info()[3]
        base = pool.createXML(build_volume('base.raw', 1 << 20, 'raw').to_xml(), 0)
        volumes.append(base)
        overlay = pool.createXML(build_volume('over.qcow2', 10 << 20, 'qcow2', base.path(), 'raw').to_xml(), 0)
        volumes.append(overlay)
        vol = lossless(StorageVolume, overlay.XMLDesc(0))
        assert (vol.name, vol.key, vol.target_path, vol.target_format) == ('over.qcow2', overlay.key(), overlay.path(), 'qcow2')
        assert vol.capacity_bytes == 10 << 20 == overlay.info()[1]
        assert (vol.backing_path, vol.backing_format) == (base.path(), 'raw')
        assert StorageVolume.from_xml(base.XMLDesc(0)).capacity_bytes == 1 << 20
    finally:
        for volume in reversed(volumes):
            volume.delete(0)
        if pool.isActive():
            pool.destroy()
        pool.delete(0)
        pool.undefine()
