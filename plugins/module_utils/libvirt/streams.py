# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a volume's bytes through libvirt streams, the one way the collection does it.

Streams are how a module reads or writes a disk on a host it reaches only through a remote
``uri``.  A stream left open after an error keeps its volume busy in libvirtd until the
connection closes, so every transfer here aborts its streams on any failure.
"""

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB

CHUNK = 4 * MIB


def _abort(*streams):
    for stream in streams:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass


def upload(conn, vol, reader, length):
    """Write ``length`` bytes from ``reader`` (a file-like object) into ``vol`` from offset 0."""
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, length, 0)
        stream.sendAll(lambda _stream, nbytes, handle: handle.read(min(nbytes, CHUNK)), reader)
        stream.finish()
    except BaseException:
        _abort(stream)
        raise


def download(conn, vol, length=0):
    """The bytes of ``vol`` (its first ``length`` bytes; 0 means all of it)."""
    stream = conn.newStream(0)
    chunks = []
    try:
        vol.download(stream, 0, length, 0)
        while True:
            chunk = stream.recv(CHUNK)
            if chunk in (-2, None) or not chunk:
                break
            chunks.append(chunk)
        stream.finish()
    except BaseException:
        _abort(stream)
        raise
    return b''.join(chunks)


def copy(src_conn, src_vol, dest_conn, dest_vol, log=None, what='copy'):
    """Stream ``src_vol``'s bytes into ``dest_vol`` (on another host, perhaps), logging every 20%; the bytes copied."""
    info = src_vol.info()
    total = info[1] if info[0] != 0 else info[2]
    down, up = src_conn.newStream(0), dest_conn.newStream(0)
    copied, reported = 0, -1
    try:
        src_vol.download(down, 0, 0, 0)
        dest_vol.upload(up, 0, 0, 0)
        while True:
            data = down.recv(CHUNK)
            if data in (-2, None) or not data:
                break
            up.send(data)
            copied += len(data)
            done = int(100 * copied / total) if total else 100
            if log and done // 20 != reported // 20:
                log('%s: copied %d MiB' % (what, copied // MIB))
                reported = done
        down.finish()
        up.finish()
    except BaseException:
        _abort(down, up)
        raise
    return copied
