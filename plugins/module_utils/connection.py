# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening libvirt connections and turning libvirt errors into one sentence.

Every module opens exactly one connection per run through ``open_connection``
and reports failures through ``describe_libvirt_error`` so that users see the
same wording whichever module failed.
"""


import contextlib
import os
import traceback

try:
    import libvirt
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

DEFAULT_URI = 'qemu:///system'

CONNECTION_ARGUMENT_SPEC = dict(
    uri=dict(type='str'),
)


class VirtopsError(Exception):
    """An error whose message is already the one sentence a user should read."""


def effective_uri(uri=None):
    """The URI a module talks to: the option, else LIBVIRT_DEFAULT_URI, else qemu:///system."""
    return uri or os.environ.get('LIBVIRT_DEFAULT_URI') or DEFAULT_URI


def _first_line(text):
    text = (text or '').strip()
    return text.splitlines()[0].strip() if text else ''


# What libvirt's RPC client says when libvirtd went away under an open connection (stopped,
# restarted, crashed, or the TCP/SSH transport broke).
_LOST_CONNECTION_TEXTS = ('client socket is closed', 'cannot recv data', 'cannot write data',
                          'end of file while reading data', 'connection reset by peer', 'broken pipe')


def connection_lost(err):
    """True when a libvirtError means the connection to libvirtd is gone, not that the call was refused."""
    message = (getattr(err, 'get_error_message', lambda: '')() or str(err)).lower()
    return any(text in message for text in _LOST_CONNECTION_TEXTS)


def describe_libvirt_error(err, where=None):
    """Return one sentence for a libvirt.libvirtError, optionally naming what failed."""
    message = ''
    if hasattr(err, 'get_error_message'):
        message = err.get_error_message() or ''
    message = _first_line(message or str(err)).rstrip('.')
    if connection_lost(err):
        # the raw RPC text ("Cannot recv data: ...") reads like a bug; say what happened and what to do
        message = ('the connection to libvirtd was lost in the middle of the task (libvirtd stopped or restarted: %s), '
                   'so the task may be half done; run it again to converge' % message)
    if where:
        return '%s: %s.' % (where, message)
    return message + '.'


def _silence_default_error_handler():
    # libvirt prints every error to stderr by default; the module reports it instead.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def open_connection(uri=None, readonly=False):
    """Open one libvirt connection or raise VirtopsError with a clear sentence."""
    if not HAS_LIBVIRT:
        raise VirtopsError('the libvirt Python bindings (libvirt-python) are not installed on the host running the module.')
    target = effective_uri(uri)
    _silence_default_error_handler()
    try:
        if readonly:
            return libvirt.openReadOnly(target)
        return libvirt.open(target)
    except libvirt.libvirtError as err:
        raise VirtopsError(describe_libvirt_error(err, where="cannot connect to libvirt at '%s'" % target))


def close_quietly(conn):
    """Close a connection whose work is done; a connection that already broke has nothing left to close."""
    if conn is None:
        return
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


@contextlib.contextmanager
def connected(uri=None, readonly=False):
    """``with connected(uri) as conn:`` a connection that is closed however the block ends."""
    conn = open_connection(uri, readonly=readonly)
    try:
        yield conn
    finally:
        close_quietly(conn)


def is_local_uri(uri):
    """True when the URI addresses the host the module runs on (no remote transport or host)."""
    target = effective_uri(uri)
    scheme, _sep, rest = target.partition('://')
    if '+' in scheme and scheme.split('+', 1)[1] not in ('unix',):
        return False
    host = rest.split('/', 1)[0]
    return host in ('', 'localhost', '127.0.0.1', '::1')
