# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rebuild: a guest's root disk made afresh from another image, everything else kept.

The definition is untouched apart from the image recorded in the collection's metadata:
name, UUID, MACs, attached volumes and the config drive stay as they are, because the new
root overlay takes the old one's place under the same volume name. The guest comes back
in the power state it had.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.virtops.compute.plugins.module_utils import instance_storage, states
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import own_root_disk, require_domain
from ansible_collections.virtops.compute.plugins.module_utils.guest_rescue import definition, is_rescued


def rebuild(vm, stop):
    """``stop(dom)`` shuts the guest down (cleanly, then hard); returns the action's result."""
    params = vm.params
    where = "guest '%s'" % params['name']
    if not params.get('image'):
        raise VirtopsError('%s: rebuild needs an image.' % where)
    dom = require_domain(vm.conn, params['name'], 'be rebuilt')
    domain = definition(dom)
    if is_rescued(domain):
        raise VirtopsError('%s is rescued; bring it back (state running) before a rebuild.' % where)
    metadata = domain.get_app_metadata()
    root = own_root_disk(domain)
    if root is None:
        raise VirtopsError('%s has no root disk made by virtops.compute from an image, so there is nothing to rebuild.' % where)
    image_format, image_bytes = instance_storage.describe_image(vm.conn, params['image'], params['name'])
    power = states.describe(dom.state()[0], managed_save=bool(dom.hasManagedSaveImage(0)))['state']
    result = dict(changed=True, image=params['image'], previous_image=metadata.get('image'), power_state=power)
    if vm.check_mode:
        return result
    pool = vm.conn.storagePoolLookupByName(metadata.get('storage_pool') or instance_storage.DEFAULT_POOL)
    old = vm.conn.storageVolLookupByPath(root.source_file)
    size = max(image_bytes, instance_storage.volume_capacity(old))
    if dom.hasManagedSaveImage(0):
        dom.managedSaveRemove(0)        # a saved memory image belongs to the old disk
    if dom.isActive():
        stop(dom)
    old.delete(0)
    try:
        instance_storage.create_root_overlay(pool, params['name'], params['image'], image_format, size)
    except VirtopsError as err:
        raise VirtopsError('%s now has no root disk: %s' % (where, str(err).split(': ', 1)[-1])) from None
    metadata['image'] = params['image']
    domain.set_app_metadata(metadata)
    vm.conn.defineXML(domain.to_xml())
    if power in ('running', 'paused', 'suspended'):
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if power == 'paused' else 0)
    result['actions'] = ['stopped' if power != 'stopped' else 'was stopped', 'root disk recreated from %s' % params['image'],
                         'back to %s' % ('running' if power == 'suspended' else power)]
    return result
