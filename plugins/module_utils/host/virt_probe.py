# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding out which virt types really run guests on a host.

libvirt lists every domain type QEMU was built with; on some hosts ``kvm`` is
listed and /dev/kvm opens, yet guests hang or abort.  So each listed type boots
a 512-byte guest that prints a line on its serial port in real mode, enters
64-bit long mode and prints a second line.  Only the second line counts.

The boot sector reaches QEMU as a volume of a temporary storage pool, uploaded
through libvirt's stream API, and the serial output comes back through a
console stream, so the probe works against remote URIs too.  Its source is
docs/dev/virt-probe.S.
"""


import io
import time
import uuid

from ansible_collections.virtops.compute.plugins.module_utils.connection import describe_libvirt_error, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Console, Disk, Serial
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB

_CODE = bytes.fromhex(
    'fa31c08ed88ec08ed0bc007cbaf803beae7cac84c07403eeebf866bf001000006631c066b90010000066f3ab66c70600'
    '100320000066c70600200330000066c70600308300000066b8001000000f22d80f20e06683c8200f22e066b9800000c0'
    '0f32660d000100000f300f0116a87c0f20c0660d010000800f22c0ea807c080066baf803488d353e000000ac84c07403'
    'eeebf8f4ebfd6690000000000000000000000000009a20000f00987c0000766972746f70732d70726f62653a20726561'
    '6c206d6f64650d0a00766972746f70732d70726f62653a206c6f6e67206d6f64650d0a00'
)
BOOT_SECTOR = _CODE + bytes(510 - len(_CODE)) + b'\x55\xaa'
LONG_MODE_MARKER = b'virtops-probe: long mode'
REAL_MODE_MARKER = b'virtops-probe: real mode'

PROBE_ARCHES = ('x86_64', 'i686')
PROBE_PREFIX = 'virtops-probe-'
PROBE_DIR_PARENT = '/var/lib/libvirt'
_VOLUME_BYTES = MIB


def probe_pool_xml(name):
    pool = StoragePool()
    pool.type = 'dir'
    pool.name = name
    pool.target_path = '%s/%s' % (PROBE_DIR_PARENT, name)
    return pool.to_xml()


def probe_volume_xml(name):
    vol = StorageVolume()
    vol.name = name
    vol.capacity_bytes = _VOLUME_BYTES
    vol.target_format = 'raw'
    return vol.to_xml()


def probe_domain_xml(name, virt_type, disk_path, arch='x86_64'):
    """A transient 32 MiB guest that boots the probe volume and has a pty serial console."""
    dom = Domain()
    dom.type = virt_type
    dom.name = name
    dom.memory_kib = 32 * 1024
    dom.vcpu = 1
    dom.os_type = 'hvm'
    dom.os_arch = arch
    dom.boot_devices = ['hd']
    dom.on_poweroff = 'destroy'
    dom.on_reboot = 'destroy'
    dom.on_crash = 'destroy'
    disk = Disk()
    disk.type = 'file'
    disk.device = 'disk'
    disk.driver_name = 'qemu'
    disk.driver_type = 'raw'
    disk.source_file = disk_path
    disk.target_dev = 'vda'
    disk.target_bus = 'virtio'
    disk.readonly = True
    dom.add_device(disk)
    serial = Serial()
    serial.type = 'pty'
    serial.target_port = 0
    dom.add_device(serial)
    console = Console()
    console.type = 'pty'
    console.target_type = 'serial'
    console.target_port = 0
    dom.add_device(console)
    return dom.to_xml()


class _Probe:
    """One virt type's probe guest and what it printed."""

    def __init__(self, virt_type):
        self.virt_type = virt_type
        self.domain = None
        self.stream = None
        self.output = b''
        self.started = None
        self.result = None

    def finish(self, usable, reason=None):
        if self.result is None:
            self.result = dict(usable=usable, seconds=round(time.time() - self.started, 2))
            if reason:
                self.result['reason'] = reason


def _upload(conn, volume, data):
    # imported here: most runs find the probe's answer cached and never upload anything
    from ansible_collections.virtops.compute.plugins.module_utils.libvirt import streams
    streams.upload(conn, volume, io.BytesIO(data), len(data))


def _start(conn, probe, disk_path, arch, token):
    probe.started = time.time()
    name = '%s%s-%s' % (PROBE_PREFIX, probe.virt_type, token)
    try:
        # started paused and resumed once the console is open: QEMU drops what a pty serial port prints while
        # nobody has the pty open, and on a busy host the boot sector can print before the console is opened
        probe.domain = conn.createXML(probe_domain_xml(name, probe.virt_type, disk_path, arch),
                                      libvirt.VIR_DOMAIN_START_PAUSED)
        probe.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        probe.domain.openConsole(None, probe.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        probe.domain.resume()
    except libvirt.libvirtError as err:
        probe.finish(False, describe_libvirt_error(err, where='the probe guest did not start'))


def _poll(probe):
    try:
        # Without an event loop, libvirt's client reads what the server sends only while a call waits for its
        # answer: a non-blocking recv never reads the connection itself. On a fast host the probe's output comes
        # in with the answer to resume(); where the guest prints later (emulation on a busy or nested host) it
        # would wait unread for good. A cheap call each round reads whatever has arrived for the stream.
        probe.domain.isActive()
        while True:
            chunk = probe.stream.recv(4096)
            if chunk in (-2, None) or chunk == b'':
                break
            probe.output += chunk
    except libvirt.libvirtError:
        pass
    if LONG_MODE_MARKER in probe.output:
        probe.finish(True)


def _stop(probe, timeout):
    if probe.result is None:
        if REAL_MODE_MARKER in probe.output:
            probe.finish(False, 'the probe guest ran in real mode but did not reach 64-bit long mode within %d seconds' % timeout)
        else:
            probe.finish(False, 'the probe guest printed nothing within %d seconds' % timeout)
    _quietly(probe.stream, 'abort')
    _quietly(probe.domain, 'destroy')


def _quietly(obj, method, *args):
    """Clean-up call whose failure must not hide the probe's result."""
    if obj is None:
        return
    try:
        getattr(obj, method)(*args)
    except libvirt.libvirtError:
        pass


def probe_virt_types(conn, virt_types, arch='x86_64', timeout=10, log=None):
    """``{virt_type: {usable, seconds, reason?}}`` for each listed type, probed at once."""
    if not virt_types:
        return {}
    if arch not in PROBE_ARCHES:
        return dict((name, dict(usable=True, seconds=0.0, reason='not probed on %s; taken as listed' % arch))
                    for name in virt_types)
    token = uuid.uuid4().hex[:8]
    pool = volume = None
    probes = [_Probe(name) for name in virt_types]
    try:
        pool = conn.storagePoolDefineXML(probe_pool_xml(PROBE_PREFIX + token), 0)
        pool.build(0)
        pool.create(0)
        volume = pool.createXML(probe_volume_xml('boot.img'), 0)
        _upload(conn, volume, BOOT_SECTOR)
        disk_path = volume.path()
        for probe in probes:
            if log:
                log('probing virt type %s' % probe.virt_type)
            _start(conn, probe, disk_path, arch, token)
        deadline = time.time() + timeout
        while time.time() < deadline and any(p.result is None for p in probes):
            for probe in probes:
                if probe.result is None:
                    _poll(probe)
            time.sleep(0.1)
    finally:
        for probe in probes:
            _stop(probe, timeout)
        _remove_pool(pool, volume)
    return dict((probe.virt_type, probe.result) for probe in probes)


def _remove_pool(pool, volume):
    _quietly(volume, 'delete', 0)
    _quietly(pool, 'destroy')
    _quietly(pool, 'delete', 0)
    _quietly(pool, 'undefine')
