# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A recorded domain definition, rebuilt from what a guest may carry to another host.

The evacuate role keeps each guest's definition on storage that every compute host can
write, and defines it again on a peer, as root, after its host failed.  Such a definition
is untrusted: a compromised host could have written one that runs commands on the peer
(``<qemu:commandline>``), hands the guest a host device or directory, or points a disk,
kernel, console log or firmware file at any file of the peer (libvirt even hands such
files to the QEMU user).  So the definition is rebuilt element by element from an
allow-list: what a guest made by this collection (or an ordinary cloud guest) carries
is kept, host-specific details libvirt fills in again are dropped, and anything else is
refused with a phrase naming it.  Every host path left in the result is handed to the
caller's ``check_path``, which decides whether it may be used (the storage pools it may
use, symbolic links resolved).
"""

import copy

from ansible_collections.virtops.compute.plugins.module_utils.model.domain import METADATA_NS, Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.xmlutil import make_element

# top-level elements a rebuilt guest keeps, in libvirt's order
KEPT = ('name', 'uuid', 'genid', 'title', 'description', 'metadata', 'maxMemory', 'memory', 'currentMemory',
        'memoryBacking', 'vcpu', 'vcpus', 'iothreads', 'iothreadids', 'cputune', 'os', 'features', 'cpu', 'clock',
        'on_poweroff', 'on_reboot', 'on_crash', 'pm', 'devices')
# what libvirt fills in again on the new host: its cgroup partition (a static or disabled security label, which
# would run QEMU as another user or unconfined, is refused below)
DROPPED = ('resource',)
DEVICE_RULES = {
    'disk': ('type', ('file', 'block', 'network', 'volume')),
    'interface': ('type', ('network', 'bridge', 'user')),
    'serial': ('type', ('pty', 'tcp', 'file', 'null', 'unix', 'spicevmc')),
    'console': ('type', ('pty', 'tcp', 'file', 'null', 'unix', 'spicevmc')),
    'parallel': ('type', ('pty', 'tcp', 'file', 'null', 'unix')),
    'channel': ('type', ('unix', 'pty', 'spicevmc', 'spiceport', 'qemu-vdagent')),
    'graphics': ('type', ('vnc', 'spice')),
    'rng': ('model', ('virtio',)),
    'controller': None, 'video': None, 'input': None, 'sound': None, 'audio': None, 'memballoon': None,
    'watchdog': None, 'panic': None, 'iommu': None, 'vsock': None, 'memory': None,
}
REFUSED_DEVICES = {
    'hostdev': 'a host device passed through (hostdev)',
    'filesystem': 'a host directory passed through (filesystem)',
    'shmem': 'memory shared with the host (shmem)',
    'smartcard': 'a smartcard device',
    'redirdev': 'a redirected USB device (redirdev)',
    'tpm': 'a TPM, whose state stays on the failed host',
    'lease': 'a lock lease naming a lockspace file',
    'crypto': 'a crypto device',
}
RANDOM_SOURCES = ('/dev/urandom', '/dev/random')
# where free text that looks like a path is no host path: the kernel command line, names, descriptions, metadata
NOT_PATHS = ('cmdline', 'title', 'description', 'name', 'metadata')


def _refuse(phrase):
    raise ModelError(phrase)


def _namespace(tag):
    return tag[1:].split('}', 1)[0] if isinstance(tag, str) and tag.startswith('{') else None


def _in_metadata(node):
    parent = node.getparent()
    while parent is not None:
        if parent.tag == 'metadata':
            return True
        parent = parent.getparent()
    return False


def _where(node):
    """``<disk> 'vdb' source@file``-style words for where a value sits (the device, then the path below it)."""
    steps = []
    while node is not None and node.getparent() is not None:
        parent = node.getparent()
        if parent.tag == 'devices':
            return ' '.join([_label(node)] + (['/'.join(reversed(steps))] if steps else []))
        steps.append(node.tag)
        node = parent
    return '/'.join(reversed(steps))


def _label(device):
    target = device.find('target')
    name = target.get('dev') if target is not None else None
    mac = device.find('mac')
    name = name or (mac.get('address') if mac is not None else None) or device.get('type')
    return '<%s>%s' % (device.tag, " '%s'" % name if name else '')


class RecordedDefinition:
    """A definition read from a record; ``rebuild`` returns the Domain a peer may define, or raises ModelError."""

    def __init__(self, text):
        self.source = Domain.from_xml(text)

    def rebuild(self, check_path, allowed_volume_pools=None):
        """A new Domain holding only what may travel (see the module docstring).

        ``check_path(path, what)`` raises ModelError for a host path the guest may not use;
        ``allowed_volume_pools`` (a collection of names, None for any) limits ``<disk type='volume'>``."""
        source = self.source.element
        for node in source.iter():
            if _namespace(node.tag) not in (None, METADATA_NS) and not _in_metadata(node):
                _refuse('<%s:%s> (QEMU command-line passthrough or another hypervisor extension)'
                        % (node.prefix or 'ns', node.tag.split('}', 1)[1]))
        if self.source.type not in ('kvm', 'qemu'):
            _refuse("domain type '%s' (only kvm and qemu guests are rebuilt)" % self.source.type)
        rebuilt = Domain()
        rebuilt.type = self.source.type
        for child in source:
            if not isinstance(child.tag, str) or child.tag in DROPPED:
                continue
            if child.tag == 'seclabel':
                if child.get('type') != 'dynamic':
                    _refuse("a %s security label, which would run QEMU unconfined or as another user"
                            % (child.get('type') or 'static'))
                continue            # the peer labels the guest itself
            if child.tag not in KEPT:
                _refuse('<%s>, which a rebuilt guest does not carry' % child.tag)
            if child.tag == 'metadata':
                rebuilt.set_app_metadata(self.source.get_app_metadata() or None)
            elif child.tag == 'os':
                rebuilt.element.append(self._os(child))
            elif child.tag == 'devices':
                rebuilt.element.append(self._devices(child, allowed_volume_pools))
            else:
                rebuilt.element.append(copy.deepcopy(child))
        self._check_paths(rebuilt.element, check_path)
        return rebuilt

    # ---------------------------------------------------------------- parts

    @staticmethod
    def _os(node):
        """``<os>``; UEFI firmware is chosen again on the new host (its own OVMF files and a fresh NVRAM)."""
        rebuilt = copy.deepcopy(node)
        if (rebuilt.findtext('type') or '').strip() != 'hvm':
            _refuse('an os type other than hvm')
        loader = rebuilt.find('loader')
        if loader is None and rebuilt.get('firmware') != 'efi':
            return rebuilt
        if loader is not None and loader.get('type') not in (None, 'pflash'):
            _refuse('a %s firmware loader' % loader.get('type'))
        secure = loader is not None and loader.get('secure') == 'yes'
        for tag in ('loader', 'nvram'):
            for found in rebuilt.findall(tag):
                rebuilt.remove(found)
        rebuilt.set('firmware', 'efi')
        if secure:
            rebuilt.find('type').addnext(make_element('loader', {'secure': 'yes'}))
        return rebuilt

    def _devices(self, node, allowed_volume_pools):
        rebuilt = copy.deepcopy(node)
        for device in list(rebuilt):
            if not isinstance(device.tag, str) or device.tag == 'emulator':
                rebuilt.remove(device)      # comments, and the failed host's emulator path: the peer uses its own
                continue
            if device.tag in REFUSED_DEVICES:
                _refuse('%s %s' % (REFUSED_DEVICES[device.tag], _label(device)))
            if device.tag not in DEVICE_RULES:
                _refuse('%s, a device a rebuilt guest does not carry' % _label(device))
            rule = DEVICE_RULES[device.tag]
            if rule is not None and device.get(rule[0]) not in rule[1]:
                _refuse("%s of %s '%s'" % (_label(device), rule[0], device.get(rule[0])))
            tidy = getattr(self, '_' + device.tag, None)
            if tidy is not None:
                tidy(device, allowed_volume_pools)
        return rebuilt

    @staticmethod
    def _disk(device, allowed_volume_pools):
        if device.get('device') == 'lun':
            _refuse('%s passed through as a SCSI LUN of the host' % _label(device))
        for tag in ('backingStore', 'mirror'):
            for found in device.findall(tag):
                device.remove(found)        # libvirt reads the backing chain from the image itself
        source = device.find('source')
        if device.get('type') == 'volume' and allowed_volume_pools is not None and source is not None \
                and source.get('pool') not in allowed_volume_pools:
            _refuse("%s in storage pool '%s', which it may not use" % (_label(device), source.get('pool')))

    @staticmethod
    def _interface(device, _pools):
        for tag in ('script', 'downscript', 'backend'):
            if device.find(tag) is not None:
                _refuse('%s with a %s of the host' % (_label(device), tag))
        target = device.find('target')
        if target is not None:
            device.remove(target)       # the tap device's name is the new host's to pick

    @staticmethod
    def _chardev(device, _pools):
        source = device.find('source')
        if device.get('type') == 'pty':
            device.attrib.pop('tty', None)
            if source is not None:
                device.remove(source)       # the failed host's /dev/pts entry
        elif device.tag == 'channel' and device.get('type') == 'unix' and source is not None \
                and source.get('mode', 'bind') == 'bind':
            device.remove(source)           # libvirt makes the socket itself, under its own directory

    _serial = _console = _parallel = _channel = _chardev

    @staticmethod
    def _graphics(device, _pools):
        device.attrib.pop('passwd', None)    # a console password comes from the operator, never from a record
        device.attrib.pop('passwdValidTo', None)

    @staticmethod
    def _rng(device, _pools):
        backend = device.find('backend')
        if backend is None or backend.get('model') not in ('random', 'builtin'):
            _refuse("%s whose backend is not the host's random number source" % _label(device))
        if backend.get('model') == 'random':
            source = (backend.text or '/dev/urandom').strip()
            if source not in RANDOM_SOURCES:
                _refuse("%s reading '%s'" % (_label(device), source))
            backend.text = source

    # ---------------------------------------------------------------- host paths

    @staticmethod
    def _check_paths(root, check_path):
        """Every attribute or text that names an absolute path goes through ``check_path`` (random sources aside)."""
        for node in root.iter():
            if not isinstance(node.tag, str) or node.tag in NOT_PATHS or _in_metadata(node):
                continue
            values = [('%s@%s' % (_where(node), name), value) for name, value in node.attrib.items()]
            text = (node.text or '').strip()
            if text and not (node.tag == 'backend' and text in RANDOM_SOURCES):
                values.append((_where(node), text))
            for what, value in values:
                if value.startswith('/'):
                    check_path(value, what)
