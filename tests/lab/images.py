"""The lab's two guest images, built from Debian packages and cached outside the repo.

tiny: the Debian cloud kernel and a busybox initramfs with qemu-guest-agent; boots to
      a shell on ttyS0 in seconds under TCG.
full: Debian 12 made with mmdebstrap (systemd, cloud-init, qemu-guest-agent,
      openssh-server, cloud-guest-utils) on an ext4 root disk, booted directly
      (disk.qcow2); the same tree also on a GPT disk with an EFI system partition
      holding systemd-boot, the kernel and the initramfs (uefi-disk.qcow2), which
      firmware boots by itself, as an installed system.

An image lives in CACHE/<name>-<recipe hash>/ and is rebuilt only when its recipe
(this file, the files under image_recipes/, the package lists) changes. Outdated
builds are removed once no session has used them for STALE_DAYS: several
checkouts of the repository (branches with other recipes) share the cache.
"""
import glob
import gzip
import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from lab import cache

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPES = os.path.join(HERE, 'image_recipes')
CACHE = os.environ.get('VIRTOPS_LAB_CACHE', '/var/cache/virtops-lab/images')
MIRROR = '/etc/apt/sources.list.d/debian.sources'

HOST_TOOLS = {'mmdebstrap': 'mmdebstrap', 'busybox': 'busybox-static', 'qemu-img': 'qemu-utils',
              'cpio': 'cpio', 'mkfs.ext4': 'e2fsprogs', 'depmod': 'kmod'}
TINY_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio_rng', 'virtio_scsi',
                'sd_mod', 'sr_mod', 'ata_piix', 'ahci', 'isofs', 'vfat', 'nls_cp437', 'nls_ascii',
                'nls_iso8859_1', 'ext4', 'af_packet', 'button', 'evdev', 'virtio_balloon']
FULL_PACKAGES = ['systemd-sysv', 'udev', 'dbus', 'linux-image-cloud-amd64', 'cloud-init', 'qemu-guest-agent',
                 'openssh-server', 'cloud-guest-utils', 'ifupdown', 'isc-dhcp-client', 'e2fsprogs', 'sudo',
                 'iproute2', 'netbase', 'procps', 'ca-certificates', 'systemd-boot-efi']
FULL_DISK_SIZE = '2G'
ESP_MIB = 128                      # the EFI system partition: systemd-boot, a kernel and an initramfs
SYSTEMD_BOOT = 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'
STALE_DAYS = 2


@dataclass
class Image:
    name: str
    directory: str
    kernel: str
    initrd: str
    disk: str
    cmdline: str
    recipe_hash: str
    marker: str
    uefi_disk: str = None


SPECS = {
    'tiny': dict(cmdline='console=ttyS0 panic=-1', marker='virtops-tiny: boot complete', disk=None),
    'full': dict(cmdline='root=/dev/vda rw console=ttyS0 panic=-1', marker='virtops-full: boot complete',
                 disk='disk.qcow2', uefi_disk='uefi-disk.qcow2'),
}
# what the full image's boot loader gives the kernel: the root file system by its label (a partition there)
UEFI_CMDLINE = 'root=LABEL=root rw console=ttyS0 panic=-1'


def say(msg):
    print('[lab images] %s' % msg, flush=True)


def recipe_hash(name, recipes_dir=RECIPES):
    """A digest of what goes into one image: its builder's code, its recipe files, its lists."""
    digest = hashlib.sha256(name.encode())
    for function in RECIPE_CODE[name]:
        digest.update(inspect.getsource(function).encode())
    for path in sorted(glob.glob(os.path.join(recipes_dir, name + '-*'))):
        with open(path, 'rb') as handle:
            digest.update(os.path.basename(path).encode() + b'\0' + handle.read())
    digest.update(repr((RECIPE_DATA[name], SPECS[name])).encode())
    return digest.hexdigest()[:12]


def _image(name, directory, digest):
    spec = SPECS[name]
    return Image(name=name, directory=directory, kernel=os.path.join(directory, 'vmlinuz'),
                 initrd=os.path.join(directory, 'initrd.img'),
                 disk=os.path.join(directory, spec['disk']) if spec['disk'] else None,
                 cmdline=spec['cmdline'], recipe_hash=digest, marker=spec['marker'],
                 uefi_disk=os.path.join(directory, spec['uefi_disk']) if spec.get('uefi_disk') else None)


def _run(cmd, check=True, **kwargs):
    return subprocess.run(cmd, check=check, **kwargs)


def ensure_host_tools(log=say):
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None
                      and not os.path.exists('/sbin/' + tool)})
    if missing:
        log('installing build tools: %s' % ' '.join(missing))
        _run(['apt-get', 'update', '-q'], stdout=subprocess.DEVNULL)
        _run(['apt-get', 'install', '-y', '-q', '--no-install-recommends'] + missing,
             env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'), stdout=subprocess.DEVNULL)


def ensure_image(name, log=say):
    """The image ``name`` ('tiny' or 'full'), built first if its recipe changed."""
    if name not in SPECS:
        raise ValueError('unknown lab image %r (known: %s)' % (name, ', '.join(sorted(SPECS))))
    digest = recipe_hash(name)

    def build(work, log):
        BUILDERS[name](work, log)
        for path in glob.glob(os.path.join(work, '*')):
            os.chmod(path, 0o644)

    directory = cache.cached_build(CACHE, name, digest, build, log, before_build=ensure_host_tools,
                                   keep_old=_used_lately)
    _mark_used(directory)
    return _image(name, directory, digest)


def _mark_used(directory):
    with open(os.path.join(directory, '.last-used'), 'w'):
        pass


def _used_lately(old):
    """Why another build of an image stays: a checkout with another recipe used it within STALE_DAYS (removing it
    would only make that checkout build it again)."""
    stamp = os.path.join(old, '.last-used')
    last = os.path.getmtime(stamp) if os.path.exists(stamp) else os.path.getmtime(old)
    if time.time() - last <= STALE_DAYS * 86400:
        return 'a session used it within %d days' % STALE_DAYS
    return None


def _download(package, dest, log):
    log('fetching the Debian package %s' % package)
    result = subprocess.run(['apt-get', 'download', package], cwd=dest, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _run(['apt-get', 'update', '-q'], stdout=subprocess.DEVNULL)
        _run(['apt-get', 'download', package], cwd=dest, capture_output=True)
    return glob.glob(os.path.join(dest, package.split('=')[0] + '_*.deb'))[0]


def _kernel_package():
    out = _run(['apt-cache', 'depends', 'linux-image-cloud-amd64'], capture_output=True, text=True).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith('Depends: linux-image-'):
            return line.split()[1]
    raise RuntimeError('cannot find the kernel package behind linux-image-cloud-amd64')


def _extract(deb, dest):
    os.makedirs(dest, exist_ok=True)
    _run(['dpkg-deb', '-x', deb, dest])


def _module_files(kroot, version, modules):
    """The .ko files for ``modules`` and their dependencies, in load order."""
    _run(['depmod', '-b', kroot, version])
    ordered = []
    for module in modules:
        out = subprocess.run(['modprobe', '-d', kroot, '-S', version, '--show-depends', module],
                             capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith('insmod '):
                path = line.split()[1]
                if path not in ordered:
                    ordered.append(path)
    return ordered


def _copy_with_libs(binary, root):
    shutil.copy2(binary, os.path.join(root, 'usr/sbin', os.path.basename(binary)))
    out = _run(['ldd', binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        lib = parts[2] if '=>' in parts and len(parts) > 2 else (parts[0] if parts and parts[0].startswith('/') else None)
        if lib and os.path.exists(lib):
            target = os.path.join(root, lib.lstrip('/'))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(lib, target)


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)


def recipe(name):
    with open(os.path.join(RECIPES, name)) as handle:
        return handle.read()


def _cpio_gz(root, dest):
    files = _run(['find', '.', '-print0'], cwd=root, capture_output=True).stdout
    archive = _run(['cpio', '--null', '-o', '-H', 'newc', '--quiet'], cwd=root, input=files, capture_output=True).stdout
    with gzip.open(dest, 'wb', compresslevel=6) as handle:
        handle.write(archive)


def build_tiny(work, log):
    debs = os.path.join(work, 'debs')
    os.makedirs(debs)
    kroot = os.path.join(work, 'kernel')
    _extract(_download(_kernel_package(), debs, log), kroot)
    qga = os.path.join(work, 'qga')
    _extract(_download('qemu-guest-agent', debs, log), qga)
    version = os.listdir(os.path.join(kroot, 'lib/modules'))[0]
    shutil.copy2(glob.glob(os.path.join(kroot, 'boot/vmlinuz-*'))[0], os.path.join(work, 'vmlinuz'))

    log('tiny: assembling the initramfs (busybox, kernel %s modules, qemu-ga)' % version)
    root = os.path.join(work, 'root')
    for sub in ('bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/acpi', 'proc', 'sys', 'dev', 'run', 'tmp', 'root',
                'lib/modules', 'mnt/config', 'var/log'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    os.symlink('../run', os.path.join(root, 'var/run'))
    os.symlink('busybox', os.path.join(root, 'bin/sh'))
    shutil.copy2(shutil.which('busybox') or '/bin/busybox', os.path.join(root, 'bin/busybox'))
    order = []
    for path in _module_files(kroot, version, TINY_MODULES):
        shutil.copy2(path, os.path.join(root, 'lib/modules', os.path.basename(path)))
        order.append(os.path.basename(path))
    _write(os.path.join(root, 'etc/modules.order'), '\n'.join(order) + '\n')
    _copy_with_libs(os.path.join(qga, 'usr/sbin/qemu-ga'), root)
    _write(os.path.join(root, 'init'), recipe('tiny-init.sh'), 0o755)
    _write(os.path.join(root, 'etc/udhcpc.script'), recipe('tiny-udhcpc.script'), 0o755)
    _write(os.path.join(root, 'sbin/shutdown'), recipe('tiny-shutdown.sh'), 0o755)
    _write(os.path.join(root, 'usr/sbin/chpasswd'), recipe('tiny-chpasswd.sh'), 0o755)
    _write(os.path.join(root, 'etc/acpi/power-button.sh'), recipe('tiny-power-button.sh'), 0o755)
    _write(os.path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
    _write(os.path.join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', 0o600)
    _write(os.path.join(root, 'etc/group'), 'root:x:0:\n')
    _cpio_gz(root, os.path.join(work, 'initrd.img'))
    for sub in ('debs', 'kernel', 'qga', 'root'):
        shutil.rmtree(os.path.join(work, sub))


def build_full(work, log):
    rootfs = os.path.join(work, 'rootfs')
    log('full: mmdebstrap Debian 12 with %s (a few minutes)' % ', '.join(FULL_PACKAGES))
    _run(['mmdebstrap', '--variant=apt', '--include=' + ','.join(FULL_PACKAGES),
          '--customize-hook=sh %s "$1"' % os.path.join(RECIPES, 'full-customize.sh'),
          'bookworm', rootfs, MIRROR])
    shutil.copy2(sorted(glob.glob(os.path.join(rootfs, 'boot/vmlinuz-*')))[-1], os.path.join(work, 'vmlinuz'))
    shutil.copy2(sorted(glob.glob(os.path.join(rootfs, 'boot/initrd.img-*')))[-1], os.path.join(work, 'initrd.img'))
    raw = os.path.join(work, 'disk.raw')
    log('full: making the ext4 root disk (%s) from the tree' % FULL_DISK_SIZE)
    _run(['truncate', '-s', FULL_DISK_SIZE, raw])
    _run(['mkfs.ext4', '-q', '-F', '-L', 'root', '-d', rootfs, raw])
    _run(['qemu-img', 'convert', '-O', 'qcow2', raw, os.path.join(work, 'disk.qcow2')])
    log('full: making the UEFI disk (GPT: EFI system partition with systemd-boot, the same root file system)')
    _uefi_disk(work, rootfs, raw, os.path.join(work, 'uefi-disk.qcow2'))
    os.unlink(raw)
    shutil.rmtree(rootfs)


def _esp(work, rootfs, path):
    """A FAT EFI system partition image: systemd-boot at the removable-media path (no NVRAM entry needed), the
    image's kernel and initramfs, and one loader entry with the console on the serial port."""
    _run(['mkfs.vfat', '-C', '-n', 'ESP', path, str(ESP_MIB * 1024)], stdout=subprocess.DEVNULL)
    _run(['mmd', '-i', path, '::/EFI', '::/EFI/BOOT', '::/loader', '::/loader/entries'])
    files = {
        '::/EFI/BOOT/BOOTX64.EFI': os.path.join(rootfs, SYSTEMD_BOOT),
        '::/vmlinuz': sorted(glob.glob(os.path.join(rootfs, 'boot/vmlinuz-*')))[-1],
        '::/initrd.img': sorted(glob.glob(os.path.join(rootfs, 'boot/initrd.img-*')))[-1],
    }
    texts = {'::/loader/loader.conf': 'default virtops.conf\ntimeout 0\n',
             '::/loader/entries/virtops.conf': 'title Debian 12 (virtops lab)\nlinux /vmlinuz\ninitrd /initrd.img\n'
                                               'options %s\n' % UEFI_CMDLINE}
    staging = tempfile.mkdtemp(dir=work)
    for dest, text in texts.items():
        source = os.path.join(staging, os.path.basename(dest[3:]))
        _write(source, text)
        files[dest] = source
    for dest, source in files.items():
        _run(['mcopy', '-i', path, source, dest])
    shutil.rmtree(staging)


def _uefi_disk(work, rootfs, root_raw, dest):
    """A GPT disk as an installer leaves it: partition 1 the EFI system partition, partition 2 the root file
    system (the raw ext4 image ``root_raw``), converted to qcow2 at ``dest``."""
    esp = os.path.join(work, 'esp.img')
    _esp(work, rootfs, esp)
    esp_start, root_start = 2048, 2048 + ESP_MIB * 2048          # in 512-byte sectors
    root_bytes = os.path.getsize(root_raw)
    disk = os.path.join(work, 'uefi-disk.raw')
    # the partitions, and 1 MiB at the end for the backup GPT
    _run(['truncate', '-s', str(root_start * 512 + root_bytes + 1024 * 1024), disk])
    table = ('label: gpt\n'
             'start=%d, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\n'
             'start=%d, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"\n'
             % (esp_start, ESP_MIB * 2048, root_start, root_bytes // 512))
    _run(['sfdisk', '-q', disk], input=table.encode())
    for image, start in ((esp, esp_start), (root_raw, root_start)):
        # both start on a MiB boundary (2048 sectors)
        _run(['dd', 'if=' + image, 'of=' + disk, 'bs=1M', 'seek=%d' % (start // 2048), 'conv=notrunc,sparse',
              'status=none'], timeout=600)
    _run(['qemu-img', 'convert', '-O', 'qcow2', disk, dest], timeout=900)
    for path in (esp, disk):
        os.unlink(path)


BUILDERS = {'tiny': build_tiny, 'full': build_full}
RECIPE_CODE = {'tiny': (build_tiny, _module_files, _copy_with_libs, _cpio_gz, _write),
               'full': (build_full, _esp, _uefi_disk)}
RECIPE_DATA = {'tiny': TINY_MODULES, 'full': (FULL_PACKAGES, FULL_DISK_SIZE, MIRROR, ESP_MIB, SYSTEMD_BOOT, UEFI_CMDLINE)}


def main(argv):
    if len(argv) != 2 or argv[0] not in ('build', 'path') or argv[1] not in ('tiny', 'full', 'all'):
        print('usage: python -m lab.images build|path tiny|full|all', file=sys.stderr)
        return 2
    names = ['tiny', 'full'] if argv[1] == 'all' else [argv[1]]
    for name in names:
        if argv[0] == 'build':
            image = ensure_image(name)
            say('%s: ready at %s' % (name, image.directory))
        else:
            print(os.path.join(CACHE, '%s-%s' % (name, recipe_hash(name))))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
