# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a new volume's data comes from: nothing, a full copy of an image, or an image as backing store.

Everything goes through libvirt's storage API so that it works against a remote
URI.  An image that a storage pool of the host holds is copied by libvirt itself
(``createXMLFrom``, which also converts between qcow2 and raw).  An image that no
pool holds can only be read by the module from its own file system, so it is
uploaded through a libvirt stream, and only when the URI is local: against a
remote URI that file would be the controller's, not the host's.
"""


import os
import struct

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup, streams
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain

_QCOW2_MAGIC = b'QFI\xfb'


class ImageSource:
    """A base image on the host: its path, format, virtual size and the volume holding it (None when no pool does)."""

    def __init__(self, path, image_format, capacity_bytes, volume=None):
        self.path = path
        self.format = image_format
        self.capacity_bytes = capacity_bytes
        self.volume = volume


def has_own_backing_file(header):
    """True for a qcow2 header naming a backing file (a byte copy of it would still depend on that file)."""
    return header[:4] == _QCOW2_MAGIC and len(header) >= 16 and struct.unpack('>Q', header[8:16])[0] != 0


def _declared_size(path, image_format):
    """The virtual size of an image whose format the caller states: a qcow2 header's size field, a raw file's length."""
    if image_format == 'raw':
        return os.path.getsize(path)
    with open(path, 'rb') as handle:
        header = handle.read(32)
    if header[:4] != _QCOW2_MAGIC:
        return None
    return struct.unpack('>Q', header[24:32])[0]


def find_image(conn, where, path, local, image_format=None):
    """The image at ``path``; ``image_format`` (when given) is what it is, never guessed from its content."""
    vol = lookup.find_volume_by_path(conn, path)
    if vol is not None:
        model = StorageVolume.from_xml(vol.XMLDesc(0))
        found = model.target_format or 'raw'
        if image_format and image_format != found:
            raise VirtopsError("%s: from_image '%s' is %s according to its storage pool, not the %s that "
                               "from_image_format says." % (where, path, found, image_format))
        chain.check_backing_chain(conn, path, found, "%s: from_image '%s'" % (where, path), local=False)
        return ImageSource(path, found, model.capacity_bytes, vol)
    if not local:
        raise VirtopsError("%s: from_image '%s' is in no active storage pool of the host, and over a remote uri only "
                           "images that a pool holds can be read (define a dir pool over its directory)." % (where, path))
    if not os.path.isfile(path):
        raise VirtopsError("%s: from_image '%s' does not exist (or no storage pool of the host holds it)." % (where, path))
    if image_format:
        capacity = _declared_size(path, image_format)
        if capacity is None:
            raise VirtopsError("%s: from_image '%s' has no qcow2 header, so it is not the %s that from_image_format "
                               "says." % (where, path, image_format))
        return ImageSource(path, image_format, capacity)
    image_format, capacity = instance_storage.describe_image(conn, path, where)
    return ImageSource(path, image_format, capacity)


def volume_model(name, image_format, capacity_bytes, backing=None):
    model = StorageVolume()
    model.name = name
    model.capacity_bytes = capacity_bytes
    # libvirt allocates a raw volume in full unless told to start with nothing
    model.allocation_bytes = 0
    model.target_format = image_format
    if backing is not None:
        model.backing_path = backing.path
        model.backing_format = backing.format
    return model


def _create(where, pool, model, source=None):
    try:
        if source is not None:
            return pool.createXMLFrom(model.to_xml(), source, 0)
        return pool.createXML(model.to_xml(), 0)
    except libvirt.libvirtError as err:
        raise VirtopsError(describe_libvirt_error(err, where='%s: cannot create it' % where))


def _discard(vol):
    try:
        vol.delete(0)
    except libvirt.libvirtError:
        pass


def _upload(conn, vol, path):
    with open(path, 'rb') as handle:
        streams.upload(conn, vol, handle, os.path.getsize(path))


def create_empty(where, pool, name, image_format, capacity_bytes):
    return _create(where, pool, volume_model(name, image_format, capacity_bytes))


def create_overlay(where, pool, name, image, capacity_bytes):
    return _create(where, pool, volume_model(name, 'qcow2', capacity_bytes, backing=image))


def create_copy(where, conn, pool, name, image_format, image):
    """A full, independent copy of ``image`` as a new volume of ``image_format``, at the image's size."""
    model = volume_model(name, image_format, image.capacity_bytes)
    if image.volume is not None:
        return _create(where, pool, model, source=image.volume)
    if image_format != image.format:
        raise VirtopsError("%s: format %s differs from that of from_image '%s' (%s), and only an image that a storage pool "
                           "holds is converted (libvirt converts it then)." % (where, image_format, image.path, image.format))
    with open(image.path, 'rb') as handle:
        if has_own_backing_file(handle.read(16)):
            raise VirtopsError("%s: from_image '%s' has a backing file of its own, so a byte copy would not be "
                               "independent (put it in a storage pool and libvirt flattens the copy)." % (where, image.path))
    vol = _create(where, pool, model)
    try:
        _upload(conn, vol, image.path)
    except libvirt.libvirtError as err:
        _discard(vol)
        raise VirtopsError(describe_libvirt_error(err, where="%s: cannot copy from_image '%s' into it" % (where, image.path)))
    except BaseException:
        _discard(vol)
        raise
    return vol
