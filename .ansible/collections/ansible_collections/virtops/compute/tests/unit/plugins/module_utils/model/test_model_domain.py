"""Domain: lossless round trips of libvirt's own XML, typed reads, setters, devices, application metadata."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Device, Disk, Graphics, Serial
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import (
    METADATA_NS, Cpu, Domain, app_metadata_xml,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError

# What libvirt 9.0 printed (virsh dumpxml) for an inactive q35/UEFI guest defined from a short description.
INACTIVE_XML = """<domain type='qemu'>
  <name>virtops-model-probe</name>
  <uuid>c882ff1a-be78-40f6-9dc3-87e994413f9e</uuid>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/tmp/virtops-model-probe_VARS.fd</nvram>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'/>
      <source file='/var/lib/libvirt/images/x.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <iotune>
        <total_bytes_sec>10485760</total_bytes_sec>
        <total_iops_sec>500</total_iops_sec>
      </iotune>
      <serial>root-disk</serial>
      <boot order='1'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/tmp/cfg.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci'>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x10'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <model type='virtio'/>
      <filterref filter='clean-traffic'>
        <parameter name='IP' value='192.168.122.10'/>
      </filterref>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/x.serial.log' append='on'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <log file='/var/log/libvirt/qemu/x.serial.log' append='on'/>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' keymap='en-us'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
    <watchdog model='i6300esb' action='reset'>
      <address type='pci' domain='0x0000' bus='0x09' slot='0x01' function='0x0'/>
    </watchdog>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <address type='pci' domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>
    </rng>
  </devices>
</domain>
"""

# A running direct-boot guest in libvirt's live format, with metadata of two applications,
# a QEMU pass-through namespace and elements no libvirt release has (yet).
LIVE_XML = """<domain type='qemu' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web1</name>
  <uuid>0b7f1c1e-8a55-4c36-9d1e-3f0a4b1f7c21</uuid>
  <title>Web server</title>
  <description>first web node</description>
  <metadata>
    <other:app xmlns:other="http://example.org/other">keep me</other:app>
    <virtops:instance xmlns:virtops="urn:virtops:compute:1">{"flavor": "small", "image": "debian-12", "rescued": false}</virtops:instance>
  </metadata>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/lib/virtops/images/vmlinuz</kernel>
    <initrd>/var/lib/virtops/images/initrd.img</initrd>
    <cmdline>console=ttyS0 root=/dev/vda</cmdline>
    <boot dev='hd'/>
    <boot dev='network'/>
    <bootmenu enable='no'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <smm state='off'/>
    <future-feature mode='shiny'/>
  </features>
  <cpu mode='host-model' check='partial'>
    <topology sockets='1' dies='1' cores='2' threads='1'/>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>coredump-destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/var/lib/libvirt/images/web1.qcow2' index='2'/>
      <backingStore type='file' index='3'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/debian-12.qcow2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </disk>
    <interface type='bridge'>
      <mac address='52:54:00:ab:cd:ef'/>
      <source bridge='vopsbr0'/>
      <vlan>
        <tag id='42'/>
      </vlan>
      <virtualport type='openvswitch'>
        <parameters interfaceid='9a0c6bde-4ad8-4d1a-8a8f-6f0d1e1e2a3b'/>
      </virtualport>
      <target dev='vnet3'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/4'/>
      <log file='/var/log/virtops/web1.serial.log' append='on'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/4'>
      <source path='/dev/pts/4'/>
      <log file='/var/log/virtops/web1.serial.log' append='on'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-7-web1/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <graphics type='vnc' port='5900' autoport='yes' listen='0.0.0.0'>
      <listen type='address' address='0.0.0.0'/>
    </graphics>
    <memballoon model='none'/>
    <hologram projector='on'/>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+64055</label>
    <imagelabel>+64055:+64055</imagelabel>
  </seclabel>
  <qemu:commandline>
    <qemu:arg value='-no-hpet'/>
  </qemu:commandline>
</domain>
"""


@pytest.mark.parametrize('text', [INACTIVE_XML, LIVE_XML], ids=['inactive', 'live'])
def test_round_trip_is_lossless(lossless, text):
    lossless(Domain, text)


def test_edits_keep_what_the_model_does_not_know(canonical):
    dom = Domain.from_xml(LIVE_XML)
    dom.memory_kib = 1048576
    dom.vcpu = 4
    dom.set_app_metadata({'flavor': 'large'})
    out = dom.to_xml()
    for kept in ('<future-feature mode="shiny"/>', '<hologram projector="on"/>', '<qemu:arg value="-no-hpet"/>',
                 '<other:app xmlns:other="http://example.org/other">keep me</other:app>',
                 '<partition>/machine</partition>', '<backingStore/>', '<timer name="rtc" tickpolicy="catchup"/>'):
        assert kept in out
    again = Domain.from_xml(out)
    again.memory_kib = 524288
    again.vcpu = 2
    again.set_app_metadata({'flavor': 'small', 'image': 'debian-12', 'rescued': False})
    assert canonical(again.to_xml()) == canonical(LIVE_XML)


def test_reads_inactive_values():
    dom = Domain.from_xml(INACTIVE_XML)
    assert (dom.type, dom.id, dom.name, dom.uuid) == ('qemu', None, 'virtops-model-probe', 'c882ff1a-be78-40f6-9dc3-87e994413f9e')
    assert (dom.memory_kib, dom.current_memory_kib, dom.max_memory_kib) == (131072, 131072, None)
    assert (dom.vcpu, dom.vcpu_placement, dom.vcpu_current) == (1, 'static', None)
    assert (dom.os_type, dom.os_arch, dom.os_machine, dom.os_firmware) == ('hvm', 'x86_64', 'pc-q35-7.2', None)
    assert (dom.loader_path, dom.loader_readonly, dom.loader_type, dom.loader_secure) == (
        '/usr/share/OVMF/OVMF_CODE_4M.fd', True, 'pflash', None)
    assert (dom.nvram_path, dom.nvram_template) == ('/tmp/virtops-model-probe_VARS.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd')
    assert (dom.kernel, dom.initrd, dom.cmdline, dom.boot_devices) == (None, None, None, [])
    assert (dom.acpi, dom.apic, dom.pae, dom.smm) == (True, True, False, None)
    assert (dom.cpu_mode, dom.cpu_model, dom.cpu.model_fallback, dom.cpu.check) == ('custom', 'qemu64', 'allow', 'none')
    assert (dom.on_poweroff, dom.on_reboot, dom.on_crash, dom.clock_offset) == ('destroy', 'restart', 'destroy', 'utc')
    assert dom.emulator == '/usr/bin/qemu-system-x86_64'
    assert [d.target_dev for d in dom.disks] == ['vda', 'sda']
    assert [type(d).__name__ for d in dom.devices][:4] == ['Disk', 'Disk', 'Controller', 'Controller']
    assert {type(d) for d in dom.devices if d.tag in ('input', 'audio')} == {Device}
    assert len(dom.devices) == 18
    assert (len(dom.interfaces), len(dom.serials), len(dom.consoles), len(dom.channels), len(dom.graphics)) == (1, 1, 1, 1, 1)
    assert (len(dom.videos), len(dom.rngs), len(dom.watchdogs), len(dom.memballoons), len(dom.controllers)) == (1, 1, 1, 1, 4)
    assert dom.get_app_metadata() == {}


def test_reads_live_values():
    dom = Domain.from_xml(LIVE_XML)
    assert (dom.id, dom.title, dom.description) == (7, 'Web server', 'first web node')
    assert (dom.memory_kib, dom.current_memory_kib, dom.vcpu, dom.vcpu_current) == (524288, 262144, 2, 1)
    assert (dom.kernel, dom.initrd, dom.cmdline) == ('/var/lib/virtops/images/vmlinuz', '/var/lib/virtops/images/initrd.img',
                                                     'console=ttyS0 root=/dev/vda')
    assert dom.boot_devices == ['hd', 'network'] and dom.boot_menu is False
    assert dom.smm is False
    cpu = dom.cpu
    assert isinstance(cpu, Cpu) and (cpu.mode, cpu.sockets, cpu.dies, cpu.cores, cpu.threads) == ('host-model', 1, 1, 2, 1)
    assert dom.cpu_model is None
    assert dom.get_app_metadata() == {'flavor': 'small', 'image': 'debian-12', 'rescued': False}
    assert dom.find_disk('vda').source_file == '/var/lib/libvirt/images/web1.qcow2'
    assert dom.find_disk('vdz') is None
    assert dom.find_interface('52:54:00:AB:CD:EF').target_dev == 'vnet3'
    assert dom.find_interface('52:54:00:00:00:00') is None


def test_memory_in_other_units_reads_as_kib():
    dom = Domain.from_xml("<domain type='qemu'><name>m</name><memory unit='GiB'>2</memory>"
                          "<currentMemory unit='MB'>1</currentMemory></domain>")
    assert dom.memory_kib == 2 * 1024 * 1024
    assert dom.current_memory_kib == 977          # 10**6 bytes, rounded up to whole KiB as libvirt does
    dom.memory_kib = 512 * 1024
    assert '<memory unit="KiB">524288</memory>' in dom.to_xml()


def test_os_and_feature_setters():
    dom = Domain.from_xml(LIVE_XML)
    dom.kernel = None
    dom.initrd = None
    dom.cmdline = None
    dom.boot_devices = ['cdrom']
    assert dom.find('os/kernel') is None and dom.boot_devices == ['cdrom']
    dom.smm = True
    assert dom.find('features/smm').get('state') == 'on' and dom.smm is True
    dom.smm = None
    assert dom.smm is None
    assert Domain.from_xml("<domain><features><smm/></features></domain>").smm is True
    dom.acpi = False
    dom.apic = False
    assert dom.find('features/future-feature') is not None
    dom.loader_path = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
    dom.loader_secure = True
    dom.loader_type = 'pflash'
    os_children = [child.tag for child in dom.find('os')]
    assert os_children == ['type', 'loader', 'boot', 'bootmenu']
    dom.cpu_mode = 'custom'
    dom.cpu_model = 'qemu64'
    assert [child.tag for child in dom.find('cpu')] == ['model', 'topology']
    dom.cpu = None
    assert dom.cpu is None and dom.cpu_mode is None
    dom.ensure('cpu').mode = 'host-passthrough'
    assert dom.cpu_mode == 'host-passthrough'


def test_add_and_remove_devices():
    dom = Domain.from_xml(INACTIVE_XML)
    disk = Disk.from_xml("<disk type='file' device='disk'><source file='/tmp/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>")
    dom.add_device(disk)
    tags = [child.tag for child in dom.find('devices')]
    assert tags[:4] == ['emulator', 'disk', 'disk', 'disk'] and dom.disks[2].target_dev == 'vdb'
    assert dom.remove_device(Disk.from_xml(disk.to_xml())) is True       # an equal copy finds it
    assert [d.target_dev for d in dom.disks] == ['vda', 'sda']
    assert dom.remove_device(dom.find_disk('sda')) is True             # the view itself
    assert dom.remove_device(disk) is False
    fresh = Domain()
    fresh.add_device(Graphics.from_xml("<graphics type='vnc' autoport='yes'/>"))
    fresh.add_device(Disk.from_xml("<disk type='file' device='disk'><target dev='vda'/></disk>"))
    fresh.add_device(Serial.from_xml("<serial type='pty'/>"))
    fresh.emulator = '/usr/bin/qemu-system-x86_64'
    assert [child.tag for child in fresh.find('devices')] == ['emulator', 'disk', 'serial', 'graphics']


def test_app_metadata_set_replace_remove():
    dom = Domain.from_xml(LIVE_XML)
    dom.set_app_metadata({'b': 1, 'a': [1, 2]})
    node = dom.find('metadata/{%s}instance' % METADATA_NS)
    assert node.text == '{"a": [1, 2], "b": 1}' and node.prefix == 'virtops'
    dom.set_app_metadata(None)
    assert dom.get_app_metadata() == {} and dom.find('metadata') is not None      # the other app's metadata stays
    fresh = Domain()
    fresh.name = 'n'
    fresh.memory_kib = 1024
    fresh.set_app_metadata({'x': 'y'})
    assert [child.tag for child in fresh.element] == ['name', 'metadata', 'memory']
    assert 'xmlns:virtops="urn:virtops:compute:1"' in fresh.to_xml()
    fresh.set_app_metadata(None)
    assert fresh.find('metadata') is None
    with pytest.raises(ModelError):
        fresh.set_app_metadata(['not', 'a', 'dict'])
    broken = Domain.from_xml('<domain><metadata><v:instance xmlns:v="urn:virtops:compute:1">{oops</v:instance></metadata></domain>')
    with pytest.raises(ModelError, match='not JSON'):
        broken.get_app_metadata()
    assert app_metadata_xml({'k': 1, 'a': None}) == '<instance>{"a": null, "k": 1}</instance>'
