# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed view of a libvirt domain (``<domain>``).

Memory is read and written in KiB (libvirt's default unit) whatever unit the
XML uses.  The collection's own bookkeeping about a guest lives as a JSON
object in ``<metadata><virtops:instance xmlns:virtops="urn:virtops:compute:1">``,
read and written with ``get_app_metadata``/``set_app_metadata``.
"""


import json

from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject, make_element
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import (
    Attr, Child, Children, Flag, PathAttr, Size, Text,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import (
    Channel, Console, Controller, Disk, Graphics, Interface, MemBalloon, Rng, Serial, Video, Watchdog, device_view,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import AttrList, Records
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ON_OFF, YES_NO, ModelError

METADATA_NS = 'urn:virtops:compute:1'
METADATA_PREFIX = 'virtops'
METADATA_TAG = 'instance'
_METADATA_PATH = 'metadata/{%s}%s' % (METADATA_NS, METADATA_TAG)

DOMAIN_ORDER = ('name', 'uuid', 'genid', 'title', 'description', 'metadata', 'maxMemory', 'memory', 'currentMemory',
                'blkiotune', 'memtune', 'memoryBacking', 'vcpu', 'vcpus', 'iothreads', 'iothreadids', 'cputune',
                'numatune', 'resource', 'sysinfo', 'bootloader', 'bootloader_args', 'os', 'idmap', 'features', 'cpu',
                'clock', 'on_poweroff', 'on_reboot', 'on_crash', 'on_lockfailure', 'pm', 'perf', 'devices', 'seclabel',
                'keywrap', 'launchSecurity')
OS_ORDER = ('type', 'firmware', 'loader', 'nvram', 'kernel', 'initrd', 'cmdline', 'shim', 'dtb', 'acpi', 'boot',
            'bootmenu', 'smbios', 'bios')
FEATURE_ORDER = ('acpi', 'apic', 'pae', 'hap', 'viridian', 'privnet', 'hyperv', 'kvm', 'xen', 'pvspinlock',
                 'capabilities', 'pmu', 'vmport', 'gic', 'smm', 'ioapic', 'vmcoreinfo')
DEVICE_ORDER = ('emulator', 'disk', 'controller', 'lease', 'filesystem', 'interface', 'smartcard', 'serial', 'parallel',
                'console', 'channel', 'input', 'tpm', 'graphics', 'sound', 'audio', 'video', 'hostdev', 'redirdev',
                'redirfilter', 'hub', 'watchdog', 'memballoon', 'rng', 'panic', 'shmem', 'memory', 'iommu', 'vsock',
                'crypto')


def app_metadata_text(data):
    """The JSON text stored for ``data`` (stable: keys sorted)."""
    if not isinstance(data, dict):
        raise ModelError('application metadata must be a dict, not %r' % (data,))
    return json.dumps(data, sort_keys=True)


def app_metadata_xml(data):
    """``<instance>JSON</instance>`` as ``virDomain.setMetadata`` takes it: without a namespace, which libvirt
    adds itself from the ``key`` (``METADATA_PREFIX``) and ``uri`` (``METADATA_NS``) arguments."""
    node = make_element(METADATA_TAG)
    node.text = app_metadata_text(data)
    return XmlObject(node).to_xml(pretty=False)


CPU_ORDER = ('model', 'vendor', 'topology', 'cache', 'maxphysaddr', 'feature', 'numa')


class Cpu(XmlObject):
    """``<cpu>``: mode, model and topology."""

    TAG = 'cpu'
    ORDER = {'': CPU_ORDER}

    mode = Attr('mode')
    match = Attr('match')
    check = Attr('check')
    migratable = Attr('migratable', ON_OFF)
    model = Text('model')
    model_fallback = PathAttr('model', 'fallback')
    vendor = Text('vendor')
    sockets = PathAttr('topology', 'sockets', int)
    dies = PathAttr('topology', 'dies', int)
    cores = PathAttr('topology', 'cores', int)
    threads = PathAttr('topology', 'threads', int)
    features = Records('feature', (('name', 'name', str), ('policy', 'policy', str)))


class Domain(XmlObject):
    TAG = 'domain'
    ORDER = {'': DOMAIN_ORDER, 'os': OS_ORDER, 'features': FEATURE_ORDER, 'cpu': CPU_ORDER, 'devices': DEVICE_ORDER}

    type = Attr('type')
    id = Attr('id', int)
    name = Text('name')
    uuid = Text('uuid')
    title = Text('title')
    description = Text('description')

    max_memory_kib = Size('maxMemory', 'KiB')
    max_memory_slots = PathAttr('maxMemory', 'slots', int)
    memory_kib = Size('memory', 'KiB')
    current_memory_kib = Size('currentMemory', 'KiB')
    vcpu = Text('vcpu', int)
    vcpu_placement = PathAttr('vcpu', 'placement')
    vcpu_current = PathAttr('vcpu', 'current', int)

    os_type = Text('os/type')
    os_arch = PathAttr('os/type', 'arch')
    os_machine = PathAttr('os/type', 'machine')
    os_firmware = PathAttr('os', 'firmware')
    loader_path = Text('os/loader')
    loader_readonly = PathAttr('os/loader', 'readonly', YES_NO)
    loader_type = PathAttr('os/loader', 'type')
    loader_secure = PathAttr('os/loader', 'secure', YES_NO)
    nvram_path = Text('os/nvram')
    nvram_template = PathAttr('os/nvram', 'template')
    kernel = Text('os/kernel')
    initrd = Text('os/initrd')
    cmdline = Text('os/cmdline')
    boot_devices = AttrList('os/boot', 'dev')
    boot_menu = PathAttr('os/bootmenu', 'enable', YES_NO)

    acpi = Flag('features/acpi')
    apic = Flag('features/apic')
    pae = Flag('features/pae')
    vmcoreinfo = Flag('features/vmcoreinfo')

    cpu = Child('cpu', Cpu)
    cpu_mode = PathAttr('cpu', 'mode')
    cpu_model = Text('cpu/model')
    clock_offset = PathAttr('clock', 'offset')

    on_poweroff = Text('on_poweroff')
    on_reboot = Text('on_reboot')
    on_crash = Text('on_crash')

    emulator = Text('devices/emulator')
    disks = Children('devices/disk', Disk)
    interfaces = Children('devices/interface', Interface)
    graphics = Children('devices/graphics', Graphics)
    serials = Children('devices/serial', Serial)
    consoles = Children('devices/console', Console)
    channels = Children('devices/channel', Channel)
    videos = Children('devices/video', Video)
    rngs = Children('devices/rng', Rng)
    watchdogs = Children('devices/watchdog', Watchdog)
    memballoons = Children('devices/memballoon', MemBalloon)
    controllers = Children('devices/controller', Controller)

    @property
    def smm(self):
        """``<features><smm>``: None when absent, else whether it is on (``<smm/>`` alone means on)."""
        node = self.find('features/smm')
        if node is None:
            return None
        state = node.get('state')
        return True if state is None else ON_OFF.parse(state)

    @smm.setter
    def smm(self, value):
        if value is None:
            self.remove_element('features/smm')
        else:
            self.set_attr('features/smm', 'state', bool(value), ON_OFF)

    # ---------------------------------------------------------------- devices

    @property
    def devices(self):
        """Every device (not ``<emulator>``) as its typed view, in document order."""
        node = self.find('devices')
        if node is None:
            return []
        return [device_view(child) for child in node if isinstance(child.tag, str) and child.tag != 'emulator']

    def add_device(self, device):
        """Add ``device`` after the last device of its kind; returns its view inside this domain."""
        return self.add_child('devices/' + device.tag, device)

    def remove_device(self, device):
        """Remove ``device`` (a view into this domain, or an equal device); True when one was removed."""
        return self.remove_child(device, 'devices/' + device.tag)

    def find_disk(self, target_dev):
        for disk in self.disks:
            if disk.target_dev == target_dev:
                return disk
        return None

    def find_interface(self, mac):
        wanted = (mac or '').lower()
        for iface in self.interfaces:
            if (iface.mac or '').lower() == wanted:
                return iface
        return None

    # ---------------------------------------------------------------- application metadata

    def get_app_metadata(self):
        """The collection's metadata dict ({} when the domain has none)."""
        node = self.find(_METADATA_PATH)
        if node is None or not (node.text or '').strip():
            return {}
        try:
            data = json.loads(node.text)
        except ValueError as err:
            raise ModelError('%s: not JSON: %s' % (self.location(_METADATA_PATH), err)) from None
        if not isinstance(data, dict):
            raise ModelError('%s: not a JSON object' % self.location(_METADATA_PATH))
        return data

    def set_app_metadata(self, data):
        """Store ``data`` (a dict); None removes the element (and an emptied ``<metadata>``)."""
        if data is None:
            self.remove_element(_METADATA_PATH)
            return
        text = app_metadata_text(data)
        node = self.find(_METADATA_PATH)
        if node is None:
            node = make_element('{%s}%s' % (METADATA_NS, METADATA_TAG), nsmap={METADATA_PREFIX: METADATA_NS})
            self.ensure_element('metadata').append(node)
        node.text = text
