"""Host and domain capabilities, from a fixture and from the running libvirtd."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import (
    Capabilities, CapsGuest, DomainCapabilities,
)

# virsh capabilities on a Debian 12 host (features and most machines cut)
HOST_CAPS = """<capabilities>
  <host>
    <uuid>68a69bd9-16f7-4543-bd79-f340e6ae91bf</uuid>
    <cpu>
      <arch>x86_64</arch>
      <model>EPYC-Rome</model>
      <vendor>AMD</vendor>
      <microcode version='16777317'/>
      <signature family='23' model='1' stepping='2'/>
      <counter name='tsc' frequency='1996251000' scaling='no'/>
      <topology sockets='2' dies='1' cores='8' threads='2'/>
      <maxphysaddr mode='emulate' bits='48'/>
      <feature name='vme'/>
      <feature name='x2apic'/>
      <pages unit='KiB' size='4'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <migration_features>
      <live/>
      <uri_transports>
        <uri_transport>tcp</uri_transport>
        <uri_transport>rdma</uri_transport>
      </uri_transports>
    </migration_features>
    <topology>
      <cells num='2'>
        <cell id='0'>
          <memory unit='KiB'>4810528</memory>
          <cpus num='2'>
            <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>
            <cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/>
          </cpus>
        </cell>
        <cell id='1'>
          <memory unit='GiB'>4</memory>
          <cpus num='1'>
            <cpu id='2' socket_id='1' die_id='0' core_id='0' siblings='2'/>
          </cpus>
        </cell>
      </cells>
    </topology>
    <secmodel>
      <model>none</model>
      <doi>0</doi>
    </secmodel>
    <secmodel>
      <model>dac</model>
      <doi>0</doi>
      <baselabel type='kvm'>+64055:+64055</baselabel>
    </secmodel>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/bin/qemu-system-i386</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <domain type='qemu'/>
    </arch>
    <features>
      <pae/>
      <nonpae/>
      <acpi default='on' toggle='yes'/>
    </features>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <machine maxCpus='288'>pc-q35-7.2</machine>
      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
      <domain type='qemu'/>
      <domain type='kvm'/>
    </arch>
    <features>
      <acpi default='on' toggle='yes'/>
      <apic default='on' toggle='no'/>
      <cpuselection/>
      <deviceboot/>
      <disksnapshot default='on' toggle='no'/>
    </features>
  </guest>
</capabilities>"""

DOMAIN_CAPS = """<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>qemu</domain>
  <machine>pc-q35-7.2</machine>
  <arch>x86_64</arch>
  <vcpu max='255'/>
  <iothreads supported='yes'/>
  <os supported='yes'>
    <enum name='firmware'>
      <value>efi</value>
    </enum>
    <loader supported='yes'>
      <value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>
      <value>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</value>
      <value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>
      <enum name='type'>
        <value>rom</value>
        <value>pflash</value>
      </enum>
      <enum name='readonly'>
        <value>yes</value>
        <value>no</value>
      </enum>
      <enum name='secure'>
        <value>yes</value>
        <value>no</value>
      </enum>
    </loader>
  </os>
  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='host-model' supported='yes'>
      <model fallback='forbid'>EPYC</model>
      <vendor>AMD</vendor>
    </mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='unknown'>qemu64</model>
    </mode>
  </cpu>
  <devices>
    <disk supported='yes'>
      <enum name='diskDevice'>
        <value>disk</value>
        <value>cdrom</value>
      </enum>
      <enum name='bus'>
        <value>virtio</value>
        <value>sata</value>
      </enum>
    </disk>
    <graphics supported='yes'>
      <enum name='type'>
        <value>vnc</value>
        <value>spice</value>
      </enum>
    </graphics>
    <hostdev supported='no'/>
  </devices>
  <features>
    <sev supported='no'/>
    <vmcoreinfo supported='yes'/>
  </features>
</domainCapabilities>"""


@pytest.mark.parametrize('cls, text', [(Capabilities, HOST_CAPS), (DomainCapabilities, DOMAIN_CAPS)], ids=['host', 'domain'])
def test_round_trip_is_lossless(lossless, cls, text):
    lossless(cls, text)


def test_host_capabilities():
    caps = Capabilities.from_xml(HOST_CAPS)
    assert (caps.host_uuid, caps.host_arch, caps.host_cpu_model, caps.host_cpu_vendor) == (
        '68a69bd9-16f7-4543-bd79-f340e6ae91bf', 'x86_64', 'EPYC-Rome', 'AMD')
    assert (caps.host_cpu_sockets, caps.host_cpu_dies, caps.host_cpu_cores, caps.host_cpu_threads) == (2, 1, 8, 2)
    assert caps.host_cpu_features == ['vme', 'x2apic']
    assert caps.numa_cell_count == 2
    assert caps.numa_cells == [{'id': 0, 'memory_kib': 4810528, 'cpus': 2}, {'id': 1, 'memory_kib': 4 << 20, 'cpus': 1}]
    assert caps.migration_transports == ['tcp', 'rdma'] and caps.secmodels == ['none', 'dac']
    assert [g.arch for g in caps.guests] == ['i686', 'x86_64']
    guest = caps.guests_for('x86_64')[0]
    assert isinstance(guest, CapsGuest)
    assert (guest.os_type, guest.wordsize, guest.emulator) == ('hvm', 64, '/usr/bin/qemu-system-x86_64')
    assert guest.machines == ['pc-i440fx-7.2', 'pc', 'pc-q35-7.2', 'q35']
    assert guest.machine_aliases == {'pc': 'pc-i440fx-7.2', 'q35': 'pc-q35-7.2'}
    assert guest.features == ['acpi', 'apic', 'cpuselection', 'deviceboot', 'disksnapshot']
    assert caps.domain_types('x86_64') == ['qemu', 'kvm']
    assert caps.domain_types('i686') == ['qemu']
    assert caps.domain_types() == ['qemu', 'kvm']
    assert caps.domain_types('aarch64') == [] and caps.guests_for('x86_64', 'xen') == []


def test_cell_count_falls_back_to_the_num_attribute():
    caps = Capabilities.from_xml("<capabilities><host><topology><cells num='4'/></topology></host></capabilities>")
    assert caps.numa_cell_count == 4 and caps.numa_cells == []
    assert Capabilities.from_xml('<capabilities/>').numa_cell_count is None


def test_domain_capabilities():
    dcaps = DomainCapabilities.from_xml(DOMAIN_CAPS)
    assert (dcaps.path, dcaps.domain_type, dcaps.machine, dcaps.arch, dcaps.vcpu_max) == (
        '/usr/bin/qemu-system-x86_64', 'qemu', 'pc-q35-7.2', 'x86_64', 255)
    assert (dcaps.os_supported, dcaps.loader_supported, dcaps.firmwares) == (True, True, ['efi'])
    assert dcaps.loader_paths[1] == '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
    assert dcaps.loader_types == ['rom', 'pflash'] and dcaps.secure_boot_supported is True
    assert dcaps.cpu_modes == {'host-passthrough': False, 'host-model': True, 'custom': True}
    assert dcaps.host_model == 'EPYC'
    assert dcaps.device_supported('disk') and not dcaps.device_supported('hostdev') and not dcaps.device_supported('tpm')
    assert dcaps.device_enum('disk', 'bus') == ['virtio', 'sata'] and dcaps.device_enum('graphics', 'nope') == []
    assert dcaps.feature_supported('vmcoreinfo') and not dcaps.feature_supported('sev')


def test_running_host(conn, lossless):
    caps = lossless(Capabilities, conn.getCapabilities())
    arch, _memory_mb, cpus, _mhz, nodes, _sockets, _cores, _threads = conn.getInfo()
    assert caps.host_arch == arch
    assert caps.numa_cell_count == nodes
    assert sum(cell['cpus'] for cell in caps.numa_cells) == cpus
    assert 'qemu' in caps.domain_types(arch)
    assert caps.host_uuid and caps.guests_for(arch)[0].emulator.startswith('/')
    dcaps = lossless(DomainCapabilities, conn.getDomainCapabilities(None, arch, None, 'qemu', 0))
    assert (dcaps.domain_type, dcaps.arch, dcaps.os_supported) == ('qemu', arch, True)
    assert dcaps.cpu_modes.get('custom') is True
