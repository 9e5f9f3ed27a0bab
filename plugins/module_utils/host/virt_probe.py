# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding out which virt types really run guests on a host.

libvirt lists every domain type QEMU was built with; on some hosts ``kvm`` is
listed and /dev/kvm opens, yet guests hang or abort.  So each listed type boots
a 512-byte guest that prints a line on its serial port in real mode, enters
64-bit long mode and prints a second line.  Only the second line counts.

That is not always enough: where KVM is broken in subtler ways (the machine this
collection is tested on) the boot sector reaches long mode while a Linux kernel
hangs right after its boot loader.  So a type that passes, when the machine the
module runs on has a Linux kernel of the host's architecture in /boot, also boots
that kernel without a root file system: it counts only when the kernel gets through
its start-up to the point of its "Kernel panic - not syncing: VFS" line.

The boot sector reaches QEMU as a volume of a temporary storage pool, uploaded
through libvirt's stream API, and the serial output comes back through a
console stream, so the probe works against remote URIs too.  Its source is
docs/dev/virt-probe.S.
"""


import glob
import io
import os
import platform
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

# what a kernel prints once it got through its start-up (timers, interrupts, memory) and found no root to mount
KERNEL_MARKERS = (b'Kernel panic - not syncing', b'Run /init')
# no panic=: after its panic the kernel waits (a reboot could close the console before its last lines are read)
KERNEL_CMDLINE = 'console=ttyS0'
KERNEL_GLOBS = ('/boot/vmlinuz-*', '/vmlinuz')

# The probe is there to choose the fastest type that runs guests. An accelerator that has not done what emulation
# ('qemu', TCG) did in twice emulation's time, and at least ACCELERATOR_GRACE seconds (starting QEMU costs both the
# same), would not be chosen over it whatever it did later: it is given up on then, not at the stage's time-out. A
# working KVM is done long before emulation; a broken one is otherwise waited on for the whole time-out.
EMULATION = 'qemu'
ACCELERATOR_GRACE = 8

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


def probe_volume_xml(name, capacity=_VOLUME_BYTES):
    vol = StorageVolume()
    vol.name = name
    vol.capacity_bytes = capacity
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
    _add_serial_console(dom)
    return dom.to_xml()


def _add_serial_console(dom):
    """A pty serial port, and the console on it that the probe reads."""
    serial = Serial()
    serial.type = 'pty'
    serial.target_port = 0
    dom.add_device(serial)
    console = Console()
    console.type = 'pty'
    console.target_type = 'serial'
    console.target_port = 0
    dom.add_device(console)


def kernel_domain_xml(name, virt_type, kernel_path, arch='x86_64'):
    """A transient 128 MiB guest that boots ``kernel_path`` without any disk, its console on a pty serial port."""
    dom = Domain()
    dom.type = virt_type
    dom.name = name
    dom.memory_kib = 128 * 1024
    dom.vcpu = 1
    dom.os_type = 'hvm'
    dom.os_arch = arch
    dom.kernel = kernel_path
    dom.cmdline = KERNEL_CMDLINE
    for what in ('poweroff', 'reboot', 'crash'):
        setattr(dom, 'on_' + what, 'destroy')
    _add_serial_console(dom)
    return dom.to_xml()


def host_kernel():
    """The newest readable Linux kernel of this machine (None when there is none, e.g. in a container), when this
    machine is an x86_64 one: the kernel's second stage is only tried with a kernel of the probed architecture."""
    if platform.machine() != 'x86_64':
        return None
    found = [path for pattern in KERNEL_GLOBS for path in glob.glob(pattern)
             if os.path.isfile(path) and os.access(path, os.R_OK)]
    return max(found, key=os.path.getmtime) if found else None


def kernel_timeout(timeout):
    """How long the kernel stage waits: a kernel under emulation needs some seconds where the boot sector needs
    none."""
    return min(max(2 * timeout, 20), 90)


class _Probe:
    """One virt type's probe guest and what it printed."""

    def __init__(self, virt_type, markers=(LONG_MODE_MARKER,)):
        self.virt_type = virt_type
        self.markers = markers
        self.domain = None
        self.stream = None
        self.output = b''
        self.started = None
        self.result = None

    def printed(self):
        return any(marker in self.output for marker in self.markers)

    @property
    def boots_kernel(self):
        """This probe boots a Linux kernel (the second stage), not the boot sector."""
        return self.markers != (LONG_MODE_MARKER,)

    def finish(self, usable, reason=None):
        if self.result is None:
            self.result = dict(usable=usable, seconds=round(time.time() - self.started, 2))
            if reason:
                self.result['reason'] = reason


def _upload(conn, volume, reader, length):
    # imported here: most runs find the probe's answer cached and never upload anything
    from ansible_collections.virtops.compute.plugins.module_utils.libvirt import streams
    streams.upload(conn, volume, reader, length)


def _start(conn, probe, xml):
    probe.started = time.time()
    try:
        # started paused and resumed once the console is open: QEMU drops what a pty serial port prints while
        # nobody has the pty open, and on a busy host the boot sector can print before the console is opened
        probe.domain = conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
        probe.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        probe.domain.openConsole(None, probe.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        probe.domain.resume()
    except libvirt.libvirtError as err:
        probe.finish(False, describe_libvirt_error(err, where='the probe guest did not start'))


def _poll(probe):
    try:
        # Without an event loop libvirt's client reads what the server sends only while a call waits for its
        # answer, and a non-blocking recv never reads the connection itself: output that comes after resume()
        # answered (emulation on a busy host, hosts reached over SSH) would wait unread for good. A cheap call
        # each round reads whatever has arrived for the stream. (A thread blocked in recv instead can hold up
        # resume() itself: guests were left paused.)
        probe.domain.isActive()
        while True:
            chunk = probe.stream.recv(4096)
            if not isinstance(chunk, bytes) or not chunk:
                break
            probe.output += chunk
    except libvirt.libvirtError:
        pass
    if probe.printed():
        probe.finish(True)


def _outpaced(probes, now):
    """Give up on each type still running once emulation was done with the same guest twice as fast."""
    emulation = [probe for probe in probes if probe.virt_type == EMULATION and probe.result and probe.result['usable']]
    if not emulation:
        return
    took = emulation[0].result['seconds']
    limit = max(ACCELERATOR_GRACE, 2 * took)
    for probe in probes:
        if probe.result is None and now - probe.started > limit:
            what = 'a Linux kernel' if probe.boots_kernel else 'the probe guest'
            probe.finish(False, '%s had not got through under %s after %d seconds, while emulation (%s) took %.1f '
                                'seconds: an accelerator slower than emulation is not used'
                         % (what, probe.virt_type, limit, EMULATION, took))


def _stop(probe, timeout):
    if probe.result is None and probe.boots_kernel:
        probe.finish(False, 'the probe guest ran, but a Linux kernel booted under it printed nothing that shows it '
                            'got through its start-up within %d seconds' % timeout)
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


def probe_virt_types(conn, virt_types, arch='x86_64', timeout=10, log=None, kernel=None):
    """``{virt_type: {usable, seconds, reason?, checked}}`` for each listed type, probed at once: the boot sector,
    then, for the types it ran under, ``kernel`` (by default this machine's own, see host_kernel)."""
    if not virt_types:
        return {}
    if arch not in PROBE_ARCHES:
        return dict((name, dict(usable=True, seconds=0.0, reason='not probed on %s; taken as listed' % arch))
                    for name in virt_types)
    token = uuid.uuid4().hex[:8]
    pool, volumes = None, []
    probes = [_Probe(name) for name in virt_types]
    try:
        pool = conn.storagePoolDefineXML(probe_pool_xml(PROBE_PREFIX + token), 0)
        pool.build(0)
        pool.create(0)
        boot = _volume(conn, pool, volumes, 'boot.img', io.BytesIO(BOOT_SECTOR), MIB)
        _run(conn, probes, lambda probe, name: probe_domain_xml(name, probe.virt_type, boot.path(), arch),
             token, timeout, log, 'probing virt type %s')
        for probe in probes:
            probe.result['checked'] = 'boot sector'
        kernel = host_kernel() if kernel is None else kernel
        passed = [probe for probe in probes if probe.result['usable']]
        if kernel and arch == 'x86_64' and passed:
            with open(kernel, 'rb') as handle:
                image = _volume(conn, pool, volumes, 'kernel', handle, os.path.getsize(kernel))
            second = [_Probe(probe.virt_type, KERNEL_MARKERS) for probe in passed]
            _run(conn, second, lambda probe, name: kernel_domain_xml(name, probe.virt_type, image.path(), arch),
                 token + 'k', kernel_timeout(timeout), log, 'booting a Linux kernel under virt type %s')
            for first, probe in zip(passed, second):
                result = dict(probe.result, checked='boot sector and kernel %s' % kernel)
                result['seconds'] = round(first.result['seconds'] + probe.result['seconds'], 2)
                first.result = result
    finally:
        _remove_pool(pool, volumes)
    return dict((probe.virt_type, probe.result) for probe in probes)


def _volume(conn, pool, volumes, name, reader, length):
    """A raw volume of ``length`` bytes in the probe pool holding what ``reader`` gives."""
    volume = pool.createXML(probe_volume_xml(name, length), 0)
    volumes.append(volume)
    _upload(conn, volume, reader, length)
    return volume


def _run(conn, probes, xml_of, token, timeout, log, saying):
    """Start every probe's guest at once, wait until each printed its marker or ``timeout`` passed, stop them."""
    try:
        for probe in probes:
            if log:
                log(saying % probe.virt_type)
            _start(conn, probe, xml_of(probe, '%s%s-%s' % (PROBE_PREFIX, probe.virt_type, token)))
        deadline = time.time() + timeout
        while time.time() < deadline and any(p.result is None for p in probes):
            for probe in probes:
                if probe.result is None:
                    _poll(probe)
            _outpaced(probes, time.time())
            time.sleep(0.1)
    finally:
        for probe in probes:
            _stop(probe, timeout)


def _remove_pool(pool, volumes):
    for volume in volumes:
        _quietly(volume, 'delete', 0)
    _quietly(pool, 'destroy')
    _quietly(pool, 'delete', 0)
    _quietly(pool, 'undefine')
