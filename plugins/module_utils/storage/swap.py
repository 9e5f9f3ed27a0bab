# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacing a pool volume with a new one made beside it first, so that whatever fails while the new one is made
(no space, a lost connection, an image libvirt refuses) leaves the old one whole.

On the host itself, in a directory pool, the new file is renamed over the old one: atomic. Through a remote
``uri`` libvirt has no rename, so the old volume is deleted and the new one made again under the old name from
the complete one beside it (a copy on the host, or a fresh overlay), which cannot run out of what the first make
had.
"""

import os
import posixpath

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool

LOCAL_POOL_TYPES = ('dir', 'fs', 'netfs')


def temporary_name(name):
    """A name beside ``name`` that nothing else uses, for the volume being made."""
    return '.%s.%s.new' % (name, os.urandom(6).hex())


def swap_in(pool, new_vol, name, recreate, local):
    """Put the complete ``new_vol`` where the volume ``name`` of ``pool`` is (or would be); returns that volume.
    ``recreate()`` makes the volume ``name`` from ``new_vol`` when a rename is not possible."""
    model = StoragePool.from_xml(pool.XMLDesc(0))
    new_path = new_vol.path()
    if local and model.type in LOCAL_POOL_TYPES and model.target_path and os.path.isfile(new_path):
        os.rename(new_path, posixpath.join(model.target_path, name))
        pool.refresh(0)
        return lookup.find_volume(pool, name)
    old = lookup.find_volume(pool, name)
    if old is not None:
        old.delete(0)
    made = recreate()
    new_vol.delete(0)
    return made


def discard(vol):
    """Remove a half-made new volume after a failure (it may be gone already)."""
    try:
        vol.delete(0)
    except libvirt.libvirtError:
        pass
