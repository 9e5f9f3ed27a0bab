# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cold move of a guest to another host (the cross-host half of a resize).

The guest is shut down, its root overlay copied byte for byte through libvirt's storage
streams (so the overlay keeps pointing at its base image, which must sit at the same path
on the destination: shared storage or the same image installed on both), its definition
made on the destination with the same UUID and MACs, and only then removed from the
source. Until that last step a failure removes what was made on the destination and the
guest is started again on the source if it was running, but only once the destination is
seen (over a fresh connection: the failure may have been the old one's) to hold no copy of it:
two running copies of one guest, with the same MACs and diverging disks, are worse than a
stopped one, so when the destination cannot be checked the guest is left stopped and the
message says so.
"""


import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.guest.rescue import definition, is_rescued
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import own_root_disk
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup, streams
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.define import define_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.live_devices import libvirt_reason
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB

_UNDEFINE = ('VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA')


def move(module, stop):
    params = module.params
    name = params['name']
    where = "guest '%s'" % name
    dest_conn = module.open_peer(params['dest_uri'])
    dom = lookup.find_domain(module.conn, name)
    moved = lookup.find_domain(dest_conn, name)
    if dom is None:
        if moved is not None:
            return dict(changed=False, dest_uri=params['dest_uri'], actions=['already on %s' % params['dest_uri']])
        raise VirtopsError("guest '%s' does not exist, so it cannot be moved." % name)
    if moved is not None:
        raise VirtopsError('%s exists on both hosts; remove one of them first.' % where)
    domain = definition(dom)
    if is_rescued(domain):
        raise VirtopsError('%s is rescued; bring it back (state running) before moving it.' % where)
    metadata = domain.get_app_metadata()
    root = own_root_disk(domain)
    if root is None:
        raise VirtopsError('%s has no root disk made by virtops.compute, so this module cannot move it.' % where)
    others = [disk.target_dev for disk in domain.disks if disk.target_dev != root.target_dev and disk.source_path
              and disk.target_dev not in guest_spec.CONFIG_DRIVE_TARGETS.values()]
    if others:
        raise VirtopsError('%s has attached disks (%s) a cold move does not copy; detach them first or use migrate '
                           'with copy_storage.' % (where, ', '.join(others)))
    power = states.describe(dom.state()[0], managed_save=bool(dom.hasManagedSaveImage(0)))['state']
    result = dict(changed=True, dest_uri=params['dest_uri'], power_state=power)
    if module.check_mode:
        return result
    started = time.monotonic()
    if dom.hasManagedSaveImage(0):
        dom.managedSaveRemove(0)
    if dom.isActive():
        stop(dom)
    src_vol = module.conn.storageVolLookupByPath(root.source_file)
    pool_name = metadata.get('storage_pool') or instance_storage.DEFAULT_POOL
    dest_pool = instance_storage.ensure_pool(dest_conn, pool_name)
    made = []
    try:
        source = StorageVolume.from_xml(src_vol.XMLDesc(0))
        wanted = StorageVolume()
        wanted.name = source.name
        wanted.capacity_bytes = source.capacity_bytes
        wanted.target_format = source.target_format
        if source.backing_path:
            wanted.backing_path = source.backing_path
            wanted.backing_format = source.backing_format
        dest_vol = dest_pool.createXML(wanted.to_xml(), 0)
        made.append(dest_vol)
        copied = streams.copy(module.conn, src_vol, dest_conn, dest_vol, module.log, what='move')
        dest_path = dest_vol.path()
        serial_log = '%s/%s' % (instance_storage.pool_path(dest_pool), instance_storage.serial_log_name(name))
        root.source_file = dest_path
        for serial in domain.serials:
            if serial.log_file:
                serial.log_file = serial_log
        metadata.update(root_volume=dest_path, serial_log=serial_log)
        domain.set_app_metadata(metadata)
        domain.nvram_path = None
        new_dom = define_domain(dest_conn, domain.to_xml())
        if power in ('running', 'paused', 'suspended'):
            new_dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if power == 'paused' else 0)
    except (libvirt.libvirtError, VirtopsError) as err:
        reason = libvirt_reason(err) if isinstance(err, libvirt.libvirtError) else str(err).rstrip('.')
        undo(module, dom, name, [vol.name() for vol in made], pool_name, power, where, reason)
    _forget_source(dom)
    src_pool = module.conn.storagePoolLookupByName(pool_name)
    for vol_name in (instance_storage.root_volume_name(name), instance_storage.serial_log_name(name)):
        instance_storage.delete_volume(src_pool, vol_name)
    result['actions'] = ['copied the root disk (%d MiB) to %s and started it there in %.1f s; removed it from this host'
                         % (copied // MIB, params['dest_uri'], time.monotonic() - started)]
    return result


def _forget_source(dom):
    flags = 0
    for flag in _UNDEFINE:
        flags |= getattr(libvirt, flag, 0)
    dom.undefineFlags(flags)


def _clear_destination(module, name, volume_names, pool_name):
    """Remove what the failed move made on the destination, over a fresh connection; True once the destination is
    seen to hold no copy of the guest, False when that cannot be known."""
    try:
        conn = module.open_peer(module.params['dest_uri'])
        leftover = lookup.find_domain(conn, name)
        if leftover is not None:
            if leftover.isActive():
                leftover.destroy()
            if leftover.isPersistent():
                leftover.undefine()
        pool = lookup.find_pool(conn, pool_name)
        for vol_name in volume_names:
            instance_storage.delete_volume(pool, vol_name)
        return lookup.find_domain(conn, name) is None
    except (libvirt.libvirtError, VirtopsError):
        return False


def undo(module, dom, name, volume_names, pool_name, power, where, reason):
    """After a failed move: clear the destination, and start the guest on the source again (in its power state)
    only when the destination is known to hold no copy of it. Always raises the sentence that says which."""
    dest = module.params['dest_uri']
    if not _clear_destination(module, name, volume_names, pool_name):
        raise VirtopsError('%s: the move to %s failed (%s), and whether a copy of the guest runs there could not be '
                           'checked, so the guest was left stopped on this host; look at %s before starting it here.'
                           % (where, dest, reason, dest))
    if power in ('running', 'paused', 'suspended'):
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if power == 'paused' else 0)
    raise VirtopsError('%s: the move to %s failed and was undone: %s.' % (where, dest, reason))
