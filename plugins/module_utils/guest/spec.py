# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest should look like: the ``guest`` module's options as a domain definition.

``build_domain`` turns validated options into a model ``Domain``; ``spec_of``
reads the same options back out of an existing definition, so the module
compares like with like (the options the user gave against what libvirt
holds) instead of comparing XML text that libvirt rewrites.
"""


import re
import uuid as uuidlib

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest import nics as guest_nics
from ansible_collections.virtops.compute.plugins.module_utils.guest import wrapper as guest
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import (
    Channel, Console, Disk, Graphics, Serial,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.storage.disk_qos import QOS_KEYS

NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}')
ROOT_TARGET = guest.ROOT_TARGET
GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0'

# Options that describe the definition; ``state`` and the like are not part of it.
SPEC_KEYS = ('virt_type', 'vcpus', 'max_vcpus', 'memory_mb', 'max_memory_mb', 'machine', 'kernel', 'initrd', 'cmdline', 'firmware', 'secure_boot',
             'guest_agent', 'graphics', 'serial_console', 'disk_qos', 'config_drive')
# Where a config drive sits: an ISO as a CD-ROM (IDE on i440fx, SATA on q35), anything else as a virtio disk.
CONFIG_DRIVE_TARGETS = {'ide': 'hdd', 'sata': 'sdz', 'virtio': 'vdz'}


def validate(name, params):
    """Refuse options that cannot make a guest, in one sentence naming the option."""
    if not NAME_PATTERN.fullmatch(name or ''):
        raise VirtopsError("guest %r: name must be 1-63 letters, digits, '.', '_', '+' or '-', starting with a letter or digit." % name)
    where = "guest '%s'" % name
    if params.get('uuid') is not None:
        try:
            uuidlib.UUID(str(params['uuid']))
        except ValueError:
            raise VirtopsError('%s: uuid %r is not a UUID.' % (where, params['uuid'])) from None
    if params.get('vcpus') is not None and params['vcpus'] < 1:
        raise VirtopsError('%s: vcpus must be at least 1, got %d.' % (where, params['vcpus']))
    if params.get('memory_mb') is not None and params['memory_mb'] < 16:
        raise VirtopsError('%s: memory_mb is in MiB and must be at least 16, got %d.' % (where, params['memory_mb']))
    for amount, ceiling in (('vcpus', 'max_vcpus'), ('memory_mb', 'max_memory_mb')):
        if params.get(ceiling) is not None and params.get(amount) is not None and params[amount] > params[ceiling]:
            raise VirtopsError('%s: %s %d is more than %s %d.' % (where, amount, params[amount], ceiling, params[ceiling]))
    if params.get('root_size_gb') is not None and params['root_size_gb'] < 1:
        raise VirtopsError('%s: root_size_gb is in GiB and must be at least 1, got %d.' % (where, params['root_size_gb']))
    if params.get('root_size_gb') is not None and not params.get('image'):
        raise VirtopsError('%s: root_size_gb needs an image to grow the root disk from.' % where)
    if params.get('state') == 'rescued' and not params.get('rescue_image'):
        raise VirtopsError('%s: state rescued needs rescue_image.' % where)
    if (params.get('initrd') or params.get('cmdline')) and not params.get('kernel'):
        raise VirtopsError('%s: initrd and cmdline need a kernel for direct boot.' % where)
    if params.get('secure_boot') and params.get('firmware') != 'uefi':
        raise VirtopsError('%s: secure_boot needs firmware uefi.' % where)
    for key, value in (params.get('disk_qos') or {}).items():
        if key not in QOS_KEYS:
            raise VirtopsError('%s: disk_qos has unknown key %r (known: %s).' % (where, key, ', '.join(QOS_KEYS)))
        if value is not None and (not isinstance(value, int) or value < 0):
            raise VirtopsError('%s: disk_qos.%s must be a whole number of at least 0, got %r.' % (where, key, value))
    for index, graphic in enumerate(params.get('graphics') or []):
        port = graphic.get('port')
        if port is not None and port != -1 and not 5900 <= port <= 65535:
            raise VirtopsError('%s: graphics[%d].port must be -1 (automatic) or 5900-65535, got %d.' % (where, index, port))
        if graphic.get('type') == 'vnc' and len(graphic.get('password') or '') > 8:
            raise VirtopsError('%s: graphics[%d].password is %d characters long; VNC allows at most 8.'
                               % (where, index, len(graphic['password'])))
    qos = params.get('disk_qos') or {}
    for kind in ('bytes', 'iops'):
        split = [key for key in ('read_%s_sec' % kind, 'write_%s_sec' % kind) if qos.get(key)]
        if qos.get('total_%s_sec' % kind) and split:
            # libvirt takes a total limit or read/write limits, never both, and would drop one silently
            raise VirtopsError('%s: disk_qos.total_%s_sec cannot be combined with disk_qos.%s.' % (where, kind, split[0]))
    guest_nics.validate_nics(where, params.get('nics'))
    console = params.get('serial_console')
    if console and console.get('type') == 'tcp' and not console.get('port'):
        raise VirtopsError('%s: serial_console of type tcp needs a port.' % where)
    if console and console.get('port') is not None and not 1 <= console['port'] <= 65535:
        raise VirtopsError('%s: serial_console.port must be from 1 to 65535, got %d.' % (where, console['port']))
    if params.get('shutdown_timeout') is not None and params['shutdown_timeout'] < 0:
        raise VirtopsError('%s: shutdown_timeout is in seconds and must not be negative, got %d.' % (where, params['shutdown_timeout']))


def _normal_graphics(items):
    result = []
    for item in items or []:
        port = item.get('port')
        result.append(dict(type=item['type'], listen=item.get('listen') or '127.0.0.1',
                           port=None if port in (None, -1) else port))
    return result


def _normal_console(console):
    if not console:
        return None
    normal = dict(type=console.get('type') or 'pty')
    if normal['type'] == 'tcp':
        normal.update(listen=console.get('listen') or '127.0.0.1', port=console.get('port'))
    return normal


def desired_spec(params):
    """The options the user set, normalised the way ``spec_of`` reports them (None: not managed)."""
    spec = {}
    for key in SPEC_KEYS:
        spec[key] = params.get(key)
    if spec['graphics'] is not None:
        spec['graphics'] = _normal_graphics(spec['graphics'])
    if spec['serial_console'] is not None:
        spec['serial_console'] = _normal_console(spec['serial_console'])
    if spec['disk_qos'] is not None:
        spec['disk_qos'] = dict((key, value) for key, value in spec['disk_qos'].items() if value)
    return spec


def _serial_console_of(domain):
    for serial in domain.serials:
        if serial.type == 'tcp':
            return dict(type='tcp', listen=serial.source_host, port=int(serial.source_service))
        return dict(type='pty')
    return None


def is_iso(path):
    """An ISO 9660 image has 'CD001' at 0x8001; a file the module cannot read is judged by its name."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0x8001)
            return handle.read(5) == b'CD001'
    except (IOError, OSError):
        return path.lower().endswith('.iso')


def find_config_drive(domain):
    for disk in domain.disks:
        if disk.target_dev in CONFIG_DRIVE_TARGETS.values() and disk.readonly:
            return disk
    return None


def _config_drive_disk(path, machine):
    disk = Disk()
    disk.type = 'file'
    disk.driver_name = 'qemu'
    disk.driver_type = 'raw'
    disk.source_file = path
    if is_iso(path):
        disk.device = 'cdrom'
        bus = 'sata' if 'q35' in (machine or '') else 'ide'
    else:
        disk.device = 'disk'
        bus = 'virtio'
    disk.target_dev = CONFIG_DRIVE_TARGETS[bus]
    disk.target_bus = bus
    disk.readonly = True
    return disk


def spec_of(domain, machine_aliases=None):
    """The guest module's options as they stand in an existing definition."""
    root = domain.find_disk(ROOT_TARGET)
    machine = domain.os_machine
    canonical = dict((value, key) for key, value in (machine_aliases or {}).items())
    graphics = [dict(type=g.type, listen=g.listen or g.listen_address or '127.0.0.1',
                     port=None if g.autoport or g.port in (None, -1) else g.port) for g in domain.graphics]
    firmware = 'uefi' if (domain.os_firmware == 'efi' or domain.loader_type == 'pflash') else 'bios'
    return dict(
        virt_type=domain.type,
        vcpus=domain.vcpu_current or domain.vcpu,
        max_vcpus=domain.vcpu,
        memory_mb=(domain.current_memory_kib or domain.memory_kib or 0) // 1024,
        max_memory_mb=(domain.memory_kib or 0) // 1024,
        machine=canonical.get(machine, machine),
        kernel=domain.kernel,
        initrd=domain.initrd,
        cmdline=domain.cmdline,
        firmware=firmware,
        secure_boot=bool(domain.loader_secure) if firmware == 'uefi' else False,
        guest_agent=any(channel.is_guest_agent for channel in domain.channels),
        graphics=graphics,
        serial_console=_serial_console_of(domain),
        disk_qos=dict((key, value) for key, value in (root.iotune if root is not None else {}).items() if value),
        # '' when there is none, which is what an empty config_drive option asks for
        config_drive=(find_config_drive(domain).source_file if find_config_drive(domain) is not None else ''),
    )


def machine_matches(wanted, current, machine_aliases):
    """``pc`` matches ``pc-i440fx-7.2`` when libvirt says that is what ``pc`` means."""
    return wanted == current or (machine_aliases or {}).get(wanted) == current


def build_domain(name, params, root_disk=None, serial_log=None, uuid=None, metadata=None):
    """A new definition from validated options; ``root_disk`` is ``(path, format)`` or None."""
    dom = Domain()
    dom.type = params['virt_type']
    dom.name = name
    if uuid:
        dom.uuid = uuid
    _set_flavor(dom, params['vcpus'], params.get('max_vcpus'), params['memory_mb'], params.get('max_memory_mb'))
    dom.os_type = 'hvm'
    dom.os_arch = 'x86_64'
    if params.get('machine'):
        dom.os_machine = params['machine']
    if params.get('firmware') == 'uefi':
        dom.os_firmware = 'efi'
        if params.get('secure_boot'):
            dom.loader_secure = True
            dom.smm = True
    if params.get('kernel'):
        dom.kernel = params['kernel']
        dom.initrd = params.get('initrd')
        dom.cmdline = params.get('cmdline')
    else:
        dom.boot_devices = ['hd']
    dom.acpi = True
    dom.apic = True
    dom.on_poweroff = 'destroy'
    dom.on_reboot = 'restart'
    dom.on_crash = 'destroy'
    if root_disk:
        disk = Disk()
        disk.type = 'file'
        disk.device = 'disk'
        disk.driver_name = 'qemu'
        disk.driver_type = root_disk[1]
        disk.source_file = root_disk[0]
        disk.target_dev = ROOT_TARGET
        disk.target_bus = 'virtio'
        disk.iotune = params.get('disk_qos') or None
        dom.add_device(disk)
    if params.get('config_drive'):
        dom.add_device(_config_drive_disk(params['config_drive'], params.get('machine')))
    for nic in params.get('nics') or []:
        dom.add_device(guest_nics.build_interface(guest_nics.normal_nic(nic)))
    _add_consoles(dom, params, serial_log)
    if params.get('guest_agent'):
        channel = Channel()
        channel.type = 'unix'
        channel.target_type = 'virtio'
        channel.target_name = GUEST_AGENT_CHANNEL
        dom.add_device(channel)
    for item in _normal_graphics(params.get('graphics')):
        dom.add_device(_graphics(item, params))
    if metadata:
        dom.set_app_metadata(metadata)
    return dom


def _set_flavor(dom, vcpus, max_vcpus, memory_mb, max_memory_mb):
    """vCPUs and memory, with room to grow live up to the maxima (none when they equal the amounts)."""
    dom.vcpu = max(vcpus, max_vcpus or 0)
    dom.vcpu_current = vcpus if vcpus < dom.vcpu else None
    dom.memory_kib = max(memory_mb, max_memory_mb or 0) * 1024
    dom.current_memory_kib = memory_mb * 1024


def live_flavor_changes(current, wanted):
    """Of vcpus and memory_mb, the changes that fit under the guest's present maxima (libvirt applies those live)."""
    live = []
    if wanted.get('vcpus') is not None and wanted['vcpus'] <= current['max_vcpus'] and wanted.get('max_vcpus') in (None, current['max_vcpus']):
        live.append('vcpus')
    if (wanted.get('memory_mb') is not None and wanted['memory_mb'] <= current['max_memory_mb']
            and wanted.get('max_memory_mb') in (None, current['max_memory_mb'])):
        live.append('memory_mb')
    return live


def _add_consoles(dom, params, serial_log):
    console_spec = _normal_console(params.get('serial_console')) or dict(type='pty')
    serial = Serial()
    serial.type = console_spec['type']
    if console_spec['type'] == 'tcp':
        serial.source_mode = 'bind'
        serial.source_host = console_spec['listen']
        serial.source_service = str(console_spec['port'])
        serial.protocol_type = 'telnet'
    serial.target_port = 0
    if serial_log:
        serial.log_file = serial_log
        serial.log_append = True
    dom.add_device(serial)
    console = Console()
    console.type = console_spec['type']
    console.target_type = 'serial'
    console.target_port = 0
    dom.add_device(console)


def _graphics(item, params):
    graphic = Graphics()
    graphic.type = item['type']
    if item['port'] is None:
        graphic.autoport = True
    else:
        graphic.port = item['port']
        graphic.autoport = False
    graphic.set_listen_address(item['listen'])
    for given in params.get('graphics') or []:
        if given['type'] == item['type'] and given.get('password'):
            graphic.passwd = given['password']
    return graphic


def apply_spec(domain, changes, params):
    """Rewrite the named options of an existing definition in place, keeping everything else."""
    for key in changes:
        if key == 'virt_type':
            domain.type = params['virt_type']
        elif key in ('vcpus', 'max_vcpus', 'memory_mb', 'max_memory_mb'):
            now = spec_of(domain)
            wanted = dict((name, params.get(name) or now[name]) for name in ('vcpus', 'max_vcpus', 'memory_mb', 'max_memory_mb'))
            _set_flavor(domain, wanted['vcpus'], params.get('max_vcpus') or max(wanted['vcpus'], now['max_vcpus']),
                        wanted['memory_mb'], params.get('max_memory_mb') or max(wanted['memory_mb'], now['max_memory_mb']))
        elif key == 'machine':
            domain.os_machine = params['machine']
        elif key in ('kernel', 'initrd', 'cmdline'):
            setattr(domain, key, params[key] or None)
        elif key in ('firmware', 'secure_boot'):
            _apply_firmware(domain, params)
        elif key == 'guest_agent':
            _apply_agent(domain, params['guest_agent'])
        elif key == 'graphics':
            for graphic in list(domain.graphics):
                domain.remove_device(graphic)
            for item in _normal_graphics(params['graphics']):
                domain.add_device(_graphics(item, params))
        elif key == 'serial_console':
            log = domain.serials[0].log_file if domain.serials else None
            for device in list(domain.serials) + list(domain.consoles):
                domain.remove_device(device)
            _add_consoles(domain, params, log)
        elif key == 'config_drive':
            current = find_config_drive(domain)
            if current is not None:
                domain.remove_device(current)
            if params['config_drive']:
                domain.add_device(_config_drive_disk(params['config_drive'], domain.os_machine))
        elif key == 'disk_qos':
            root = domain.find_disk(ROOT_TARGET)
            if root is None:
                raise VirtopsError("guest '%s': disk_qos needs a root disk (an image)." % domain.name)
            root.iotune = params['disk_qos'] or None


def _apply_firmware(domain, params):
    uefi = params.get('firmware') == 'uefi'
    domain.os_firmware = 'efi' if uefi else None
    domain.loader_path = None
    domain.loader_secure = True if uefi and params.get('secure_boot') else None
    domain.nvram_path = None
    domain.smm = True if uefi and params.get('secure_boot') else None


def _apply_agent(domain, wanted):
    agents = [channel for channel in domain.channels if channel.is_guest_agent]
    if wanted and not agents:
        channel = Channel()
        channel.type = 'unix'
        channel.target_type = 'virtio'
        channel.target_name = GUEST_AGENT_CHANNEL
        domain.add_device(channel)
    if not wanted:
        for channel in agents:
            domain.remove_device(channel)


def graphics_passwords(domain):
    """{type: password} of a definition read with VIR_DOMAIN_XML_SECURE."""
    return dict((graphic.type, graphic.passwd) for graphic in domain.graphics)
