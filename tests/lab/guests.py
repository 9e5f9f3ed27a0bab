"""Lab guests (test infrastructure, not the collection's modules): raw domain XML for
TCG guests booted from the lab images, and a handle to wait on their serial log and
talk to their guest agent.

Every lab guest is named `lab-*`. Its boot files (and its disk overlay) are copied
into /var/lib/virtops-lab/shared, which QEMU (user libvirt-qemu) can reach on every
lab host, so a guest can migrate between hosts. Its serial log is written by virtlogd
to /var/lib/virtops-lab/shared/logs/<name>.serial.log.
"""
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from lab.proc import SHARED_DIR, LabError, run, say

LOG_DIR = os.path.join(SHARED_DIR, 'logs')
BOOT_DIR = os.path.join(SHARED_DIR, 'boot')
DISK_DIR = os.path.join(SHARED_DIR, 'disks')
PREFIX = 'lab-'
AGENT_CHANNEL = 'org.qemu.guest_agent.0'


_QUIET = []


def _libvirt():
    import libvirt          # imported late: `python -m lab.cli` need not run inside the venv
    if not _QUIET:
        # errors still raise libvirtError; this only stops libvirt printing each one on stderr
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        _QUIET.append(True)
    return libvirt


@dataclass
class LabGuest:
    name: str
    uuid: str
    uri: str
    serial_log: str
    conn: object = field(default=None, repr=False)
    marker: str = ''

    def serial_text(self):
        try:
            with open(self.serial_log, errors='replace') as fh:
                return fh.read()
        except FileNotFoundError:
            return ''

    def domain(self, conn=None):
        return (conn or self.conn).lookupByName(self.name)

    def wait_for_serial(self, text, timeout=60, conn=None):
        """Wait until `text` shows up in the serial log; return the seconds it took.
        Fails early (with the log's tail) when the guest stops running."""
        start = time.monotonic()
        conn = conn or self.conn
        while True:
            if text in self.serial_text():
                return time.monotonic() - start
            if conn is not None:
                state = self.domain(conn).state()[0]
                if state != _libvirt().VIR_DOMAIN_RUNNING:
                    raise AssertionError('guest %s stopped (state %d) before printing %r; serial log ends:\n%s'
                                         % (self.name, state, text, self.serial_tail()))
            if time.monotonic() - start > timeout:
                raise AssertionError('guest %s did not print %r on its serial log within %ss; it ends:\n%s'
                                     % (self.name, text, timeout, self.serial_tail()))
            time.sleep(0.25)

    def serial_tail(self, lines=25):
        return '\n'.join(self.serial_text().splitlines()[-lines:])

    def agent(self, command, arguments=None, timeout=10, conn=None):
        """Run a guest-agent command through libvirt; returns its parsed 'return' value."""
        import libvirt_qemu
        payload = {'execute': command}
        if arguments is not None:
            payload['arguments'] = arguments
        out = libvirt_qemu.qemuAgentCommand(self.domain(conn), json.dumps(payload), timeout, 0)
        return json.loads(out).get('return')

    def wait_for_agent(self, timeout=120, conn=None):
        """Poll guest-ping until the agent answers; return the seconds it took."""
        libvirt = _libvirt()
        start, last = time.monotonic(), None
        while time.monotonic() - start < timeout:
            try:
                self.agent('guest-ping', timeout=5, conn=conn)
                return time.monotonic() - start
            except libvirt.libvirtError as exc:
                last = exc
            time.sleep(1)
        raise AssertionError('guest agent of %s did not answer guest-ping within %ss (last error: %s); '
                             'serial log ends:\n%s' % (self.name, timeout, last, self.serial_tail()))


# ---------------------------------------------------------------- files

def _copy(src, dst):
    """A fresh world-readable copy (a new inode: no owner or xattr left by libvirt's
    relabelling in an earlier run)."""
    tmp = dst + '.tmp'
    run(['cp', '--sparse=always', '--reflink=auto', '--preserve=timestamps', src, tmp])
    os.chmod(tmp, 0o644)
    os.replace(tmp, dst)
    return dst


def stage_boot_files(image, guest_name):
    """Copy the image's kernel and initrd into shared/boot/<guest>/ (world-readable,
    one copy per guest, so libvirt's relabelling of one guest never touches another's)."""
    for d in (SHARED_DIR, BOOT_DIR):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    dest = os.path.join(BOOT_DIR, guest_name)
    os.makedirs(dest, mode=0o755, exist_ok=True)
    kernel = _copy(image.kernel, os.path.join(dest, 'vmlinuz'))
    initrd = _copy(image.initrd, os.path.join(dest, 'initrd.img')) if image.initrd else None
    return kernel, initrd


def readable_boot_files(image, directory, prefix=''):
    """World-readable copies of the image's kernel and initramfs in `directory` (made if missing), as a dict with
    the guest module's option names: boot files that every lab host's QEMU can read, whichever user it runs as."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    return {key: _copy(getattr(image, key), os.path.join(directory, prefix + os.path.basename(getattr(image, key))))
            for key in ('kernel', 'initrd')}


def blank_image(path, size='16M'):
    """An empty world-readable qcow2 at `path`, a base image for guests' root overlays."""
    run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, size])
    os.chmod(path, 0o644)
    return path


def make_overlay(image, guest_name, log=say):
    """A fresh qcow2 overlay (shared/disks/<guest>.qcow2) on a shared copy of the image's disk."""
    if not image.disk:
        raise LabError('image %s has no disk' % image.name)
    for d in (DISK_DIR, os.path.join(DISK_DIR, 'base')):
        os.makedirs(d, mode=0o755, exist_ok=True)
        os.chmod(d, 0o755)
    base = os.path.join(DISK_DIR, 'base', '%s-%s.qcow2' % (image.name, image.recipe_hash[:12]))
    if not os.path.exists(base):
        log('sharing %s as %s (readable by QEMU on every lab host)' % (image.disk, base))
        try:
            os.link(image.disk, base)       # same file system: no copy
            os.chmod(base, 0o644)
        except OSError:
            _copy(image.disk, base)
    overlay = os.path.join(DISK_DIR, guest_name + '.qcow2')
    if os.path.exists(overlay):
        os.unlink(overlay)
    run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay])
    return overlay


def serial_log_path(guest_name, fresh=True):
    os.makedirs(LOG_DIR, mode=0o755, exist_ok=True)
    path = os.path.join(LOG_DIR, guest_name + '.serial.log')
    if fresh and os.path.exists(path):
        os.unlink(path)
    return path


# ---------------------------------------------------------------- domain XML

def domain_xml(name, kernel, initrd, cmdline, serial_log, memory_mib=256, vcpus=1, disk=None, agent=True):
    """A TCG (type='qemu') guest with direct kernel boot, a pty serial console logged to
    `serial_log`, and the qemu-ga virtio channel."""
    devices = ["<serial type='pty'><log file='%s' append='on'/><target port='0'/></serial>" % escape(serial_log),
               "<console type='pty'><target type='serial' port='0'/></console>"]
    if disk:
        devices.insert(0, "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
                          "<source file='%s'/><target dev='vda' bus='virtio'/></disk>" % escape(disk))
    if agent:
        devices.append("<channel type='unix'><target type='virtio' name='%s'/></channel>" % AGENT_CHANNEL)
    boot = '<kernel>%s</kernel>' % escape(kernel)
    if initrd:
        boot += '<initrd>%s</initrd>' % escape(initrd)
    if cmdline:
        boot += '<cmdline>%s</cmdline>' % escape(cmdline)
    return """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>%d</memory>
  <vcpu>%d</vcpu>
  <os><type arch='x86_64'>hvm</type>%s</os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    %s
    <memballoon model='none'/>
  </devices>
</domain>
""" % (escape(name), memory_mib, vcpus, boot, '\n    '.join(devices))


# ---------------------------------------------------------------- lifecycle

def remove_guest(conn, name, log=say):
    """Destroy and undefine domain `name` if it exists; True when there was one."""
    libvirt = _libvirt()
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise
    log('removing lab guest %s' % name)
    flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
             | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    try:
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefineFlags(flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:     # gone meanwhile: fine
            raise LabError('cannot remove lab guest %s: %s' % (name, exc)) from None
    return True


def clean_stale(conn, prefix=PREFIX, log=say):
    """Remove every `lab-*` domain (leftovers of a crashed run); returns their names."""
    _libvirt()
    names = [d.name() for d in conn.listAllDomains(0) if d.name().startswith(prefix)]
    for name in names:
        log('cleaning stale lab guest %s from %s' % (name, conn.getURI()))
        remove_guest(conn, name, log=log)
    return names


def start_guest(conn, name, image, memory_mib=256, vcpus=1, disk=None, agent=True, log=say):
    """Define and start lab guest `name` booted from `image` (any leftover of that name is removed)."""
    if not name.startswith(PREFIX):
        raise LabError('lab guests are named %s*, not %r' % (PREFIX, name))
    remove_guest(conn, name, log=log)
    kernel, initrd = stage_boot_files(image, name)
    serial_log = serial_log_path(name)
    xml = domain_xml(name, kernel, initrd, image.cmdline, serial_log, memory_mib, vcpus, disk, agent)
    log('defining and starting lab guest %s (TCG, %d MiB, serial log %s)' % (name, memory_mib, serial_log))
    dom = conn.defineXML(xml)
    try:
        dom.create()
    except Exception:
        dom.undefine()
        raise
    return LabGuest(name=name, uuid=dom.UUIDString(), uri=conn.getURI(), serial_log=serial_log, conn=conn,
                    marker=getattr(image, 'marker', '') or '')


def remove_pool(conn, name, delete_volumes=False):
    """Stop and undefine the storage pool `name` if it exists, deleting its volumes first when asked."""
    libvirt = _libvirt()
    try:
        pool = conn.storagePoolLookupByName(name)
        if pool.isActive():
            for vol in pool.listAllVolumes(0) if delete_volumes else ():
                vol.delete(0)
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass


def remove_guest_files(name):
    for path in (os.path.join(BOOT_DIR, name), os.path.join(DISK_DIR, name + '.qcow2')):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.unlink(path)


def image_with_marker(directory, marker, sector=100, size='32M'):
    """A qcow2 image in `directory` (made once) whose `sector` holds `marker`: a root disk whose origin a test can
    read back from inside a guest."""
    import subprocess
    path = os.path.join(directory, marker + '.qcow2')
    if not os.path.exists(path):
        raw = path + '.raw'
        subprocess.run(['truncate', '-s', size, raw], check=True)
        with open(raw, 'r+b') as handle:
            handle.seek(sector * 512)
            handle.write(marker.encode())
        subprocess.run(['qemu-img', 'convert', '-O', 'qcow2', raw, path], check=True)
        os.unlink(raw)
    return path
