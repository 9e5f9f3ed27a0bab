"""Devices: disks, interfaces, graphics, character devices and the small ones, as libvirt writes them."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.devices import (
    GUEST_AGENT_CHANNEL, Channel, Console, Controller, Device, Disk, Graphics, Interface, MemBalloon, Rng, Serial, Video,
    Watchdog, device_view,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

ISCSI_DISK = """<disk type='network' device='disk'>
  <driver name='qemu' type='raw' cache='none' io='native'/>
  <source protocol='iscsi' name='iqn.2026-01.org.example:storage/1' index='1'>
    <host name='127.0.0.1' port='3260'/>
    <auth username='chapuser'>
      <secret type='iscsi' usage='virtops-iscsi-t1'/>
    </auth>
    <initiator>
      <iqn name='iqn.2026-01.org.example:compute1'/>
    </initiator>
  </source>
  <target dev='vdc' bus='virtio'/>
  <iotune>
    <read_bytes_sec>2097152</read_bytes_sec>
    <write_bytes_sec>1048576</write_bytes_sec>
    <read_iops_sec>200</read_iops_sec>
    <write_iops_sec>100</write_iops_sec>
    <group_name>tenant-a</group_name>
  </iotune>
  <serial>vol-7f3c</serial>
  <shareable/>
  <alias name='virtio-disk2'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'/>
</disk>"""

RBD_DISK_OLD_AUTH = """<disk type='network' device='disk'>
  <driver name='qemu' type='raw'/>
  <auth username='admin'>
    <secret type='ceph' uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/>
  </auth>
  <source protocol='rbd' name='volumes/vol-1'>
    <host name='10.0.0.1' port='6789'/>
    <host name='10.0.0.2' port='6789'/>
    <config file='/etc/ceph/ceph.conf'/>
  </source>
  <target dev='vdd' bus='virtio'/>
</disk>"""

VOLUME_DISK = """<disk type='volume' device='disk'>
  <driver name='qemu' type='qcow2' discard='unmap'/>
  <source pool='default' volume='web1-data.qcow2'/>
  <backingStore/>
  <target dev='vde' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='4'/>
</disk>"""

BLOCK_DISK = """<disk type='block' device='disk'>
  <driver name='qemu' type='raw' cache='none' io='native'/>
  <source dev='/dev/disk/by-path/fc-0x500a0981891b8dc5-lun-1'/>
  <target dev='vdf' bus='virtio'/>
  <readonly/>
</disk>"""

DIRECT_IFACE = """<interface type='direct' trustGuestRxFilters='no'>
  <mac address='52:54:00:5d:c7:9e'/>
  <source dev='eth0' mode='vepa'/>
  <target dev='macvtap0'/>
  <model type='e1000e'/>
  <link state='up'/>
  <mtu size='1400'/>
  <alias name='net1'/>
  <rom enabled='no'/>
</interface>"""

NETWORK_IFACE = """<interface type='network'>
  <mac address='52:54:00:00:00:0a'/>
  <source network='ovs-net' portgroup='vlan-20' portid='a3f5b1c2-1111-2222-3333-444455556666' bridge='vopsbr0'/>
  <vlan trunk='yes'>
    <tag id='20' nativeMode='untagged'/>
    <tag id='30'/>
  </vlan>
  <virtualport type='openvswitch'>
    <parameters interfaceid='5c3d1e2f-0000-4000-8000-00000000000a' profileid='gold'/>
  </virtualport>
  <target dev='vnet0'/>
  <model type='virtio'/>
  <driver name='vhost' queues='2'/>
  <filterref filter='virtops-sg-web'>
    <parameter name='IP' value='10.0.0.5'/>
    <parameter name='IP' value='10.0.0.6'/>
    <parameter name='DHCPSERVER' value='10.0.0.1'/>
  </filterref>
  <boot order='2'/>
</interface>"""

SPICE = """<graphics type='spice' port='5901' tlsPort='5902' autoport='yes' listen='10.1.1.1' passwd='s3cret' passwdValidTo='2026-12-31T00:00:00'>
  <listen type='address' address='10.1.1.1'/>
  <image compression='off'/>
</graphics>"""

TCP_SERIAL = """<serial type='tcp'>
  <source mode='bind' host='127.0.0.1' service='4555'/>
  <protocol type='telnet'/>
  <target type='isa-serial' port='1'>
    <model name='isa-serial'/>
  </target>
  <alias name='serial1'/>
</serial>"""

FILE_SERIAL = """<serial type='file'>
  <source path='/var/log/virtops/web1.console.log' append='on'/>
  <target port='2'/>
</serial>"""

UNIX_CONSOLE = """<console type='unix'>
  <source mode='bind' path='/run/virtops/web1.console.sock'/>
  <target type='virtio' port='1'/>
</console>"""

PTY_CONSOLE = """<console type='pty' tty='/dev/pts/4'>
  <source path='/dev/pts/4'/>
  <log file='/var/log/virtops/web1.serial.log' append='on'/>
  <target type='serial' port='0'/>
  <alias name='serial0'/>
</console>"""

AGENT_CHANNEL = """<channel type='unix'>
  <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-7-web1/org.qemu.guest_agent.0'/>
  <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
  <alias name='channel0'/>
  <address type='virtio-serial' controller='0' bus='0' port='1'/>
</channel>"""

SMALL_DEVICES = [
    (Video, "<video><model type='vga' vram='16384' heads='1' primary='yes'/><alias name='video0'/></video>"),
    (Rng, "<rng model='virtio'><rate bytes='1024' period='1000'/><backend model='random'>/dev/urandom</backend></rng>"),
    (Watchdog, "<watchdog model='i6300esb' action='dump'><alias name='watchdog0'/></watchdog>"),
    (MemBalloon, "<memballoon model='virtio' autodeflate='on'><stats period='10'/></memballoon>"),
    (Controller, "<controller type='scsi' index='0' model='virtio-scsi'><driver queues='4'/></controller>"),
]

ALL_FIXTURES = [(Disk, ISCSI_DISK), (Disk, RBD_DISK_OLD_AUTH), (Disk, VOLUME_DISK), (Disk, BLOCK_DISK),
                (Interface, DIRECT_IFACE), (Interface, NETWORK_IFACE), (Graphics, SPICE), (Serial, TCP_SERIAL),
                (Serial, FILE_SERIAL), (Console, UNIX_CONSOLE), (Console, PTY_CONSOLE), (Channel, AGENT_CHANNEL)] + SMALL_DEVICES


@pytest.mark.parametrize('cls, text', ALL_FIXTURES, ids=[cls.__name__ + str(i) for i, (cls, _t) in enumerate(ALL_FIXTURES)])
def test_round_trip_is_lossless(lossless, cls, text):
    obj = lossless(cls, text)
    assert device_view(obj.element).__class__ is cls


def test_iscsi_disk_reads():
    disk = Disk.from_xml(ISCSI_DISK)
    assert (disk.type, disk.device, disk.driver_name, disk.driver_type, disk.driver_cache, disk.driver_io) == (
        'network', 'disk', 'qemu', 'raw', 'none', 'native')
    assert (disk.source_protocol, disk.source_name) == ('iscsi', 'iqn.2026-01.org.example:storage/1')
    assert disk.source_hosts == [{'name': '127.0.0.1', 'port': 3260, 'transport': None, 'socket': None}]
    assert (disk.auth_username, disk.auth_secret_type, disk.auth_secret_usage, disk.auth_secret_uuid) == (
        'chapuser', 'iscsi', 'virtops-iscsi-t1', None)
    assert (disk.target_dev, disk.target_bus, disk.serial, disk.shareable, disk.readonly) == ('vdc', 'virtio', 'vol-7f3c', True, False)
    assert (disk.total_bytes_sec, disk.read_bytes_sec, disk.write_bytes_sec) == (None, 2097152, 1048576)
    assert (disk.total_iops_sec, disk.read_iops_sec, disk.write_iops_sec) == (None, 200, 100)
    assert disk.iotune == {'read_bytes_sec': 2097152, 'write_bytes_sec': 1048576, 'read_iops_sec': 200,
                           'write_iops_sec': 100, 'group_name': 'tenant-a'}
    assert (disk.alias_name, disk.address_type, disk.address['slot']) == ('virtio-disk2', 'pci', '0x08')
    assert disk.source_path is None


def test_other_disk_kinds_read():
    rbd = Disk.from_xml(RBD_DISK_OLD_AUTH)
    assert (rbd.auth_username, rbd.auth_secret_type, rbd.auth_secret_uuid) == ('admin', 'ceph', '2ec115d7-3a88-3ceb-bc12-0ac909a6fd87')
    assert [h['name'] for h in rbd.source_hosts] == ['10.0.0.1', '10.0.0.2']
    vol = Disk.from_xml(VOLUME_DISK)
    assert (vol.source_pool, vol.source_volume, vol.driver_discard, vol.target_bus, vol.boot_order) == (
        'default', 'web1-data.qcow2', 'unmap', 'scsi', None)
    block = Disk.from_xml(BLOCK_DISK)
    assert (block.source_dev, block.source_path, block.readonly) == ('/dev/disk/by-path/fc-0x500a0981891b8dc5-lun-1',) * 2 + (True,)
    assert block.iotune == {} and block.address == {}


def test_disk_setters():
    disk = Disk.from_xml(ISCSI_DISK)
    disk.iotune = {'total_bytes_sec': 5000, 'total_iops_sec': None}
    assert disk.iotune == {'total_bytes_sec': 5000}
    disk.total_bytes_sec = None
    assert disk.find('iotune') is None
    disk.write_iops_sec = 50
    assert disk.iotune == {'write_iops_sec': 50}
    disk.iotune = None
    disk.shareable = False
    disk.readonly = True
    disk.boot_order = 1
    assert disk.find('boot').get('order') == '1'
    disk.boot_order = None
    assert disk.find('boot') is None
    disk.auth_secret_usage = 'other'
    assert disk.find('source/auth/secret').get('usage') == 'other'
    disk.source_hosts = [{'name': 'portal1', 'port': 3261}, {'name': 'portal2'}]
    assert [c.tag for c in disk.find('source')] == ['host', 'host', 'auth', 'initiator']
    old = Disk.from_xml(RBD_DISK_OLD_AUTH)
    old.auth_username = 'client'
    assert old.find('auth').get('username') == 'client' and old.find('source/auth') is None
    fresh = Disk()
    fresh.type = 'network'
    fresh.source_protocol = 'iscsi'
    fresh.source_name = 'iqn.x:y/0'
    fresh.auth_username = 'u'
    fresh.auth_secret_type = 'iscsi'
    fresh.auth_secret_usage = 'u-secret'
    assert fresh.to_xml(pretty=False) == ('<disk type="network"><source protocol="iscsi" name="iqn.x:y/0"><auth username="u">'
                                          '<secret type="iscsi" usage="u-secret"/></auth></source></disk>')


def test_interface_reads_and_writes():
    iface = Interface.from_xml(NETWORK_IFACE)
    assert (iface.type, iface.mac, iface.source_network, iface.source_portgroup, iface.source_bridge) == (
        'network', '52:54:00:00:00:0a', 'ovs-net', 'vlan-20', 'vopsbr0')
    assert iface.vlan_tags == [{'id': 20, 'native_mode': 'untagged'}, {'id': 30, 'native_mode': None}]
    assert iface.vlan_trunk is True
    assert (iface.virtualport_type, iface.virtualport_parameters) == (
        'openvswitch', {'interfaceid': '5c3d1e2f-0000-4000-8000-00000000000a', 'profileid': 'gold'})
    assert (iface.filter_name, iface.filter_parameters) == ('virtops-sg-web', {'IP': ['10.0.0.5', '10.0.0.6'],
                                                                               'DHCPSERVER': '10.0.0.1'})
    assert (iface.target_dev, iface.model, iface.driver_name, iface.driver_queues, iface.boot_order) == (
        'vnet0', 'virtio', 'vhost', 2, 2)
    iface.vlan_tags = [{'id': 20, 'native_mode': 'untagged'}]
    iface.vlan_trunk = None
    assert iface.find('vlan').attrib == {} and len(iface.findall('vlan/tag')) == 1
    iface.vlan_tags = []
    assert iface.find('vlan') is None
    iface.filter_parameters = {'IP': '10.0.0.9'}
    assert iface.filter_parameters == {'IP': '10.0.0.9'} and iface.filter_name == 'virtops-sg-web'
    iface.virtualport_parameters = {'interfaceid': 'x'}
    assert iface.find('virtualport/parameters').attrib == {'interfaceid': 'x'}
    direct = Interface.from_xml(DIRECT_IFACE)
    assert (direct.source_dev, direct.source_mode, direct.link_state, direct.mtu, direct.alias_name) == (
        'eth0', 'vepa', 'up', 1400, 'net1')
    assert direct.vlan_tags == [] and direct.filter_parameters == {} and direct.virtualport_parameters == {}


def test_graphics():
    spice = Graphics.from_xml(SPICE)
    assert (spice.type, spice.port, spice.tls_port, spice.autoport, spice.listen) == ('spice', 5901, 5902, True, '10.1.1.1')
    assert (spice.listen_type, spice.listen_address, spice.passwd, spice.passwd_valid_to) == (
        'address', '10.1.1.1', 's3cret', '2026-12-31T00:00:00')
    spice.set_listen_address('0.0.0.0')
    assert spice.listen == '0.0.0.0' and spice.find('listen').attrib == {'type': 'address', 'address': '0.0.0.0'}
    spice.set_listen_address(None)
    assert spice.listen is None and spice.find('listen') is None and spice.find('image') is not None
    spice.passwd = None
    assert 'passwd=' not in spice.to_xml()
    vnc = Graphics.from_xml("<graphics type='vnc' port='-1' autoport='yes' keymap='de' websocket='5700'/>")
    assert (vnc.port, vnc.keymap, vnc.websocket, vnc.listen_type) == (-1, 'de', 5700, None)


def test_character_devices():
    tcp = Serial.from_xml(TCP_SERIAL)
    assert (tcp.type, tcp.source_mode, tcp.source_host, tcp.source_service, tcp.protocol_type) == (
        'tcp', 'bind', '127.0.0.1', '4555', 'telnet')
    assert (tcp.target_type, tcp.target_port, tcp.target_model, tcp.log_file) == ('isa-serial', 1, 'isa-serial', None)
    assert Serial.from_xml(FILE_SERIAL).source_path == '/var/log/virtops/web1.console.log'
    unix = Console.from_xml(UNIX_CONSOLE)
    assert (unix.type, unix.source_path, unix.target_type, unix.target_port) == ('unix', '/run/virtops/web1.console.sock', 'virtio', 1)
    console = Console.from_xml(PTY_CONSOLE)
    assert (console.tty, console.source_path, console.log_append) == ('/dev/pts/4', '/dev/pts/4', True)
    channel = Channel.from_xml(AGENT_CHANNEL)
    assert channel.is_guest_agent and channel.target_state == 'connected' and channel.source_mode == 'bind'
    other = Channel.from_xml("<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>")
    assert not other.is_guest_agent
    serial = Serial()
    serial.log_append = False
    assert serial.find('log').get('append') == 'off'


def test_small_devices():
    video, rng, watchdog, balloon, controller = [cls.from_xml(text) for cls, text in SMALL_DEVICES]
    assert (video.model_type, video.model_vram, video.model_heads, video.model_primary) == ('vga', 16384, 1, True)
    assert (rng.model, rng.backend_model, rng.backend, rng.rate_bytes, rng.rate_period) == (
        'virtio', 'random', '/dev/urandom', 1024, 1000)
    assert (watchdog.model, watchdog.action, watchdog.alias_name) == ('i6300esb', 'dump', 'watchdog0')
    assert (balloon.model, balloon.autodeflate, balloon.stats_period) == ('virtio', True, 10)
    assert (controller.type, controller.index, controller.model) == ('scsi', 0, 'virtio-scsi')
    assert device_view(Device.from_xml("<hostdev mode='subsystem' type='pci'/>").element).__class__ is Device


def _domain_with(*devices):
    dom = Domain()
    dom.type = 'qemu'
    dom.name = 'virtops-device-check'
    dom.memory_kib = 65536
    dom.os_type = 'hvm'
    for device in devices:
        dom.add_device(device)
    return dom


def test_built_devices_validate(validate_xml):
    disk = Disk()
    disk.type = 'network'
    disk.device = 'disk'
    disk.driver_name = 'qemu'
    disk.driver_type = 'raw'
    disk.source_protocol = 'iscsi'
    disk.source_name = 'iqn.2026-01.org.example:t1/1'
    disk.source_hosts = [{'name': '127.0.0.1', 'port': 3260}]
    disk.auth_username = 'chapuser'
    disk.auth_secret_type = 'iscsi'
    disk.auth_secret_usage = 'virtops-chap'
    disk.target_dev = 'vdb'
    disk.target_bus = 'virtio'
    disk.serial = 'vol-1'
    disk.iotune = {'read_bytes_sec': 1000, 'write_bytes_sec': 2000, 'total_iops_sec': 30}
    cdrom = Disk()
    cdrom.type = 'file'
    cdrom.device = 'cdrom'
    cdrom.source_file = '/tmp/config.iso'
    cdrom.target_dev = 'sda'
    cdrom.target_bus = 'sata'
    cdrom.readonly = True
    volume = Disk()
    volume.type = 'volume'
    volume.device = 'disk'
    volume.source_pool = 'default'
    volume.source_volume = 'data.qcow2'
    volume.target_dev = 'vdc'
    volume.boot_order = 1
    bridge = Interface()
    bridge.type = 'bridge'
    bridge.source_bridge = 'vopsbr0'
    bridge.mac = '52:54:00:00:00:01'
    bridge.virtualport_type = 'openvswitch'
    bridge.vlan_tags = [{'id': 42}]
    bridge.model = 'virtio'
    bridge.filter_name = 'clean-traffic'
    bridge.filter_parameters = {'IP': ['10.0.0.5', '10.0.0.6']}
    bridge.target_dev = 'vnet7'
    spice = Graphics()
    spice.type = 'spice'
    spice.autoport = True
    spice.passwd = 'pw'
    spice.set_listen_address('127.0.0.1')
    tcp = Serial()
    tcp.type = 'tcp'
    tcp.source_mode = 'bind'
    tcp.source_host = '127.0.0.1'
    tcp.source_service = '4555'
    tcp.protocol_type = 'telnet'
    tcp.target_port = 0
    agent = Channel()
    agent.type = 'unix'
    agent.target_type = 'virtio'
    agent.target_name = GUEST_AGENT_CHANNEL
    video = Video()
    video.model_type = 'virtio'
    rng = Rng()
    rng.model = 'virtio'
    rng.backend_model = 'random'
    rng.backend = '/dev/urandom'
    watchdog = Watchdog()
    watchdog.model = 'i6300esb'
    watchdog.action = 'reset'
    balloon = MemBalloon()
    balloon.model = 'none'
    validate_xml(_domain_with(disk, cdrom, volume, bridge, spice, tcp, agent, video, rng, watchdog, balloon), 'domain')
