# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config drive images: the metadata tree as ISO 9660 (pycdlib) or FAT16, reproducibly, and their files.

The ISO carries Joliet and Rock Ridge so that long lower-case names such as
``openstack/2012-08-10/meta_data.json`` survive; its plain ISO 9660 names are
upper-case d-characters derived from them.  pycdlib stamps every date from the
clock, so while it builds it is given a clock that always reads one constant:
that, with sorted entries, makes the same tree give the same bytes.
"""


import hashlib
import io
import os
import re
import tempfile
import threading
import time as real_time
import traceback

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import vfat as config_drive_vfat
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

try:
    import pycdlib
    import pycdlib.dates
    import pycdlib.headervd
    import pycdlib.pycdlib
    HAS_PYCDLIB = True
    PYCDLIB_IMPORT_ERROR = None
except ImportError:
    HAS_PYCDLIB = False
    PYCDLIB_IMPORT_ERROR = traceback.format_exc()

FORMATS = ('iso9660', 'vfat')
# 2000-01-01 00:00:00 UTC, the date of every file and of the volume
FIXED_EPOCH = 946684800.0
FILE_MODE = 0o600
_CLOCK_LOCK = threading.Lock()


class _FixedClock:
    """The ``time`` module as pycdlib sees it while building: always FIXED_EPOCH, always UTC."""

    def __getattr__(self, name):
        return getattr(real_time, name)

    @staticmethod
    def time():
        return FIXED_EPOCH

    @staticmethod
    def localtime(seconds=None):
        return real_time.gmtime(FIXED_EPOCH if seconds is None else seconds)


def _with_fixed_clock(build):
    modules = [pycdlib.dates, pycdlib.headervd, pycdlib.pycdlib]
    with _CLOCK_LOCK:
        saved = [module.time for module in modules]
        try:
            for module in modules:
                module.time = _FixedClock()
            return build()
        finally:
            for module, clock in zip(modules, saved):
                module.time = clock


def _iso_name(name, is_dir, taken):
    stem, ext = (name, '') if is_dir or '.' not in name.strip('.') else name.rsplit('.', 1)
    stem = re.sub(r'[^A-Z0-9_]', '_', stem.upper())[:24] or '_'
    ext = re.sub(r'[^A-Z0-9_]', '_', ext.upper())[:5]
    candidate, number = stem, 1
    while (candidate, ext) in taken:
        number += 1
        candidate = '%s_%d' % (stem[:24 - len(str(number)) - 1], number)
    taken.add((candidate, ext))
    if is_dir:
        return candidate
    return '%s.%s;1' % (candidate, ext)


def build_iso(files, label='config-2'):
    """ISO 9660 bytes (Joliet, Rock Ridge, volume ``label``) holding ``files`` ({'dir/name': bytes})."""
    if not HAS_PYCDLIB:
        raise VirtopsError('config_drive: writing an iso9660 drive needs the Python library pycdlib on the host.')

    def build():
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, joliet=3, rock_ridge='1.09', vol_ident=label, sys_ident='LINUX',
                app_ident_str='virtops.compute config_drive')
        iso_paths = {'': ''}
        taken = {}
        directories = sorted({'/'.join(path.split('/')[:depth]) for path in files
                              for depth in range(1, path.count('/') + 1)})
        for directory in directories:
            parent, _slash, leaf = directory.rpartition('/')
            iso_path = iso_paths[parent] + '/' + _iso_name(leaf, True, taken.setdefault(parent, set()))
            iso_paths[directory] = iso_path
            iso.add_directory(iso_path, rr_name=leaf, joliet_path='/' + directory)
        for path in sorted(files):
            parent, _slash, leaf = path.rpartition('/')
            iso_path = iso_paths[parent] + '/' + _iso_name(leaf, False, taken.setdefault(parent, set()))
            data = files[path]
            iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=leaf, joliet_path='/' + path,
                       file_mode=0o100444)
        out = io.BytesIO()
        iso.write_fp(out)
        iso.close()
        return out.getvalue()

    return _with_fixed_clock(build)


def build(files, image_format, label='config-2'):
    if image_format == 'vfat':
        return config_drive_vfat.build(files, label)
    return build_iso(files, label)


def read_iso(image):
    """({'dir/name': bytes}, label) of an ISO, by its Rock Ridge names."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        label = iso.pvd.volume_identifier.decode('ascii', 'replace').rstrip()
        files = {}
        for root, _dirs, names in iso.walk(rr_path='/'):
            for name in names:
                path = (root.rstrip('/') + '/' + name).lstrip('/')
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path='/' + path)
                files[path] = out.getvalue()
        return files, label
    finally:
        iso.close()


def read(image):
    """({'dir/name': bytes}, label) of an image this module writes, whichever the format; None if unreadable."""
    try:
        if image[0x8001:0x8006] == b'CD001':
            return read_iso(image) if HAS_PYCDLIB else None
        if image[510:512] == b'\x55\xaa' and image[54:59] == b'FAT16':
            return config_drive_vfat.read(image)
    except Exception:  # pylint: disable=broad-except  # any damage means: not one of ours, rewrite it
        return None
    return None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_existing(path):
    """The bytes at ``path``, or None when there is no file."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_atomically(path, data, where, owner=None):
    """Write ``data`` to ``path`` through a temporary file in the same directory, mode 0600 (and ``owner``, (uid, gid))."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
        if owner is not None:
            os.chown(temporary, owner[0], owner[1])
        os.rename(temporary, path)
    except (IOError, OSError) as err:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise VirtopsError('%s: writing the image failed (%s).' % (where, err.strerror or err))
