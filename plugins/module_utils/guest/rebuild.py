# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rebuild: a guest's root disk made afresh from another image, everything else kept.

The definition is untouched apart from the image recorded in the collection's metadata:
name, UUID, MACs, attached volumes and the config drive stay as they are, because the new
root overlay takes the old one's place under the same volume name. The guest comes back
in the power state it had.

The new root overlay is made beside the old one first; the old one is replaced only once the
new one (and the regenerated config drive) exist, so a failure on the way leaves the guest as
it was.

A config drive is regenerated the way Nova does it, so that cloud-init on the new root disk
finds fresh instance data: the same uuid, name, hostname, keys and network data, a new
random seed, and new user data, admin password, files or meta when the action gives them.
"""


import os

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image as config_drive_image
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import pool as config_drive_pool
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import reader as config_drive_reader
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, is_local_uri, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.guest.rescue import definition, is_rescued
from ansible_collections.virtops.compute.plugins.module_utils.guest.spec import find_config_drive
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import own_root_disk, require_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.define import define_domain
from ansible_collections.virtops.compute.plugins.module_utils.storage import swap


class _Drive:
    """The guest's config drive file: read, and replaced whole while the guest is off."""

    def __init__(self, module, where, path):
        self.path = path
        self.where = "%s: its config drive '%s'" % (where, path)
        self.pool_target = None
        if not is_local_uri(module.params.get('uri')):
            # against a remote host the file is reachable only as a storage volume
            vol = lookup.find_volume_by_path(module.conn, path)
            if vol is None:
                raise VirtopsError('%s is in no storage pool, so it cannot be regenerated through a remote uri; run the '
                                   'action on the host itself.' % self.where)
            self.pool_target = config_drive_pool.PoolTarget(module.conn, vol.storagePoolLookupByVolume().name(), vol.name())
            self.pool_target.check()

    def read(self):
        if self.pool_target is not None:
            data = self.pool_target.current()
        else:
            data = config_drive_image.read_existing(self.path)
        if data is None:
            raise VirtopsError('%s cannot be read.' % self.where)
        return data

    def replace(self, data):
        if self.pool_target is not None:
            self.pool_target.write(data)
            return
        info = os.stat(self.path)
        config_drive_image.write_atomically(self.path, data, self.where, owner=(info.st_uid, info.st_gid))


def _plan_drive(module, where, domain):
    """(drive, new image bytes, result entry) for the guest's config drive, or None without one; changes nothing."""
    disk = find_config_drive(domain)
    if disk is None or not disk.source_file:
        overrides = [key for key in config_drive_reader.OVERRIDABLE if module.params.get(key) is not None]
        if overrides:
            raise VirtopsError('%s has no config drive to put %s on.' % (where, ', '.join(overrides)))
        return None
    drive = _Drive(module, where, disk.source_file)
    old = drive.read()
    try:
        spec, image_format = config_drive_reader.read_drive(old)
    except config_drive_reader.NotOurs as err:
        raise VirtopsError('%s was not made by virtops.compute config_drive (%s), so it cannot be regenerated.'
                           % (drive.where, err))
    old_files = config_drive_image.read(old)[0]
    _spec, new_files = config_drive_reader.regenerate(spec, module.params, drive.where)
    data = config_drive_image.build(new_files, image_format)
    entry = dict(path=disk.source_file, format=image_format,
                 changed_files=config_drive_reader.changed_paths(old_files, new_files))
    return drive, data, entry


def rebuild(module, stop):
    """``stop(dom)`` shuts the guest down (cleanly, then hard); returns the action's result."""
    params = module.params
    where = "guest '%s'" % params['name']
    dom = require_domain(module.conn, params['name'], 'be rebuilt')
    domain = definition(dom)
    if is_rescued(domain):
        raise VirtopsError('%s is rescued; bring it back (state running) before a rebuild.' % where)
    metadata = domain.get_app_metadata()
    root = own_root_disk(domain)
    if root is None:
        raise VirtopsError('%s has no root disk made by virtops.compute from an image, so there is nothing to rebuild.' % where)
    image_format, image_bytes = instance_storage.describe_image(module.conn, params['image'], params['name'])
    drive_plan = _plan_drive(module, where, domain)
    power = states.describe(dom.state()[0], managed_save=bool(dom.hasManagedSaveImage(0)))['state']
    result = dict(changed=True, image=params['image'], previous_image=metadata.get('image'), power_state=power)
    if drive_plan is not None:
        result['config_drive'] = drive_plan[2]
    if module.check_mode:
        return result
    pool = module.conn.storagePoolLookupByName(metadata.get('storage_pool') or instance_storage.DEFAULT_POOL)
    old = module.conn.storageVolLookupByPath(root.source_file)
    size = max(image_bytes, instance_storage.volume_capacity(old))
    if dom.hasManagedSaveImage(0):
        dom.managedSaveRemove(0)        # a saved memory image belongs to the old disk
    if dom.isActive():
        stop(dom)
    actions = ['stopped' if power != 'stopped' else 'was stopped']
    new_root = _new_root(module, dom, power, pool, image_format, size)
    if drive_plan is not None:
        try:
            _replace_drive(dom, power, drive_plan)
        except VirtopsError:
            swap.discard(new_root)
            raise
        actions.append('config drive regenerated (%d files changed)' % len(drive_plan[2]['changed_files']))
    # the old root disk goes only now, when the new one exists complete beside it
    swap.swap_in(pool, new_root, old.name(), lambda: module.conn.storageVolLookupByPath(
        instance_storage.create_root_overlay(pool, params['name'], params['image'], image_format, size)),
        is_local_uri(params.get('uri')))
    metadata['image'] = params['image']
    domain.set_app_metadata(metadata)
    define_domain(module.conn, domain.to_xml())
    _restart(dom, power)
    result['actions'] = actions + ['root disk recreated from %s' % params['image'],
                                   'back to %s' % ('running' if power == 'suspended' else power)]
    return result


def _restart(dom, power):
    if power in ('running', 'paused', 'suspended'):
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if power == 'paused' else 0)


def _new_root(module, dom, power, pool, image_format, size):
    """The new root overlay, made beside the old one; a failure leaves the guest as it was (back in its power state)."""
    params = module.params
    try:
        path = instance_storage.create_root_overlay(pool, params['name'], params['image'], image_format, size,
                                                    name=swap.temporary_name(instance_storage.root_volume_name(params['name'])))
    except VirtopsError as err:
        _restart(dom, power)
        raise VirtopsError("guest '%s': the new root disk could not be made (%s), so the rebuild stopped with the guest "
                           "as it was." % (params['name'], str(err).split(': ', 2)[-1].rstrip('.'))) from None
    return module.conn.storageVolLookupByPath(path)


def _replace_drive(dom, power, drive_plan):
    """Write the new drive before the old root disk goes, so a failure here leaves the guest as it was."""
    drive, data, _entry = drive_plan
    try:
        drive.replace(data)
    except (VirtopsError, libvirt.libvirtError) as err:
        text = describe_libvirt_error(err) if isinstance(err, libvirt.libvirtError) else str(err)
        _restart(dom, power)
        raise VirtopsError('%s; the rebuild stopped before the root disk was touched.' % text.rstrip('.')) from None
