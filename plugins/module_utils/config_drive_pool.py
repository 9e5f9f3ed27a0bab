# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A config drive kept as a raw volume of a storage pool, read and written through libvirt streams.

This is how the config_drive module works against a remote ``uri``: the image is built
where the module runs and only its bytes travel, through the storage API.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import io
from xml.sax.saxutils import escape

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.volumes import refresh

_CHUNK = 256 * 1024
_VOLUME_XML = ("<volume><name>%s</name><capacity unit='bytes'>%d</capacity><target><format type='raw'/>"
               "<permissions><mode>0600</mode></permissions></target></volume>")


class PoolTarget:
    def __init__(self, conn, pool_name, volume_name):
        self.conn = conn
        self.pool_name = pool_name
        self.volume_name = volume_name
        self.where = "config_drive '%s/%s'" % (pool_name, volume_name)
        self._pool = None

    def check(self):
        try:
            self._pool = self.conn.storagePoolLookupByName(self.pool_name)
        except libvirt.libvirtError:
            raise VirtopsError("%s: the storage pool '%s' does not exist." % (self.where, self.pool_name))
        if not self._pool.isActive():
            raise VirtopsError("%s: the storage pool '%s' is not active." % (self.where, self.pool_name))
        refresh(self._pool)

    def _volume(self):
        try:
            return self._pool.storageVolLookupByName(self.volume_name)
        except libvirt.libvirtError:
            return None

    def current(self):
        vol = self._volume()
        if vol is None:
            return None
        size = vol.info()[1]
        stream = self.conn.newStream(0)
        chunks = []
        try:
            vol.download(stream, 0, size, 0)
            while True:
                chunk = stream.recv(_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
            stream.finish()
        except BaseException:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass
            raise
        return b''.join(chunks)

    def mode_differs(self):
        return False    # the volume was made with mode 0600 and libvirt has no call to change it afterwards

    def write(self, data):
        vol = self._volume()
        if vol is not None and vol.info()[1] != len(data):
            vol.delete(0)
            vol = None
        if vol is None:
            vol = self._pool.createXML(_VOLUME_XML % (escape(self.volume_name), len(data)), 0)
        stream = self.conn.newStream(0)
        try:
            vol.upload(stream, 0, len(data), 0)
            source = io.BytesIO(data)
            stream.sendAll(lambda _stream, nbytes, handle: handle.read(min(nbytes, _CHUNK)), source)
            stream.finish()
        except BaseException:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass
            raise
        refresh(self._pool)

    def fix_mode(self):
        pass

    def remove(self):
        self._volume().delete(0)

    def describe(self):
        vol = self._volume()
        return dict(pool=self.pool_name, volume=self.volume_name, path=vol.path() if vol is not None else None)
