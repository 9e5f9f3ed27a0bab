"""Volume sizes (grow only), what an existing volume cannot become, and which disks read a volume."""
import struct

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.storage.images import (
    ImageSource, has_own_backing_file, volume_model,
)
from ansible_collections.virtops.compute.plugins.module_utils.storage.volumes import (
    GIB, MIB, check_unchangeable, disk_references, grown_capacity, human_size, new_capacity, validate,
)

WHERE = "volume 'data1' in pool 'p1'"
CURRENT = dict(name='data1', pool='p1', path='/srv/p1/data1', format='qcow2', capacity_bytes=2 * GIB,
               allocation_bytes=0, backing=None)


def params(**overrides):
    base = dict(pool='p1', name='data1', size_gb=None, format='qcow2', from_image=None, backing=False, state='present')
    base.update(overrides)
    return base


@pytest.mark.parametrize('nbytes, text', [(2 * GIB, '2 GiB'), (GIB + GIB // 2, '1.5 GiB'), (20 * MIB, '20 MiB'),
                                          (GIB + 1, '1.01 GiB'), (0, '0 MiB')])
def test_human_size(nbytes, text):
    assert human_size(nbytes) == text


def test_shrinking_is_refused_in_one_sentence():
    with pytest.raises(VirtopsError) as err:
        grown_capacity(WHERE, 1, 2 * GIB)
    assert str(err.value) == ("volume 'data1' in pool 'p1': size_gb 1 is smaller than the volume's 2 GiB; "
                              "shrinking is refused.")


def test_growing_and_keeping_the_size():
    assert grown_capacity(WHERE, 3, 2 * GIB) == 3 * GIB
    assert grown_capacity(WHERE, 2, 2 * GIB) == 2 * GIB
    assert grown_capacity(WHERE, None, 2 * GIB) == 2 * GIB
    # a copied image of an odd size grows to whole GiB
    assert grown_capacity(WHERE, 1, 20 * MIB) == GIB


def test_new_capacity():
    assert new_capacity(WHERE, 1) == GIB
    assert new_capacity(WHERE, None, 20 * MIB) == 20 * MIB
    assert new_capacity(WHERE, 1, 20 * MIB) == GIB
    with pytest.raises(VirtopsError, match=r"size_gb 1 is smaller than the image's 2\.5 GiB; shrinking is refused\.$"):
        new_capacity(WHERE, 1, 2 * GIB + GIB // 2)
    with pytest.raises(VirtopsError, match=r'does not exist and size_gb \(or from_image\) is needed'):
        new_capacity(WHERE, None)


@pytest.mark.parametrize('overrides, text', [
    (dict(name='a/b'), "without '/'"),
    (dict(size_gb=0), 'size_gb 0 must be positive'),
    (dict(backing=True, size_gb=1), 'backing needs from_image'),
    (dict(backing=True, from_image='/b.qcow2', format='raw'), 'backing needs format qcow2'),
])
def test_validate(overrides, text):
    with pytest.raises(VirtopsError, match=text):
        validate(params(**overrides))


def test_validate_lets_absent_through_without_sizes():
    validate(params(state='absent', size_gb=0, backing=True))


def test_existing_volume_keeps_format_and_origin():
    check_unchangeable(WHERE, CURRENT, params())
    with pytest.raises(VirtopsError, match='is qcow2, and its format is not changed to raw'):
        check_unchangeable(WHERE, CURRENT, params(format='raw'))
    with pytest.raises(VirtopsError, match="backing store none, not from_image '/b.qcow2'"):
        check_unchangeable(WHERE, CURRENT, params(from_image='/b.qcow2', backing=True))
    overlay = dict(CURRENT, backing='/images/b.qcow2')
    check_unchangeable(WHERE, overlay, params(from_image='/images//b.qcow2', backing=True))
    with pytest.raises(VirtopsError, match="overlay on '/images/b.qcow2', not the full copy"):
        check_unchangeable(WHERE, overlay, params(from_image='/images/b.qcow2'))


DOMAIN = """<domain type='kvm'><name>g1</name><memory>1024</memory><os><type>hvm</type></os><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/srv/p1/root.qcow2'/>
    <backingStore type='file'><format type='qcow2'/><source file='/srv/images//base.qcow2'/><backingStore/></backingStore>
    <target dev='vda' bus='virtio'/></disk>
  <disk type='volume' device='disk'><source pool='p1' volume='data1'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdc' bus='virtio'/></disk>
  <disk type='network' device='disk'><source protocol='iscsi' name='iqn.x/1'><host name='h' port='3260'/></source>
    <target dev='vdd' bus='virtio'/></disk>
</devices></domain>"""


def test_disk_references_cover_files_chains_devices_and_pool_volumes():
    paths, volumes = disk_references(DOMAIN)
    assert paths == {'/srv/p1/root.qcow2', '/srv/images/base.qcow2', '/dev/sdb'}
    assert volumes == {('p1', 'data1')}


def test_qcow2_header_with_a_backing_file():
    header = b'QFI\xfb' + struct.pack('>I', 3) + struct.pack('>Q', 0)
    assert not has_own_backing_file(header)
    assert has_own_backing_file(b'QFI\xfb' + struct.pack('>I', 3) + struct.pack('>Q', 512))
    assert not has_own_backing_file(b'\0' * 16)


def test_volume_model_starts_unallocated_and_names_its_backing_store():
    model = StorageVolume.from_xml(volume_model('o1', 'qcow2', GIB, ImageSource('/img/b.raw', 'raw', MIB)).to_xml())
    assert (model.name, model.capacity_bytes, model.allocation_bytes, model.target_format) == ('o1', GIB, 0, 'qcow2')
    assert (model.backing_path, model.backing_format) == ('/img/b.raw', 'raw')
    assert StorageVolume.from_xml(volume_model('d', 'raw', GIB).to_xml()).backing_path is None
