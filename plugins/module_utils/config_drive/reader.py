# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a config drive back into the options that made it, and regenerating it (as Nova does on a rebuild).

Only drives the ``config_drive`` module wrote are accepted: the options read back must
give exactly the files found, so a hand-made or foreign drive (whose content we would
silently drop or reorder) is refused rather than rewritten.
"""


import base64
import json
import os

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image, layout
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

# what a rebuild may replace; everything else (uuid, name, hostname, keys, network data) is kept
OVERRIDABLE = ('user_data', 'admin_pass', 'files', 'meta')
SEED_BYTES = 512    # what Nova puts in random_seed
# far above any drive this collection writes (user_data is at most 64 KiB); a bigger file is someone else's,
# and is refused without reading it into memory
MAX_DRIVE_BYTES = 64 * 1024 * 1024


class NotOurs(Exception):
    """The image is not a config drive this collection wrote; the text says why."""


def image_format(data):
    return 'iso9660' if data[0x8001:0x8006] == b'CD001' else 'vfat'


def _json(files, path, default=None):
    if path not in files:
        if default is None:
            raise NotOurs('it has no %s' % path)
        return default
    try:
        return json.loads(files[path].decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise NotOurs('%s is not JSON' % path)


def spec_from_files(files):
    """The normalised options (as ``config_drive_layout.normalise`` returns them) behind a drive's files."""
    meta = _json(files, 'openstack/latest/meta_data.json')
    if not isinstance(meta, dict) or not meta.get('uuid'):
        raise NotOurs('its meta_data.json names no uuid')
    drive_files = []
    for entry in meta.get('files') or []:
        content_path = 'openstack' + str(entry.get('content_path') or '')
        if content_path not in files:
            raise NotOurs('the file %s it lists is missing' % entry.get('path'))
        drive_files.append((entry.get('path'), files[content_path]))
    try:
        spec = dict(
            uuid=meta['uuid'], name=meta['name'], hostname=meta['hostname'],
            public_keys=dict(meta.get('public_keys') or {}),
            admin_pass=meta.get('admin_pass'),
            meta=dict(meta.get('meta') or {}),
            user_data=files.get('openstack/latest/user_data'),
            vendor_data=_json(files, 'openstack/latest/vendor_data.json', {}) or None,
            network_data=_json(files, 'openstack/latest/network_data.json', {}) or None,
            files=drive_files,
            availability_zone=meta.get('availability_zone'),
            launch_index=meta.get('launch_index') or 0,
            random_seed=meta.get('random_seed'),
        )
    except KeyError as err:
        raise NotOurs('its meta_data.json has no %s' % err.args[0])
    if layout.tree(spec) != files:
        raise NotOurs('its files are not the ones virtops.compute config_drive writes')
    return spec


def read_drive(data):
    """(spec, format) of a config drive image; raises NotOurs when it is not one of ours."""
    found = image.read(data) if data else None
    if found is None:
        raise NotOurs('it is neither an iso9660 nor a FAT16 image virtops.compute wrote')
    files, label = found
    if label != layout.LABEL:
        raise NotOurs("its volume label is %r, not '%s'" % (label, layout.LABEL))
    return spec_from_files(files), image_format(data)


def foreign_reason(data):
    """Why ``data`` is not a config drive this collection wrote, or None when it is one."""
    try:
        read_drive(data)
    except NotOurs as err:
        return str(err)
    return None


def existing_drive(target, hint):
    """The bytes of the image ``target`` holds (None when there is none), refused unless it is a config drive this
    collection wrote: an ISO, a volume or any file that happens to sit where a drive should go is never replaced.
    ``target`` has ``where``, ``kind`` ('file', 'volume'), ``size()`` (None: absent) and ``current()``;
    ``hint`` ends the refusal (what the user can do)."""
    size = target.size()
    if size is None:
        return None
    data = None
    if size > MAX_DRIVE_BYTES:
        reason = 'it holds %d bytes, more than any drive it writes' % size
    else:
        data = target.current()
        reason = foreign_reason(data)
    if reason:
        raise VirtopsError('%s: the existing %s is not a config drive virtops.compute wrote (%s), so it is left as it '
                           'is; %s.' % (target.where, target.kind, reason, hint))
    return data


def regenerate(spec, overrides, where, seed=None):
    """(new spec, new files): ``spec`` with the given ``overrides`` (None = keep) and a fresh random seed."""
    wanted = dict((key, value) for key, value in spec.items())
    given = dict((key, overrides.get(key)) for key in OVERRIDABLE if overrides.get(key) is not None)
    if given:
        # normalise checks and encodes the new values the way the config_drive module does
        checked = layout.normalise(dict(uuid=spec['uuid'], name=spec['name'], **given), where)
        for key in given:
            wanted[key] = checked[key]
    wanted['random_seed'] = seed or base64.b64encode(os.urandom(SEED_BYTES)).decode('ascii')
    return wanted, layout.tree(wanted)


def changed_paths(old_files, new_files):
    """The drive's paths whose content differs, or that one side lacks, sorted."""
    return sorted(path for path in set(old_files) | set(new_files) if old_files.get(path) != new_files.get(path))
