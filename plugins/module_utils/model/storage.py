# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed views of libvirt storage pools (``<pool>``) and volumes (``<volume>``).

Sizes are read and written in bytes, libvirt's default unit for storage.
"""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Attr, PathAttr, Size, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import AttrList

_PERMISSIONS_ORDER = ('mode', 'owner', 'group', 'label')


class StoragePool(XmlObject):
    TAG = 'pool'
    ORDER = {
        '': ('name', 'uuid', 'capacity', 'allocation', 'available', 'source', 'target'),
        'source': ('host', 'device', 'dir', 'adapter', 'name', 'format', 'auth', 'vendor', 'product'),
        'target': ('path', 'permissions'),
        'target/permissions': _PERMISSIONS_ORDER,
    }

    type = Attr('type')
    name = Text('name')
    uuid = Text('uuid')
    capacity_bytes = Size('capacity', 'bytes')
    allocation_bytes = Size('allocation', 'bytes')
    available_bytes = Size('available', 'bytes')
    source_host = PathAttr('source/host', 'name')
    source_port = PathAttr('source/host', 'port', int)
    source_dir = PathAttr('source/dir', 'path')
    source_devices = AttrList('source/device', 'path')
    source_name = Text('source/name')
    source_format = PathAttr('source/format', 'type')
    target_path = Text('target/path')
    permissions_mode = Text('target/permissions/mode')
    permissions_owner = Text('target/permissions/owner', int)
    permissions_group = Text('target/permissions/group', int)


class StorageVolume(XmlObject):
    TAG = 'volume'
    ORDER = {
        '': ('name', 'key', 'source', 'capacity', 'allocation', 'physical', 'target', 'backingStore'),
        'target': ('path', 'format', 'permissions', 'timestamps', 'encryption', 'compat', 'clusterSize', 'nocow',
                   'features'),
        'target/permissions': _PERMISSIONS_ORDER,
        'backingStore': ('path', 'format', 'permissions'),
    }

    type = Attr('type')
    name = Text('name')
    key = Text('key')
    capacity_bytes = Size('capacity', 'bytes')
    allocation_bytes = Size('allocation', 'bytes')
    physical_bytes = Size('physical', 'bytes')
    target_path = Text('target/path')
    target_format = PathAttr('target/format', 'type')
    target_compat = Text('target/compat')
    permissions_mode = Text('target/permissions/mode')
    permissions_owner = Text('target/permissions/owner', int)
    permissions_group = Text('target/permissions/group', int)
    backing_path = Text('backingStore/path')
    backing_format = PathAttr('backingStore/format', 'type')
