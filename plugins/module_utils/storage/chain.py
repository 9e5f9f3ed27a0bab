# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files a disk image makes its reader open besides itself (its backing chain), and whether the collection may
open them.

A guest owns every byte of its disk. On a raw disk it can write a qcow2 header naming any file of the host as its
backing file; a tool that guesses the format from the content (``qemu-img convert`` without ``-f``, libguestfs
without ``format``, libvirt's dir pools, which probe every file) then reads that host file as part of the disk,
as root. So the collection opens a guest's disk with the format its definition declares (or the user gives),
which vouches for the header: the guest cannot write a qcow2 image's header, only its content. A format read from
content is believed only when the backing chain it implies stays in the host's active storage pools, and so is a
base image's own chain (an image from elsewhere may name any host file). Every layer must also state its backing
file's format, since a missing one is guessed from content again.
"""


import json
import posixpath
import subprocess

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume


def declared_format(disk):
    """The format a guest's disk is opened with: what its definition says (libvirt treats none as raw)."""
    return disk.driver_type or 'raw'


def _local_chain(path, image_format, where):
    """``[(backing path, its declared format or None)]`` below ``path``, read with qemu-img on this host."""
    proc = subprocess.run(['qemu-img', 'info', '--output=json', '--backing-chain', '-U', '-f', image_format, path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = ' '.join(proc.stderr.split()).rstrip('.') or 'qemu-img info failed'
        raise VirtopsError("%s: the image '%s' cannot be read as %s (%s)." % (where, path, image_format, reason))
    layers = json.loads(proc.stdout)
    layers = layers if isinstance(layers, list) else [layers]
    chain = []
    for upper, lower in zip(layers, layers[1:]):
        backing = upper.get('full-backing-filename') or lower.get('filename')
        chain.append((backing, upper.get('backing-filename-format')))
    return chain


def _libvirt_chain(conn, path, image_format, where):
    """The same through libvirt's storage API (for a remote host): every layer must be a volume of a pool."""
    vol = lookup.find_volume_by_path(conn, path)
    if vol is None:
        raise VirtopsError("%s: '%s' is in no storage pool of the host, so its backing chain cannot be checked "
                           "through a remote uri." % (where, path))
    model = StorageVolume.from_xml(vol.XMLDesc(0))
    # a dir pool guesses each file's format from its content: the pool's view counts only when it agrees
    if (model.target_format or 'raw') != image_format:
        raise VirtopsError("%s: '%s' is declared %s but its content reads as %s; it is not opened through a remote "
                           "uri (run the task on the host itself)." % (where, path, image_format, model.target_format))
    chain = []
    while model.backing_path:
        chain.append((model.backing_path, model.backing_format))
        vol = lookup.find_volume_by_path(conn, model.backing_path)
        if vol is None:
            break
        model = StorageVolume.from_xml(vol.XMLDesc(0))
    return chain


def backing_chain(conn, path, image_format, where, local):
    """``[(backing path, format or None)]`` of the files below ``path`` opened as ``image_format``, nearest first."""
    if image_format == 'raw':
        return []
    if local:
        return _local_chain(path, image_format, where)
    return _libvirt_chain(conn, path, image_format, where)


def in_storage_pool(conn, path):
    """True when ``path`` is a volume of an active storage pool (its directory's pool is refreshed to see new files)."""
    if lookup.find_volume_by_path(conn, path) is not None:
        return True
    directory = posixpath.dirname(posixpath.normpath(path))
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        if StoragePool.from_xml(pool.XMLDesc(0)).target_path == directory:
            pool.refresh(0)
            return lookup.find_volume_by_path(conn, path) is not None
    return False


def check_backing_chain(conn, path, image_format, where, local, require_pools=True):
    """Raise (one sentence) unless every file ``path`` reads through its backing chain states its format and, with
    ``require_pools`` (a format read from content, a base image), is a volume of an active pool. Returns the chain."""
    chain = backing_chain(conn, path, image_format, where, local)
    for backing, backing_format in chain:
        if not backing_format:
            raise VirtopsError("%s: '%s' names the backing file '%s' without its format, and the collection does not "
                               "guess a format from content, so it is not opened." % (where, path, backing))
        if not require_pools:
            continue
        if not in_storage_pool(conn, backing):
            raise VirtopsError("%s: '%s' reads the backing file '%s', which lies outside the host's storage pools, "
                               "so it is not opened (define a storage pool over that directory if it is an image of "
                               "yours)." % (where, path, backing))
    return chain
