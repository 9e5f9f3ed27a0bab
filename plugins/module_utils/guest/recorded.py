# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``guest`` module's ``definition`` option: a recorded guest defined again on this host.

The definition is untrusted (see ``model/recorded.py``): it is rebuilt through the model,
and every host path it names must lie, symbolic links resolved, in a storage pool it may
use (``allowed_pools``, else every active pool of the host).  Its root disk, when missing
here (storage not shared with the host it was recorded on), is made again as an overlay of
``image``, whose format ``image_format`` states, and which must lie in such a pool too.
Console passwords come from ``graphics[].password``, never from the definition.
"""

import os
import posixpath

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, is_local_uri, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.guest.spec import SPEC_KEYS
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import ROOT_TARGET, own_root_disk
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.define import define_domain
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.recorded import RecordedDefinition
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool


def allowed_directories(conn, names, where):
    """{pool name: its directory (symbolic links resolved)} of the active pools ``names`` (every active pool when
    None); a named pool that is missing or inactive is refused."""
    found = {}
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        path = StoragePool.from_xml(pool.XMLDesc(0)).target_path
        if path and (names is None or pool.name() in names):
            found[pool.name()] = os.path.realpath(path)
    missing = sorted(set(names or ()) - set(found))
    if missing:
        raise VirtopsError("%s: allowed_pools names %s, which %s no active storage pool of this host."
                           % (where, ', '.join("'%s'" % name for name in missing), 'is' if len(missing) == 1 else 'are'))
    return found


def inside(path, directories):
    """The pool directory holding ``path`` once symbolic links are resolved, or None."""
    real = os.path.realpath(path)
    for directory in directories:
        if real.startswith(directory.rstrip('/') + '/'):
            return directory
    return None


# what describes the guest is the definition's; graphics passwords and the root disk's image are taken from options
NOT_WITH_DEFINITION = tuple(key for key in SPEC_KEYS if key != 'graphics') + ('uuid', 'nics', 'rescue_image')


class RecordedGuest:
    """A recorded definition, checked against this host, ready to define."""

    def __init__(self, converger):
        self.converger = converger
        self.conn = converger.conn
        self.params = converger.params
        self.where = converger.where()
        given = [key for key in NOT_WITH_DEFINITION if self.params.get(key) not in (None, [], {})]
        if given:
            raise VirtopsError('%s: definition describes the guest, so %s cannot be given with it.'
                               % (self.where, ', '.join(given)))
        if not is_local_uri(converger.module.uri):
            raise VirtopsError('%s: definition is checked against the host\'s own files, so the module must run on the '
                               'host with a local uri.' % self.where)
        self.pools = allowed_directories(self.conn, self.params.get('allowed_pools'), self.where)
        self.domain = self._rebuild()
        self.uuid = self.domain.uuid

    def _check_path(self, path, what):
        if inside(path, self.pools.values()) is None:
            raise ModelError("%s '%s', which lies outside the storage pools it may use (%s)"
                             % (what, path, ', '.join(sorted(self.pools)) or 'none is active'))

    def _rebuild(self):
        try:
            domain = RecordedDefinition(self.params['definition']).rebuild(self._check_path, set(self.pools))
        except ModelError as err:
            raise VirtopsError('%s: the definition is refused, as it carries %s.' % (self.where, str(err).rstrip('.')))
        if domain.name != self.params['name']:
            raise VirtopsError("%s: the definition is that of guest '%s'." % (self.where, domain.name))
        if not domain.uuid:
            raise VirtopsError('%s: the definition has no UUID, so it is no recorded guest.' % self.where)
        if self.params.get('image'):
            if not self.params.get('image_format'):
                raise VirtopsError('%s: with definition, image needs image_format, since the format of an image on '
                                   'shared storage is never guessed from its content.' % self.where)
            if inside(self.params['image'], self.pools.values()) is None:
                raise VirtopsError("%s: image '%s' is outside the storage pools it may use (%s)."
                                   % (self.where, self.params['image'], ', '.join(sorted(self.pools))))
        given = dict((item['type'], item.get('password')) for item in self.params.get('graphics') or [])
        for graphic in domain.graphics:
            if given.get(graphic.type):
                graphic.passwd = given[graphic.type]
        return domain

    def root_disk(self):
        """The definition's root disk (the one this collection made, else the first file disk on vda), or None."""
        root = own_root_disk(self.domain) or self.domain.find_disk(ROOT_TARGET)
        return root if root is not None and root.type == 'file' and root.source_file else None

    def define(self):
        """Make a missing root disk again, then define the guest; returns the virDomain (None in check mode)."""
        self.converger.tracker.add('state', 'absent', self.params['state'])
        made = self._rebuild_root()
        if self.converger.check:
            return None
        try:
            dom = define_domain(self.conn, self.domain.to_xml())
        except libvirt.libvirtError as err:
            if made is not None:
                made.delete(0)
            raise VirtopsError(describe_libvirt_error(err, where='%s: libvirt refused the definition' % self.where))
        self.converger.actions.append('defined from the recorded definition')
        return dom

    def _rebuild_root(self):
        root = self.root_disk()
        if root is None or os.path.exists(root.source_file):
            return None
        if not self.params.get('image'):
            raise VirtopsError("%s: its root disk %s is not on this host's storage, and no image is given to make it "
                               "again from." % (self.where, root.source_file))
        directory = os.path.realpath(posixpath.dirname(root.source_file))
        pool_name = [name for name, path in self.pools.items() if path == directory]
        if not pool_name:
            raise VirtopsError('%s: its root disk %s would be made again in %s, which is no storage pool of this host '
                               'it may use.' % (self.where, root.source_file, directory))
        self.converger.tracker.add('root disk', None, root.source_file)
        pool = lookup.find_pool(self.conn, pool_name[0])
        # only a guest rebuilt from a record needs the image helpers (and their stream code)
        from ansible_collections.virtops.compute.plugins.module_utils.storage.images import find_image
        image = find_image(self.conn, self.where, self.params['image'], True, self.params.get('image_format'))
        size = max(image.capacity_bytes, (self.params.get('root_size_gb') or 0) * instance_storage.GIB)
        if self.converger.check:
            return None
        path = instance_storage.create_root_overlay(pool, self.params['name'], image.path, image.format, size,
                                                    name=posixpath.basename(root.source_file))
        self.converger.actions.append('made the root disk %s again as an overlay of %s' % (path, image.path))
        return lookup.find_volume_by_path(self.conn, path)
