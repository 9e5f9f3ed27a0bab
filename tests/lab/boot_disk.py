"""A bootable disk image made from the tiny lab image: a FAT file system holding its kernel and initramfs with
SYSLINUX as the boot loader, as qcow2. A guest launched from it with ``image:`` alone (no kernel options) boots
through SeaBIOS to the tiny system in seconds under TCG, which is what the documentation's examples of a base
image need (tests/e2e/test_docs_examples.py).

Made once per tiny-image recipe, under /var/lib/virtops-lab/shared/docs, world-readable (QEMU reads it as its
own user, on every lab host), without mounting anything (mtools writes into the image file).
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

from lab.proc import SHARED_DIR

DIRECTORY = os.path.join(SHARED_DIR, 'docs')
SYSLINUX_CFG = """DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  KERNEL vmlinuz
  APPEND initrd=initrd.img %s
"""
SIZE = '48M'
TOOLS = {'mkfs.vfat': 'dosfstools', 'syslinux': 'syslinux', 'mcopy': 'mtools'}


def _run(cmd, **kwargs):
    subprocess.run(cmd, check=True, capture_output=True, **kwargs)


def missing_tools():
    return sorted(package for tool, package in TOOLS.items()
                  if shutil.which(tool) is None and not os.path.exists('/sbin/' + tool))


def tiny_boot_disk(image):
    """The path of the bootable qcow2 for the tiny lab ``image`` (a lab.images.Image), made when missing."""
    missing = missing_tools()
    if missing:
        raise RuntimeError('the bootable tiny disk needs %s (scripts/debian-packages.txt; run scripts/setup.sh)'
                           % ', '.join(missing))
    os.makedirs(DIRECTORY, mode=0o755, exist_ok=True)
    os.chmod(DIRECTORY, 0o755)
    recipe = hashlib.sha256((SYSLINUX_CFG % image.cmdline + SIZE).encode()).hexdigest()[:8]
    path = os.path.join(DIRECTORY, 'tiny-boot-%s-%s.qcow2' % (image.recipe_hash, recipe))
    if os.path.exists(path):
        return path
    work = tempfile.mkdtemp(prefix='.tiny-boot-', dir=DIRECTORY)
    try:
        raw = os.path.join(work, 'disk.raw')
        config = os.path.join(work, 'syslinux.cfg')
        with open(config, 'w') as handle:
            handle.write(SYSLINUX_CFG % image.cmdline)
        _run(['truncate', '-s', SIZE, raw])
        _run(['mkfs.vfat', '-n', 'TINYBOOT', raw])
        _run(['syslinux', '--install', raw])
        _run(['mcopy', '-i', raw, image.kernel, image.initrd, config, '::/'])
        tmp = os.path.join(work, 'disk.qcow2')
        _run(['qemu-img', 'convert', '-O', 'qcow2', raw, tmp])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for old in os.listdir(DIRECTORY):
        if old.startswith('tiny-boot-') and os.path.join(DIRECTORY, old) != path:
            os.unlink(os.path.join(DIRECTORY, old))
    return path
