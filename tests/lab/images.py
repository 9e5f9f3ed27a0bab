"""The lab's two guest images, built from Debian packages and cached outside the repo.

tiny: the Debian cloud kernel and a busybox initramfs with qemu-guest-agent; boots to
      a shell on ttyS0 in seconds under TCG.
full: Debian 12 made with mmdebstrap (systemd, cloud-init, qemu-guest-agent,
      openssh-server, cloud-guest-utils) on an ext4 root disk, booted directly.

An image lives in CACHE/<name>-<recipe hash>/ and is rebuilt only when its recipe
(this file, the files under image_recipes/, the package lists) changes.
"""
import glob
import gzip
import hashlib
import inspect
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from lab.cache import cached_build

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
                 'iproute2', 'netbase', 'procps', 'ca-certificates']
FULL_DISK_SIZE = '2G'


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


SPECS = {
    'tiny': dict(cmdline='console=ttyS0 panic=-1', marker='virtops-tiny: boot complete', disk=None),
    'full': dict(cmdline='root=/dev/vda rw console=ttyS0 panic=-1', marker='virtops-full: boot complete',
                 disk='disk.qcow2'),
}


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
                 cmdline=spec['cmdline'], recipe_hash=digest, marker=spec['marker'])


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

    directory = cached_build(CACHE, name, digest, build, log, before_build=ensure_host_tools)
    return _image(name, directory, digest)


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
    os.unlink(raw)
    shutil.rmtree(rootfs)


BUILDERS = {'tiny': build_tiny, 'full': build_full}
RECIPE_CODE = {'tiny': (build_tiny, _module_files, _copy_with_libs, _cpio_gz, _write), 'full': (build_full,)}
RECIPE_DATA = {'tiny': TINY_MODULES, 'full': (FULL_PACKAGES, FULL_DISK_SIZE, MIRROR)}


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
