"""A recorded definition rebuilt for another host: what a guest may carry goes along, what could hurt that host is
refused with a phrase naming it, and every host path goes through the caller's check."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.recorded import RecordedDefinition
from unit.recorded_guests import POOL, guest_xml


def checked(paths):
    def check(path, what):
        paths.append((path, what))
        if not path.startswith(POOL + '/'):
            raise ModelError('%s names %s, outside the pools' % (what, path))
    return check


def rebuild(xml, pools=None):
    seen = []
    return RecordedDefinition(xml).rebuild(checked(seen), pools), seen


def test_a_guest_of_the_collection_goes_along_with_its_paths_checked():
    rebuilt, seen = rebuild(guest_xml())
    assert rebuilt.name == 'web1' and rebuilt.uuid == '6f1c2d3e-0000-4000-8000-000000000001'
    assert rebuilt.get_app_metadata()['managed_by'] == 'virtops.compute'
    assert sorted(path for path, _what in seen) == sorted([
        POOL + '/vmlinuz', POOL + '/initrd', POOL + '/web1-root.qcow2', POOL + '/web1.iso', POOL + '/web1-console.log'])
    assert any(what == "<disk> 'vda' source@file" for _path, what in seen), seen
    # the kernel command line is no host path, whatever it holds
    assert rebuilt.cmdline == 'console=ttyS0 root=/dev/vda'
    # the failed host's emulator and the console password stay behind
    assert rebuilt.emulator is None
    assert [g.passwd for g in rebuilt.graphics] == [None]
    assert Domain.from_xml(rebuilt.to_xml()) == rebuilt


@pytest.mark.parametrize('xml, phrase', [
    (guest_xml(extra_top="<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                         "<qemu:arg value='-chardev'/></qemu:commandline>"), 'qemu:commandline'),
    (guest_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/>"
               "</source></hostdev>"), 'host device'),
    (guest_xml("<filesystem type='mount'><source dir='/'/><target dir='root'/></filesystem>"), 'host directory'),
    (guest_xml("<disk type='block' device='lun'><source dev='/srv/pool/lun'/><target dev='sdb' bus='scsi'/></disk>"),
     'SCSI LUN'),
    (guest_xml("<interface type='ethernet'><target dev='tap0'/></interface>"), "type 'ethernet'"),
    (guest_xml("<interface type='bridge'><source bridge='br0'/><script path='/srv/pool/up.sh'/></interface>"), 'script'),
    (guest_xml("<serial type='dev'><source path='/dev/ttyS0'/><target port='1'/></serial>"), "type 'dev'"),
    (guest_xml("<rng model='virtio'><backend model='random'>/dev/sda</backend></rng>"), '/dev/sda'),
    (guest_xml(extra_top="<seclabel type='static' model='dac' relabel='yes'><label>+0:+0</label></seclabel>"),
     'security label'),
    (guest_xml(extra_top="<keywrap><cipher name='aes' state='on'/></keywrap>"), '<keywrap>'),
    (guest_xml("<tpm model='tpm-crb'><backend type='emulator'/></tpm>"), 'TPM'),
])
def test_what_could_hurt_the_new_host_is_refused(xml, phrase):
    with pytest.raises(ModelError, match=phrase.replace('(', r'\(')):
        rebuild(xml)


@pytest.mark.parametrize('device, path', [
    ("<disk type='file' device='disk'><source file='/etc/shadow'/><target dev='vdb' bus='virtio'/></disk>", '/etc/shadow'),
    ("<disk type='block' device='disk'><source dev='/dev/sda'/><target dev='vdc' bus='virtio'/></disk>", '/dev/sda'),
    ("<serial type='file'><source path='/etc/cron.d/x'/><target port='1'/></serial>", '/etc/cron.d/x'),
    ("<graphics type='vnc'><listen type='socket' socket='/run/x.sock'/></graphics>", '/run/x.sock'),
])
def test_every_host_path_goes_through_the_check(device, path):
    with pytest.raises(ModelError, match=path):
        rebuild(guest_xml(device))


def test_a_root_disk_outside_the_pools_is_refused():
    with pytest.raises(ModelError, match="<disk> 'vda' source@file names /var/lib/libvirt/images/other.qcow2"):
        rebuild(guest_xml(root='/var/lib/libvirt/images/other.qcow2'))


def test_volume_disks_only_in_allowed_pools():
    device = "<disk type='volume' device='disk'><source pool='%s' volume='v1'/><target dev='vdb' bus='virtio'/></disk>"
    rebuild(guest_xml(device % 'instances'), pools={'instances'})
    with pytest.raises(ModelError, match="storage pool 'default'"):
        rebuild(guest_xml(device % 'default'), pools={'instances'})


def test_host_specific_details_are_dropped_and_uefi_is_chosen_again():
    xml = guest_xml("<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/x.sock'/>"
                    "<target type='virtio' name='org.qemu.guest_agent.1'/></channel>",
                    "<resource><partition>/machine</partition></resource>"
                    "<seclabel type='dynamic' model='dac' relabel='yes'/>")
    xml = xml.replace('<os>', "<os><loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd"
                              "</loader><nvram>/var/lib/libvirt/qemu/nvram/web1_VARS.fd</nvram>", 1)
    rebuilt, seen = rebuild(xml)
    assert rebuilt.os_firmware == 'efi' and rebuilt.loader_secure and not rebuilt.loader_path
    assert rebuilt.nvram_path is None
    assert not rebuilt.has('resource') and not rebuilt.has('seclabel')
    assert not any('channel' in path for path, _what in seen), seen


def test_other_applications_metadata_stays_behind():
    xml = guest_xml().replace('<metadata>', "<metadata><app:x xmlns:app='urn:other'>/etc/passwd</app:x>", 1)
    rebuilt, _seen = rebuild(xml)
    assert 'urn:other' not in rebuilt.to_xml()
    assert rebuilt.get_app_metadata()['managed_by'] == 'virtops.compute'
