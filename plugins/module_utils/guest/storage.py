# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's own files: its copy-on-write root disk and its serial console log.

They live in one libvirt directory pool (``virtops-instances`` unless told
otherwise) and are made through libvirt's storage API, so that the module
works against a remote URI as well as on the host.  The base image is only
ever a backing file: nothing here writes to it.
"""


import os
import struct

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.model.units import GIB
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain

DEFAULT_POOL = 'virtops-instances'
DEFAULT_POOL_PATH = '/var/lib/libvirt/virtops/instances'
_QCOW2_MAGIC = b'QFI\xfb'


def root_volume_name(guest):
    return '%s-root.qcow2' % guest


def serial_log_name(guest):
    return '%s-console.log' % guest


def ensure_pool(conn, name=DEFAULT_POOL, path=DEFAULT_POOL_PATH, check_mode=False, where=None):
    """The instance pool, defined, built, started and autostarted when missing; None in check mode if absent.

    With ``where`` (the guest a user names the pool for), only the default pool is made on demand:
    another name given the default pool's directory would clash with it, and a misspelt name must
    not become a new pool."""
    pool = lookup.find_pool(conn, name)
    if pool is None:
        if where and name != DEFAULT_POOL and path == DEFAULT_POOL_PATH:
            raise VirtopsError("%sstorage_pool '%s' does not exist; create it with the storage_pool module first."
                               % (where + ': ', name)) from None
        if check_mode:
            return None
        model = StoragePool()
        model.type = 'dir'
        model.name = name
        model.target_path = path
        pool = _define_pool(conn, model)
    if not pool.isActive():
        if check_mode:
            return pool
        try:
            pool.create(0)
        except libvirt.libvirtError:
            # a concurrent run (another guest of a batch, another play) started it first
            if not pool.isActive():
                raise
    return pool


def _define_pool(conn, model):
    try:
        pool = conn.storagePoolDefineXML(model.to_xml(), 0)
    except libvirt.libvirtError as exc:
        # a concurrent run defined it between our lookup and our define: theirs is the same pool
        pool = lookup.find_pool(conn, model.name)
        if pool is None:
            raise exc from None
    try:
        pool.build(0)
    except libvirt.libvirtError:
        # built already (by that concurrent run); starting it below says so if the directory is unusable
        pass
    pool.setAutostart(1)
    return pool


def pool_path(pool):
    return StoragePool.from_xml(pool.XMLDesc(0)).target_path


def describe_image(conn, path, guest):
    """``(format, virtual size in bytes)`` of a base image, through libvirt when a pool holds it.

    A base image is the operator's choice, so its format is read from its header; what it reads in turn (a
    qcow2 image's own backing file) must be a volume of the host's pools (``storage/chain.py``)."""
    where = "guest '%s': image '%s'" % (guest, path)
    vol = lookup.find_volume_by_path(conn, path)
    if vol is not None:
        model = StorageVolume.from_xml(vol.XMLDesc(0))
        image_format, size = model.target_format or 'raw', model.capacity_bytes
    else:
        if not os.path.isfile(path):
            raise VirtopsError("guest '%s': image '%s' does not exist (or no storage pool on the host holds it)."
                               % (guest, path))
        with open(path, 'rb') as handle:
            header = handle.read(32)
        if header[:4] == _QCOW2_MAGIC:
            image_format, size = 'qcow2', struct.unpack('>Q', header[24:32])[0]
        else:
            image_format, size = 'raw', os.path.getsize(path)
    chain.check_backing_chain(conn, path, image_format, where, local=vol is None)
    return image_format, size


def volume_capacity(vol):
    return vol.info()[1]


def rescue_volume_name(guest):
    return '%s-rescue.qcow2' % guest


def create_root_overlay(pool, guest, image, image_format, size_bytes, name=None):
    """A qcow2 volume of ``size_bytes`` whose backing file is ``image`` (named after the guest's root disk
    unless ``name`` says otherwise); returns its path."""
    model = StorageVolume()
    model.name = name or root_volume_name(guest)
    model.capacity_bytes = size_bytes
    model.target_format = 'qcow2'
    model.backing_path = image
    model.backing_format = image_format
    try:
        vol = pool.createXML(model.to_xml(), 0)
    except libvirt.libvirtError as err:
        raise VirtopsError(describe_libvirt_error(err, where="guest '%s': cannot create its root disk" % guest))
    return vol.path()


def grow_volume(vol, size_bytes, guest):
    current = volume_capacity(vol)
    if size_bytes < current:
        raise VirtopsError("guest '%s': root_size_gb %d is smaller than the root disk's %d GiB; shrinking is refused."
                           % (guest, size_bytes // GIB, -(-current // GIB)))
    if size_bytes > current:
        vol.resize(size_bytes, 0)
        return True
    return False


def delete_volume(pool, name):
    """Delete a volume the module made; True when one was there."""
    if pool is None:
        return False
    pool.refresh(0)
    vol = lookup.find_volume(pool, name)
    if vol is None:
        return False
    vol.delete(0)
    return True
