# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Growing an offline image's root partition and file system to fill the (already larger) image.

The guest module's ``auto_disk_config`` does this after it enlarges a root disk, so the guest
needs no growpart of its own.  Everything but the file system's resize is safe to start again,
so an appliance that stalls before it is replaced once by a fresh one (``appliance_watch``).
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
from ansible_collections.virtops.compute.plugins.module_utils.disk_image.guestfs import (
    LINUX_FILESYSTEMS, GuestImage, first_line, kvm_usable)
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB


def _fs_bytes(g, device, fstype):
    if fstype.startswith('ext'):
        info = g.tune2fs_l(device)
        return int(info['Block count']) * int(info['Block size'])
    g.mount(device, '/')
    try:
        if fstype == 'xfs':
            info = g.xfs_info('/')
            return int(info['datablocks']) * int(info['blocksize'])
        stat = g.statvfs('/')
        return int(stat['blocks']) * int(stat['frsize'])
    finally:
        g.umount_all()


def _grow_partition(g, partition, log):
    """Move the partition's end to the end of its disk; False when it cannot be grown in place."""
    disk = g.part_to_dev(partition)
    number = g.part_to_partnum(partition)
    parts = sorted(g.part_list(disk), key=lambda part: part['part_start'])
    if parts[-1]['part_num'] != number:
        log('grow_root: %s is not the last partition of %s; left as it is' % (partition, disk))
        return False
    table = g.part_get_parttype(disk)
    if table == 'msdos' and number > 4:
        log('grow_root: %s is a logical partition; left as it is' % partition)
        return False
    sector = g.blockdev_getss(disk)
    total = g.blockdev_getsize64(disk) // sector
    if table == 'gpt':
        # the backup GPT sits at the old end of the disk until it is moved
        g.part_expand_gpt(disk)
        last = total - 2 - (16384 + sector - 1) // sector
    else:
        last = total - 1
    current_end = parts[-1]['part_end'] // sector
    if last - current_end < MIB // sector:
        return False
    log('grow_root: moving the end of %s from sector %d to %d' % (partition, current_end, last))
    g.part_resize(disk, number, last)
    return True


def _grow_filesystem(g, device, fstype, image_path):
    if fstype.startswith('ext'):
        g.e2fsck(device, correct=True)
    try:
        if fstype.startswith('ext'):
            g.resize2fs(device)
            return
        g.mount(device, '/')
        try:
            if fstype == 'xfs':
                g.xfs_growfs('/', datasec=True)
            else:
                g.btrfs_filesystem_resize('/')
        finally:
            g.umount_all()
    except appliance_watch.ApplianceStalled as err:
        # a resize cut off half-way is not one to start again blindly
        raise VirtopsError("%s The file system %s may be damaged by the interrupted resize: check it (e2fsck -f, "
                           "xfs_repair or btrfs check) before the guest boots from image '%s'."
                           % (str(err).rstrip('.') + '.', device, image_path))


def grow_root(image_path, image_format, log=None, tcg=None, conn=None):
    """Grow the root partition (when there is one) and its file system to fill the image (opened as
    ``image_format``, which the caller has checked with its backing chain), offline.

    ``tcg``: True/False forces libguestfs's choice, None decides (probing KVM through ``conn``
    once per host boot; without ``conn`` and no earlier probe, TCG).  Returns
    ``(old_bytes, new_bytes)`` of the file system, or None when there is nothing to grow.
    Raises VirtopsError (one sentence) when the image has no OS or libguestfs fails, or when a fresh appliance
    stalls too."""
    log = log or (lambda _msg: None)
    if tcg is None:
        tcg = not kvm_usable(conn, log)
    return appliance_watch.retry_once_on_stall(lambda: _grow_root(image_path, image_format, log, tcg), log)


def _grow_root(image_path, image_format, log, tcg):
    with GuestImage(image_path, image_format, readonly=False, tcg=tcg, log=log) as image:
        root = image.mount_root()
        g = image.g
        g.umount_all()
        fstype = g.vfs_type(root)
        if fstype not in LINUX_FILESYSTEMS:
            log('grow_root: %s is %s, which this function does not grow' % (root, fstype))
            return None
        if root.startswith('/dev/mapper/') or root.startswith('/dev/md'):
            log('grow_root: %s is on LVM or RAID; left as it is' % root)
            return None
        try:
            old_bytes = _fs_bytes(g, root, fstype)
            grown_partition = root not in g.list_devices() and _grow_partition(g, root, log)
            room = g.blockdev_getsize64(root) - old_bytes
            if not grown_partition and room < MIB:
                log('grow_root: %s already fills its space' % root)
                return None
            _grow_filesystem(g, root, fstype, image_path)
            new_bytes = _fs_bytes(g, root, fstype)
        except RuntimeError as err:
            raise VirtopsError("growing the root file system %s of image '%s' failed: %s."
                               % (root, image_path, first_line(err)))
        except (KeyError, ValueError):
            # the sizes come from the guest's own superblock, which it may have written as it liked
            raise VirtopsError("growing the root file system %s of image '%s' failed: libguestfs reports no usable "
                               "size for it (is its superblock damaged?)." % (root, image_path))
        log('grow_root: %s grew from %d to %d bytes' % (root, old_bytes, new_bytes))
        return (old_bytes, new_bytes) if new_bytes > old_bytes else None
