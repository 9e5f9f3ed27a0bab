"""Domain: guests built from scratch are valid, and libvirt keeps what the model wrote (metadata API included)."""
import json

import pytest
from lxml import etree

from ansible_collections.virtops.compute.plugins.module_utils.model.devices import (
    Channel, Console, Disk, Graphics, Interface, Serial,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import (
    METADATA_NS, METADATA_PREFIX, Domain, app_metadata_xml,
)


def build_direct_boot_guest(name):
    """What the lab and the probe build: TCG, direct kernel boot, serial log, agent channel."""
    dom = Domain()
    dom.type = 'qemu'
    dom.name = name
    dom.memory_kib = 64 * 1024
    dom.vcpu = 1
    dom.os_type = 'hvm'
    dom.os_arch = 'x86_64'
    dom.kernel = '/var/lib/virtops/vmlinuz'
    dom.initrd = '/var/lib/virtops/initrd'
    dom.cmdline = 'console=ttyS0'
    dom.acpi = True
    dom.on_poweroff = 'destroy'
    dom.on_reboot = 'restart'
    dom.on_crash = 'destroy'
    dom.set_app_metadata({'built_by': 'test'})
    disk = Disk()
    disk.type = 'file'
    disk.device = 'disk'
    disk.driver_name = 'qemu'
    disk.driver_type = 'qcow2'
    disk.driver_cache = 'none'
    disk.source_file = '/var/lib/libvirt/images/%s.qcow2' % name
    disk.target_dev = 'vda'
    disk.target_bus = 'virtio'
    disk.iotune = {'total_bytes_sec': 1048576, 'total_iops_sec': 100}
    dom.add_device(disk)
    serial = Serial()
    serial.type = 'pty'
    serial.target_port = 0
    serial.log_file = '/var/log/libvirt/qemu/%s.serial.log' % name
    serial.log_append = True
    dom.add_device(serial)
    console = Console()
    console.type = 'pty'
    console.target_type = 'serial'
    console.target_port = 0
    dom.add_device(console)
    channel = Channel()
    channel.type = 'unix'
    channel.target_type = 'virtio'
    channel.target_name = 'org.qemu.guest_agent.0'
    dom.add_device(channel)
    iface = Interface()
    iface.type = 'network'
    iface.source_network = 'default'
    iface.mac = '52:54:00:6d:6f:64'
    iface.model = 'virtio'
    dom.add_device(iface)
    graphics = Graphics()
    graphics.type = 'vnc'
    graphics.port = -1
    graphics.autoport = True
    graphics.set_listen_address('127.0.0.1')
    dom.add_device(graphics)
    return dom


def build_uefi_guest(name):
    dom = Domain()
    dom.type = 'qemu'
    dom.name = name
    dom.memory_kib = 256 * 1024
    dom.current_memory_kib = 256 * 1024
    dom.vcpu = 2
    dom.vcpu_current = 1
    dom.os_type = 'hvm'
    dom.os_arch = 'x86_64'
    dom.os_machine = 'q35'
    dom.loader_path = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
    dom.loader_readonly = True
    dom.loader_type = 'pflash'
    dom.loader_secure = True
    dom.nvram_template = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd'
    dom.boot_devices = ['hd', 'cdrom']
    dom.acpi = True
    dom.apic = True
    dom.smm = True
    dom.cpu_mode = 'custom'
    dom.cpu_model = 'qemu64'
    return dom


@pytest.mark.parametrize('builder', [build_direct_boot_guest, build_uefi_guest])
def test_built_guests_validate(validate_xml, builder):
    validate_xml(builder('virtops-model-built'), 'domain')


def test_libvirt_keeps_what_the_model_built(conn, unique_name, lossless):
    import libvirt
    built = build_direct_boot_guest(unique_name)
    dom = conn.defineXML(built.to_xml())
    try:
        dumped = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
        read = lossless(Domain, dumped)
        assert (read.name, read.type, read.memory_kib, read.vcpu) == (unique_name, 'qemu', 65536, 1)
        assert (read.kernel, read.cmdline, read.acpi) == ('/var/lib/virtops/vmlinuz', 'console=ttyS0', True)
        assert read.get_app_metadata() == {'built_by': 'test'}
        disk = read.find_disk('vda')
        assert (disk.driver_type, disk.driver_cache) == ('qcow2', 'none')
        assert disk.iotune == {'total_bytes_sec': 1048576, 'total_iops_sec': 100}
        assert read.serials[0].log_file.endswith('.serial.log') and read.serials[0].log_append is True
        assert read.channels[0].is_guest_agent
        assert read.find_interface('52:54:00:6d:6f:64').source_network == 'default'
        graphics = read.graphics[0]
        assert (graphics.port, graphics.autoport, graphics.listen, graphics.listen_address) == (-1, True, '127.0.0.1', '127.0.0.1')
        assert read.uuid == dom.UUIDString()
        # the metadata API writes the same element the model reads
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, app_metadata_xml({'via': 'api', 'n': 2}), METADATA_PREFIX, METADATA_NS,
                        libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        assert Domain.from_xml(dom.XMLDesc(0)).get_app_metadata() == {'via': 'api', 'n': 2}
        element = etree.fromstring(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0))
        assert json.loads(element.text) == {'via': 'api', 'n': 2}
    finally:
        dom.undefine()
