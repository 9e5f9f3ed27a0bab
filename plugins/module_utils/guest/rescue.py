# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rescue: boot a guest from a rescue image with its own root disk attached as a second disk.

The guest keeps its identity (name, UUID, MACs, attached volumes): only its disks are
rearranged, in the same definition. The definition it had before is kept in the collection's
metadata of the rescue definition, without its VNC/SPICE passwords: metadata is readable
over read-only connections (``guest_info``, the inventory plugin), passwords are not. The
passwords stay where libvirt keeps them, on the graphics devices of the rescue definition
(which are the guest's own, unchanged), and unrescue carries them from there back into the
definition it restores, so it puts back exactly what was there; the rescue overlay (a
copy-on-write disk over ``rescue_image``) is removed.
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.define import define_domain
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Disk
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain


def definition(dom):
    """The persistent definition, VNC/SPICE passwords included (so that a redefinition keeps them)."""
    return Domain.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE))


def without_passwords(domain):
    """A copy of ``domain`` whose graphics devices carry no password."""
    copy = Domain.from_xml(domain.to_xml())
    for graphics in copy.graphics:
        graphics.passwd = None
    return copy


def carry_passwords(source, target):
    """Give each graphics device of ``target`` the password of the device of the same type and rank in ``source``."""
    by_type = {}
    for graphics in source.graphics:
        by_type.setdefault(graphics.type, []).append(graphics.passwd)
    for graphics in target.graphics:
        found = by_type.get(graphics.type) or [None]
        graphics.passwd = found.pop(0)


def is_rescued(domain):
    return bool(domain.get_app_metadata().get('rescued'))


def _free_target(domain, prefix='vd'):
    used = set(disk.target_dev for disk in domain.disks)
    for letter in 'bcdefghijklmnopqrstuvwxyz':
        if prefix + letter not in used:
            return prefix + letter
    raise VirtopsError("guest '%s': no free disk target for its root disk during rescue." % domain.name)


def rescue(converger, dom):
    """Rebuild the definition around the rescue disk and boot it (the caller has checked the options)."""
    where, params = converger.where(), converger.params
    original = definition(dom)
    if is_rescued(original):
        return False
    if not params.get('rescue_image'):
        raise VirtopsError('%s: state rescued needs rescue_image.' % where)
    root = original.find_disk(guest_spec.ROOT_TARGET)
    if root is None:
        raise VirtopsError('%s has no root disk %s to rescue.' % (where, guest_spec.ROOT_TARGET))
    image_format, image_bytes = instance_storage.describe_image(converger.conn, params['rescue_image'], converger.name)
    converger.tracker.add('rescued', False, True)
    if converger.check:
        return True
    metadata = original.get_app_metadata()
    pool = instance_storage.ensure_pool(converger.conn, metadata.get('storage_pool') or params['storage_pool'])
    instance_storage.delete_volume(pool, instance_storage.rescue_volume_name(converger.name))
    rescue_path = instance_storage.create_root_overlay(pool, converger.name, params['rescue_image'], image_format,
                                                       image_bytes, name=instance_storage.rescue_volume_name(converger.name))
    rescued = definition(dom)
    moved = rescued.find_disk(guest_spec.ROOT_TARGET)
    moved.target_dev = _free_target(rescued)
    moved.boot_order = None
    disk = Disk()
    disk.type = 'file'
    disk.device = 'disk'
    disk.driver_name = 'qemu'
    disk.driver_type = 'qcow2'
    disk.source_file = rescue_path
    disk.target_dev = guest_spec.ROOT_TARGET
    disk.target_bus = 'virtio'
    # the firmware must boot the rescue disk, whatever PCI slot it lands in
    rescued.boot_devices = []
    for other in rescued.disks:
        other.boot_order = None
    disk.boot_order = 1
    rescued.add_device(disk)
    metadata.update(rescued=True, unrescued_definition=without_passwords(original).to_xml(), rescue_volume=rescue_path)
    rescued.set_app_metadata(metadata)
    was_active = dom.isActive()
    if was_active:
        converger.stop(dom)
    try:
        define_domain(converger.conn, rescued.to_xml())
    except libvirt.libvirtError as err:
        instance_storage.delete_volume(pool, instance_storage.rescue_volume_name(converger.name))
        if was_active:
            dom.create()
        raise VirtopsError(describe_libvirt_error(err, where='%s: libvirt refused the rescue definition' % where))
    converger.actions.append('rescue: booting %s with the root disk as %s' % (params['rescue_image'], moved.target_dev))
    dom.create()
    return True


def unrescue(converger, dom):
    """Put back the definition the guest had before its rescue; the caller then sets the power state."""
    current = definition(dom)
    if not is_rescued(current):
        return False
    converger.tracker.add('rescued', True, False)
    if converger.check:
        return True
    metadata = current.get_app_metadata()
    restored = Domain.from_xml(metadata['unrescued_definition'])
    carry_passwords(current, restored)
    if dom.isActive():
        converger.stop(dom)
    define_domain(converger.conn, restored.to_xml())
    pool = converger.conn.storagePoolLookupByName(metadata.get('storage_pool') or instance_storage.DEFAULT_POOL)
    instance_storage.delete_volume(pool, instance_storage.rescue_volume_name(converger.name))
    converger.actions.append('unrescued: the original definition is back')
    return True
