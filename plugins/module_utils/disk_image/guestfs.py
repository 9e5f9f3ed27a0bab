# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening offline disk images with libguestfs (growing their root file system is in ``grow.py``).

libguestfs boots a small appliance VM for every handle (12-30 s under TCG), so a
module run opens one handle and does all its reading and writing through it.  It
only reaches files on the host it runs on, which is why callers refuse remote URIs.

An image is always opened with a format the caller decided (a guest's definition says it,
or the user did): libguestfs left to guess would read a qcow2 header a guest wrote on its
raw disk, and with it any host file that header names as backing file (``storage/chain.py``).
"""


import json
import os
import sys
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain


def _import_guestfs():
    try:
        import guestfs
        return guestfs
    except ImportError:
        pass
    # Distributions ship the bindings only for their own Python; a virtualenv or another
    # build of the same Python version can still load them from the system directory.
    version = 'python%d.%d' % sys.version_info[:2]
    for directory in ('/usr/lib/python3/dist-packages', '/usr/lib64/%s/site-packages' % version,
                      '/usr/lib/%s/site-packages' % version):
        if not os.path.exists(os.path.join(directory, 'guestfs.py')):
            continue
        sys.path.append(directory)
        try:
            import guestfs
            return guestfs
        except ImportError:
            continue
        finally:
            sys.path.remove(directory)
    return None


guestfs = _import_guestfs()
HAS_GUESTFS = guestfs is not None
MISSING_GUESTFS = ('libguestfs and its Python bindings are not installed on the host running the module '
                   '(Debian/Ubuntu: libguestfs-tools and python3-guestfs; RHEL: libguestfs-tools-c and '
                   'python3-libguestfs).')

KVM_CACHE = '/run/virtops/kvm-usable.json'
LINUX_FILESYSTEMS = ('ext2', 'ext3', 'ext4', 'xfs', 'btrfs')
_OTHER_MOUNTS_IGNORED = ('/', 'none', 'swap')


def _boot_id():
    try:
        with open('/proc/sys/kernel/random/boot_id') as handle:
            return handle.read().strip()
    except OSError:
        return None


def _cached_kvm_usable():
    try:
        with open(KVM_CACHE) as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        return None
    return cached.get('usable') if cached.get('boot_id') == _boot_id() else None


def _remember_kvm_usable(usable):
    try:
        os.makedirs(os.path.dirname(KVM_CACHE), exist_ok=True)
        with open(KVM_CACHE, 'w') as handle:
            json.dump(dict(boot_id=_boot_id(), usable=usable), handle)
    except OSError:
        pass


def kvm_usable(conn=None, log=None):
    """Whether /dev/kvm really runs guests; probed once per host boot (a probe costs about 10 s)."""
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return False
    cached = _cached_kvm_usable()
    if cached is not None:
        return cached
    if conn is None:
        # without a probe, TCG is the choice that always works; KVM would only be faster
        return False
    from ansible_collections.virtops.compute.plugins.module_utils.host import virt_probe
    try:
        usable = virt_probe.probe_virt_types(conn, ['kvm'], timeout=10, log=log)['kvm']['usable']
    except libvirt.libvirtError:
        return False
    _remember_kvm_usable(usable)
    return usable


def parse_tcg_setting(value):
    """``auto`` -> None, else a bool; the option takes booleans or the word auto."""
    text = str(value).strip().lower()
    if text == 'auto':
        return None
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0'):
        return False
    raise VirtopsError("libguestfs_tcg must be auto, true or false, not '%s'." % value)


def images_of_running_guests(conn):
    """``{real path: guest name}`` of every file a running or paused guest has open, backing files too."""
    used = {}
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        for disk in Domain.from_xml(dom.XMLDesc(0)).disks:
            for path in [disk.source_path] + [backing for backing, _format in disk.backing_chain]:
                if path:
                    used[os.path.realpath(path)] = dom.name()
    return used


def refuse_if_in_use(conn, image):
    guest = images_of_running_guests(conn).get(os.path.realpath(image))
    if guest:
        raise VirtopsError("image '%s' is in use by the running guest '%s'; stop it before editing the image offline."
                           % (image, guest))


def domains_using(conn, path):
    """``{guest name: declared format}`` of every defined guest, running or not, that has ``path`` as a disk."""
    found = {}
    wanted = os.path.realpath(path)
    for dom in conn.listAllDomains(0):
        flags = [0] + ([libvirt.VIR_DOMAIN_XML_INACTIVE] if dom.isPersistent() and dom.isActive() else [])
        for domain in (Domain.from_xml(dom.XMLDesc(flag)) for flag in flags):
            for disk in domain.disks:
                if disk.source_path and os.path.realpath(disk.source_path) == wanted:
                    found[dom.name()] = disk.driver_type or 'raw'
    return found


def format_in_header(path):
    """What the image's own first bytes claim: for images no guest has written (a user's base image)."""
    with open(path, 'rb') as handle:
        return 'qcow2' if handle.read(4) == b'QFI\xfb' else 'raw'


def first_line(err):
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__).rstrip('.')


class GuestImage:
    """One libguestfs handle on one disk image, its root file system found and mounted."""

    def __init__(self, path, image_format, readonly, tcg, log=None, stall_seconds=appliance_watch.STALL_SECONDS):
        self.path = path
        self.image_format = image_format
        self.readonly = readonly
        self.tcg = tcg
        self.log = log or (lambda _msg: None)
        self.g = None  # every call through it is watched (appliance_watch): a stuck appliance is stopped
        self._raw = None
        self._watchdog = appliance_watch.ApplianceWatchdog(path, stall_seconds=stall_seconds, log=self.log)
        self.root = None
        self.os_info = {}
        self.launch_seconds = None
        self._mounts = []
        self._writable = False

    def __enter__(self):
        if not HAS_GUESTFS:
            raise VirtopsError(MISSING_GUESTFS)
        if not os.path.isfile(self.path):
            raise VirtopsError("image '%s' does not exist on the host." % self.path)
        started = time.time()
        self._raw = guestfs.GuestFS(python_return_dict=True)
        self._watchdog.start()
        g = self.g = appliance_watch.WatchedHandle(self._raw, self._watchdog)
        try:
            g.set_backend('direct')
            if self.tcg:
                g.set_backend_settings(['force_tcg'])
            g.add_drive_opts(self.path, format=self.image_format, readonly=1 if self.readonly else 0)
            self.log('libguestfs: starting the appliance for %s (%s)' % (self.path, 'TCG' if self.tcg else 'KVM'))
            g.launch()
            self._watchdog.pid = self._appliance_pid()
        except RuntimeError as err:
            self.close()
            raise VirtopsError("libguestfs could not open image '%s': %s." % (self.path, first_line(err)))
        except BaseException:
            self.close()
            raise
        self.launch_seconds = round(time.time() - started, 1)
        return self

    def _appliance_pid(self):
        try:
            return self._raw.get_pid()
        except RuntimeError:
            return None  # a backend without one: the watchdog keeps to this process's QEMU children

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def close(self):
        """Unmount and stop the appliance (watched too: a shutdown can stall), then release the handle."""
        if self._raw is not None and not self._watchdog.fired:
            try:
                self.g.umount_all()
                self.g.shutdown()
            except (RuntimeError, appliance_watch.ApplianceStalled):
                pass
        self._watchdog.stop()
        if self._raw is not None:
            self._raw.close()
        self._raw = self.g = None

    def _looks_like_root(self, device):
        g = self.g
        try:
            g.mount_ro(device, '/')
        except RuntimeError:
            return False
        try:
            return g.is_dir('/etc') and (g.is_file('/etc/os-release') or g.is_file('/usr/lib/os-release'))
        finally:
            g.umount_all()

    def _fstab_needs_inspection(self):
        # a root whose fstab mounts more than / (and /boot) needs inspect_os to place the rest
        try:
            lines = self.g.read_file('/etc/fstab').decode('utf-8', 'replace').splitlines()
        except RuntimeError:
            return False
        for line in lines:
            fields = line.split()
            if len(fields) < 3 or fields[0].startswith('#') or fields[2] in ('swap', 'proc', 'tmpfs', 'sysfs'):
                continue
            if fields[1] not in _OTHER_MOUNTS_IGNORED and not fields[1].startswith('/boot'):
                return True
        return False

    def mount_root(self, writable=False):
        """Mount the OS's file systems at / (read-only unless ``writable``); raise when there is no OS.

        inspect_os takes 15 s under TCG, so a single Linux root file system is looked for first
        and inspection is left for layouts that need it (several file systems, LVM)."""
        g = self.g
        self._writable = writable and not self.readonly
        candidates = [dev for dev, fstype in sorted(g.list_filesystems().items()) if fstype in LINUX_FILESYSTEMS]
        roots = [dev for dev in candidates if self._looks_like_root(dev)]
        mountpoints = None
        if len(roots) == 1:
            self._mount(roots[0], '/')
            if self._fstab_needs_inspection():
                g.umount_all()
                self._mounts = []
                mountpoints = self._inspect()
        elif g.list_filesystems():
            mountpoints = self._inspect()
        if not roots and mountpoints is None:
            raise VirtopsError("image '%s' holds no recognisable operating system (libguestfs found no root file "
                               "system)." % self.path)
        if mountpoints:
            for mountpoint, device in sorted(mountpoints.items(), key=lambda item: len(item[0])):
                try:
                    self._mount(device, mountpoint)
                except RuntimeError:
                    if mountpoint == '/':
                        raise
        if self.root is None:
            self.root = roots[0]
        self.os_info = self._describe_os()
        return self.root

    def _inspect(self):
        found = self.g.inspect_os()
        if not found:
            raise VirtopsError("image '%s' holds no recognisable operating system (libguestfs inspection found "
                               "none)." % self.path)
        if len(found) > 1:
            raise VirtopsError("image '%s' holds %d operating systems; disk_inject edits images with one."
                               % (self.path, len(found)))
        self.root = found[0]
        known = set(self.g.list_filesystems())
        points = dict((mp, dev) for mp, dev in self.g.inspect_get_mountpoints(self.root).items() if dev in known)
        points['/'] = self.root
        return points

    def _mount(self, device, mountpoint):
        if self._writable:
            self.g.mount(device, mountpoint)
        else:
            self.g.mount_ro(device, mountpoint)
        self._mounts.append((mountpoint, device))

    def remount_writable(self):
        """Mount what mount_root mounted again, writable (a read-only look leaves the image's bytes as they were)."""
        if self._writable:
            return
        if self.readonly:
            raise VirtopsError("image '%s' was opened read-only." % self.path)
        mounts, self._mounts = self._mounts, []
        self.g.umount_all()
        self._writable = True
        for mountpoint, device in mounts:
            self._mount(device, mountpoint)

    def _describe_os(self):
        info = dict(root=self.root)
        try:
            text = self.g.read_file('/etc/os-release').decode('utf-8', 'replace')
        except RuntimeError:
            return info
        for line in text.splitlines():
            key, sep, value = line.partition('=')
            if sep and key in ('ID', 'VERSION_ID', 'PRETTY_NAME'):
                info[key.lower()] = value.strip().strip('"')
        return info
