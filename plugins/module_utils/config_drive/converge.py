# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config_drive module's work: build the image its options describe and put it in place (a file on the host
running the module, or a pool volume through libvirt streams), or remove it.

What is already there is replaced (or removed) only when it is a config drive this collection
wrote: a path or volume name that points at an ISO, an image or any other file is refused,
unless ``force`` says so.
"""


import os
import stat

from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image, layout, reader
from ansible_collections.virtops.compute.plugins.module_utils.config_drive.pool import PoolTarget
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker

FORCE_HINT = 'remove it yourself, choose another place, or set force: true to replace it'


class FileTarget:
    """The image as a file on the host that runs the module."""

    kind = 'file'

    def __init__(self, dest):
        self.dest = dest
        self.where = "config_drive '%s'" % dest

    def check(self):
        directory = os.path.dirname(os.path.abspath(self.dest))
        if not os.path.isdir(directory):
            raise VirtopsError('%s: the directory %s does not exist.' % (self.where, directory))
        if os.path.lexists(self.dest) and not stat.S_ISREG(os.lstat(self.dest).st_mode):
            # a symbolic link, a device or a directory: reading or replacing it would reach something else
            raise VirtopsError('%s: dest exists and is not a regular file, so it is left as it is.' % self.where)

    def size(self):
        try:
            return os.lstat(self.dest).st_size
        except FileNotFoundError:
            return None

    def current(self):
        return image.read_existing(self.dest)

    def mode_differs(self):
        return stat.S_IMODE(os.stat(self.dest).st_mode) != image.FILE_MODE

    def write(self, data):
        image.write_atomically(self.dest, data, self.where)

    def fix_mode(self):
        os.chmod(self.dest, image.FILE_MODE)

    def remove(self):
        os.unlink(self.dest)

    def describe(self):
        return dict(dest=self.dest)


def _target(module):
    params = module.params
    if params['pool']:
        if not params['volume']:
            raise VirtopsError("config_drive in pool '%s': volume names the image's volume and is required." % params['pool'])
        return PoolTarget(module.conn, params['pool'], params['volume'], local=is_local_uri(params.get('uri')))
    if not params['dest']:
        raise VirtopsError('config_drive: dest (a file on the host) or pool and volume are required.')
    return FileTarget(params['dest'])


def _existing(target, force):
    if force:
        return target.current() if target.size() is not None else None
    return reader.existing_drive(target, FORCE_HINT)


def _described(data):
    """The summary of an existing image (sha256 and format at least), None for no image."""
    if data is None:
        return None
    read = image.read(data)
    found = layout.summary_from_tree(read[0]) if read else None
    described = dict(found or {}, sha256=image.sha256(data))
    # every path on the drive would drown what changed in a diff; the result still lists them
    described.pop('paths', None)
    return described


def _remove(module, target, existing):
    tracker = DifferenceTracker()
    if target.size() is None:
        return converge_result(module, tracker, config_drive=None)
    tracker.add('config_drive', dict(target.describe(), sha256=image.sha256(existing or b'')), None)
    if not module.check_mode:
        target.remove()
    return converge_result(module, tracker, config_drive=None, changes=['removed'])


def run(module):
    params = module.params
    target = _target(module)
    target.check()
    existing = _existing(target, params['force'])
    if params['state'] == 'absent':
        return _remove(module, target, existing)

    spec = layout.normalise(params, target.where)
    files = layout.tree(spec)
    data = image.build(files, params['format'])
    wanted_sha = image.sha256(data)
    changes = []
    if existing is None:
        changes.append('created')
    elif image.sha256(existing) != wanted_sha:
        changes.append('content')
    elif target.mode_differs():
        changes.append('mode')
    summary = layout.summary(spec, files)
    after = dict((key, value) for key, value in summary.items() if key != 'paths')
    tracker = DifferenceTracker()
    tracker.add('config_drive', _described(existing), dict(after, sha256=wanted_sha))
    if changes and not module.check_mode:
        if changes == ['mode']:
            target.fix_mode()
        else:
            target.write(data)
    drive = dict(target.describe(), format=params['format'], size_bytes=len(data), sha256=wanted_sha,
                 uuid=spec['uuid'], name=spec['name'], hostname=spec['hostname'])
    result = dict(changed=bool(changes), config_drive=drive, metadata=summary, changes=changes)
    if module.diff_mode:
        result['diff'] = tracker.diff()
    return result
