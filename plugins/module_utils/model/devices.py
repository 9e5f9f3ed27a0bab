# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed views of the devices inside a domain's ``<devices>``.

Each class is a view of one device element; properties follow libvirt's
element and attribute names (``driver_cache`` is ``<driver cache=...>``,
``target_dev`` is ``<target dev=...>``).  Devices are built detached and
added to a domain with ``Domain.add_device``.
"""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Attr, Field, Flag, PathAttr, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import (
    VLAN_TAG_FIELDS, AttrDict, ParamDict, Records,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import LOOSE_INT, ON_OFF, YES_NO

GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0'

IOTUNE_KEYS = ('total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec', 'total_iops_sec', 'read_iops_sec', 'write_iops_sec',
               'total_bytes_sec_max', 'read_bytes_sec_max', 'write_bytes_sec_max', 'total_iops_sec_max',
               'read_iops_sec_max', 'write_iops_sec_max', 'size_iops_sec', 'group_name',
               'total_bytes_sec_max_length', 'read_bytes_sec_max_length', 'write_bytes_sec_max_length',
               'total_iops_sec_max_length', 'read_iops_sec_max_length', 'write_iops_sec_max_length')


class Device(XmlObject):
    """Any device element; the typed classes below add their own properties."""

    alias_name = PathAttr('alias', 'name')
    address_type = PathAttr('address', 'type')

    @property
    def address(self):
        """The ``<address>`` attributes ({} when libvirt has not assigned one yet)."""
        node = self.find('address')
        return {} if node is None else dict(node.attrib)


class _AuthAttr(Field):
    """An attribute of a disk's ``<auth>``, found under ``<source>`` (libvirt's current place) or the disk."""

    def __init__(self, rel, name):
        self.rel, self.attr = rel, name

    def _path(self, obj):
        base = 'auth' if obj.has('auth') and not obj.has('source/auth') else 'source/auth'
        return base + ('/' + self.rel if self.rel else '')

    def read(self, obj):
        return obj.get_attr(self._path(obj), self.attr)

    def write(self, obj, value):
        obj.set_attr(self._path(obj), self.attr, value)


class Disk(Device):
    TAG = 'disk'
    ORDER = {
        '': ('driver', 'auth', 'source', 'backingStore', 'geometry', 'blockio', 'mirror', 'target', 'iotune', 'readonly',
             'shareable', 'transient', 'serial', 'wwn', 'vendor', 'product', 'encryption', 'boot', 'alias', 'address'),
        'source': ('host', 'auth', 'initiator', 'reservations', 'slices'),
        'iotune': IOTUNE_KEYS,
    }

    type = Attr('type')
    device = Attr('device')
    driver_name = PathAttr('driver', 'name')
    driver_type = PathAttr('driver', 'type')
    driver_cache = PathAttr('driver', 'cache')
    driver_io = PathAttr('driver', 'io')
    driver_discard = PathAttr('driver', 'discard')
    driver_error_policy = PathAttr('driver', 'error_policy')
    source_file = PathAttr('source', 'file')
    source_dev = PathAttr('source', 'dev')
    source_dir = PathAttr('source', 'dir')
    source_pool = PathAttr('source', 'pool')
    source_volume = PathAttr('source', 'volume')
    source_mode = PathAttr('source', 'mode')
    source_protocol = PathAttr('source', 'protocol')
    source_name = PathAttr('source', 'name')
    source_hosts = Records('source/host', (('name', 'name', str), ('port', 'port', int), ('transport', 'transport', str),
                                           ('socket', 'socket', str)))
    auth_username = _AuthAttr('', 'username')
    auth_secret_type = _AuthAttr('secret', 'type')
    auth_secret_usage = _AuthAttr('secret', 'usage')
    auth_secret_uuid = _AuthAttr('secret', 'uuid')
    target_dev = PathAttr('target', 'dev')
    target_bus = PathAttr('target', 'bus')
    target_tray = PathAttr('target', 'tray')
    serial = Text('serial')
    wwn = Text('wwn')
    readonly = Flag('readonly')
    shareable = Flag('shareable')
    boot_order = PathAttr('boot', 'order', int)
    total_bytes_sec = Text('iotune/total_bytes_sec', int)
    read_bytes_sec = Text('iotune/read_bytes_sec', int)
    write_bytes_sec = Text('iotune/write_bytes_sec', int)
    total_iops_sec = Text('iotune/total_iops_sec', int)
    read_iops_sec = Text('iotune/read_iops_sec', int)
    write_iops_sec = Text('iotune/write_iops_sec', int)

    @property
    def source_path(self):
        """The host path behind a file, block or directory disk (None for network and volume disks)."""
        return self.source_file or self.source_dev or self.source_dir

    @property
    def backing_chain(self):
        """``[(path, format)]`` of the backing files libvirt reports under ``<backingStore>``, nearest first."""
        chain = []
        node = self.find('backingStore')
        while node is not None and node.find('source') is not None:
            source = node.find('source')
            path = source.get('file') or source.get('dev')
            fmt = node.find('format')
            chain.append((path, fmt.get('type') if fmt is not None else None))
            node = node.find('backingStore')
        return chain

    @property
    def iotune(self):
        """Every ``<iotune>`` setting as {name: value} ({} when there is none)."""
        node = self.find('iotune')
        if node is None:
            return {}
        return dict((child.tag, LOOSE_INT.parse(child.text or '')) for child in node if isinstance(child.tag, str))

    @iotune.setter
    def iotune(self, settings):
        self.remove_element('iotune')
        for key, value in (settings or {}).items():
            if value is not None:
                self.set_text('iotune/' + key, value, LOOSE_INT)


class Interface(Device):
    TAG = 'interface'
    ORDER = {'': ('mac', 'source', 'vlan', 'virtualport', 'ip', 'route', 'script', 'target', 'guest', 'model', 'driver',
                  'backend', 'filterref', 'tune', 'teaming', 'link', 'mtu', 'bandwidth', 'coalesce', 'boot', 'rom', 'alias',
                  'address')}

    type = Attr('type')
    mac = PathAttr('mac', 'address')
    source_network = PathAttr('source', 'network')
    source_bridge = PathAttr('source', 'bridge')
    source_portgroup = PathAttr('source', 'portgroup')
    source_dev = PathAttr('source', 'dev')
    source_mode = PathAttr('source', 'mode')
    model = PathAttr('model', 'type')
    driver_name = PathAttr('driver', 'name')
    driver_queues = PathAttr('driver', 'queues', int)
    virtualport_type = PathAttr('virtualport', 'type')
    virtualport_parameters = AttrDict('virtualport/parameters')
    vlan_tags = Records('vlan/tag', VLAN_TAG_FIELDS)
    vlan_trunk = PathAttr('vlan', 'trunk', YES_NO)
    filter_name = PathAttr('filterref', 'filter')
    filter_parameters = ParamDict('filterref')
    target_dev = PathAttr('target', 'dev')
    link_state = PathAttr('link', 'state')
    mtu = PathAttr('mtu', 'size', int)
    boot_order = PathAttr('boot', 'order', int)


class Graphics(Device):
    TAG = 'graphics'

    type = Attr('type')
    port = Attr('port', int)
    tls_port = Attr('tlsPort', int)
    websocket = Attr('websocket', int)
    autoport = Attr('autoport', YES_NO)
    listen = Attr('listen')
    listen_type = PathAttr('listen', 'type')
    listen_address = PathAttr('listen', 'address')
    listen_network = PathAttr('listen', 'network')
    passwd = Attr('passwd')
    passwd_valid_to = Attr('passwdValidTo')
    keymap = Attr('keymap')

    def set_listen_address(self, address):
        """Listen on ``address`` the way libvirt writes it (attribute and ``<listen type='address'>``); None: neither."""
        if address is None:
            self.listen = None
            self.remove_element('listen')
            return
        self.listen = address
        self.remove_element('listen', prune=False)
        self.listen_type = 'address'
        self.listen_address = address


class CharDevice(Device):
    """What serial ports, consoles and channels share: a host-side source and a guest-side target."""

    ORDER = {'': ('source', 'protocol', 'log', 'target', 'alias', 'address')}

    type = Attr('type')
    tty = Attr('tty')
    source_path = PathAttr('source', 'path')
    source_host = PathAttr('source', 'host')
    source_service = PathAttr('source', 'service')
    source_mode = PathAttr('source', 'mode')
    protocol_type = PathAttr('protocol', 'type')
    target_type = PathAttr('target', 'type')
    target_port = PathAttr('target', 'port', int)
    log_file = PathAttr('log', 'file')
    log_append = PathAttr('log', 'append', ON_OFF)


class Serial(CharDevice):
    TAG = 'serial'

    target_model = PathAttr('target/model', 'name')


class Console(CharDevice):
    TAG = 'console'


class Channel(CharDevice):
    TAG = 'channel'

    target_name = PathAttr('target', 'name')
    target_state = PathAttr('target', 'state')

    @property
    def is_guest_agent(self):
        return self.target_type == 'virtio' and self.target_name == GUEST_AGENT_CHANNEL


class Video(Device):
    TAG = 'video'

    model_type = PathAttr('model', 'type')
    model_vram = PathAttr('model', 'vram', int)
    model_heads = PathAttr('model', 'heads', int)
    model_primary = PathAttr('model', 'primary', YES_NO)


class Rng(Device):
    TAG = 'rng'

    model = Attr('model')
    backend_model = PathAttr('backend', 'model')
    backend = Text('backend')
    rate_bytes = PathAttr('rate', 'bytes', int)
    rate_period = PathAttr('rate', 'period', int)


class Watchdog(Device):
    TAG = 'watchdog'

    model = Attr('model')
    action = Attr('action')


class MemBalloon(Device):
    TAG = 'memballoon'

    model = Attr('model')
    autodeflate = Attr('autodeflate', ON_OFF)
    stats_period = PathAttr('stats', 'period', int)


class Controller(Device):
    TAG = 'controller'

    type = Attr('type')
    index = Attr('index', int)
    model = Attr('model')


DEVICE_CLASSES = dict((cls.TAG, cls) for cls in (
    Disk, Interface, Graphics, Serial, Console, Channel, Video, Rng, Watchdog, MemBalloon, Controller))


def device_view(element):
    """The typed view for a device element: its class when the model has one, else a plain ``Device``."""
    return DEVICE_CLASSES.get(element.tag, Device)(element)
