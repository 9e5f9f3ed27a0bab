# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A config drive kept as a raw volume of a storage pool, read and written through libvirt streams.

This is how the config_drive module works against a remote ``uri``: the image is built
where the module runs and only its bytes travel, through the storage API. A new image is
uploaded into a volume of its own beside the old one, read back, and swapped in only once complete
(``storage/swap.py``), so a failed write leaves the old drive as it was.
"""


import io
import os

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup, streams
from ansible_collections.virtops.compute.plugins.module_utils.storage import swap
from ansible_collections.virtops.compute.plugins.module_utils.storage.images import volume_model
from ansible_collections.virtops.compute.plugins.module_utils.storage.volumes import refresh


class PoolTarget:
    kind = 'volume'

    def __init__(self, conn, pool_name, volume_name, local=False):
        self.conn = conn
        # on the host itself the new image is renamed into place
        self.local = local
        self.pool_name = pool_name
        self.volume_name = volume_name
        self.where = "config_drive '%s/%s'" % (pool_name, volume_name)
        self._pool = None

    def check(self):
        self._pool = lookup.find_pool(self.conn, self.pool_name)
        if self._pool is None:
            raise VirtopsError("%s: the storage pool '%s' does not exist." % (self.where, self.pool_name))
        if not self._pool.isActive():
            raise VirtopsError("%s: the storage pool '%s' is not active." % (self.where, self.pool_name))
        refresh(self._pool)

    def _volume(self):
        return lookup.find_volume(self._pool, self.volume_name)

    def size(self):
        """The volume's size in bytes, None when there is no volume."""
        vol = self._volume()
        return None if vol is None else vol.info()[1]

    def current(self):
        vol = self._volume()
        if vol is None:
            return None
        return streams.download(self.conn, vol, vol.info()[1])

    def mode_differs(self):
        return False    # the volume was made with mode 0600 and libvirt has no call to change it afterwards

    def _model(self, name, size):
        model = volume_model(name, 'raw', size)
        model.permissions_mode = '0600'
        return model.to_xml()

    def write(self, data):
        try:
            new = self._pool.createXML(self._model(swap.temporary_name(self.volume_name), len(data)), 0)
        except libvirt.libvirtError as err:
            where = '%s: the new image could not be made, so the old one is left as it was' % self.where
            raise VirtopsError(describe_libvirt_error(err, where=where)) from None
        try:
            streams.upload(self.conn, new, io.BytesIO(data), len(data))
            self._check_written(new, data)
        except BaseException:
            swap.discard(new)
            raise
        swap.swap_in(self._pool, new, self.volume_name,
                     lambda: self._pool.createXMLFrom(self._model(self.volume_name, len(data)), new, 0), self.local)
        refresh(self._pool)

    def _check_written(self, new, data):
        """The new image is read back before it replaces the old one: a stream that ended without an error does
        not prove that the host's file holds every byte (a full pool's file system was seen to leave another
        image behind), and only an image known to be whole may take the place of a good one."""
        back = streams.download(self.conn, new, len(data))
        if back != data:
            same = len(os.path.commonprefix([back, data]))
            raise VirtopsError('%s: the new image did not reach the pool whole (it reads back as written for %d of '
                               '%d bytes; is the pool full?), so the old one is left as it was.'
                               % (self.where, same, len(data)))

    def fix_mode(self):
        pass

    def remove(self):
        self._volume().delete(0)

    def describe(self):
        vol = self._volume()
        return dict(pool=self.pool_name, volume=self.volume_name, path=vol.path() if vol is not None else None)
