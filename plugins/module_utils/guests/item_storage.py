# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ``guests`` module does for one item around the guest itself: its config drive
(made before the guest is defined, so that the first boot reads it), its volumes (checked
before anything changes, attached once the guest is defined) and the drive's removal with
the guest.

The drive is a volume of the guest's instance pool, ``<name>-config.iso`` (or ``.img`` for
vfat), written through libvirt's storage API like the ``config_drive`` module's ``pool``
mode, and compared byte for byte with what the options make, so an unchanged drive is never
rewritten. Its UUID (cloud-init's instance id) is the guest's: the item's ``uuid``, else the
existing guest's, else a new one given to the guest as it is defined.
"""


import posixpath
import uuid as uuidlib

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.units import GIB

DRIVE_SUFFIX = {'iso9660': 'iso', 'vfat': 'img'}
FOREIGN_DRIVE_HINT = 'remove or rename that volume, or give the guest another storage_pool'

# The code behind config drives and volumes (ISO and FAT writers, block jobs, secrets) is imported where an item
# needs it, not at start-up: a run of guests that have neither never loads it.


def _refresh(pool):
    from ansible_collections.virtops.compute.plugins.module_utils.storage.volumes import refresh
    refresh(pool)


def drive_volume_name(guest, image_format):
    return '%s-config.%s' % (guest, DRIVE_SUFFIX[image_format])


class _Attach:
    """What AttachmentConverger needs of a module, for one volume of one item."""

    def __init__(self, batch, params):
        self.conn = batch.conn
        self.params = params
        self.check_mode = batch.check_mode
        self.diff_mode = False
        self.log = batch.log


class ItemExtras:
    """The drive and volumes of one item; ``changes`` and ``actions`` collect what was (or would be) done."""

    def __init__(self, module, params):
        self.module = module
        self.conn = module.conn
        self.params = params
        self.name = params['name']
        self.check = module.check_mode
        self.changes = []
        # what was done before the guest was converged (the drive), and after it (volumes, old drives)
        self.actions = []
        self.later_actions = []
        self.drive = None
        # volumes to create, by index in the item's volumes: their pools
        self._create = {}

    def where(self):
        return "guest '%s'" % self.name

    def _active_pool(self, name):
        pool = lookup.find_pool(self.conn, name)
        return pool if pool is not None and pool.isActive() else None

    # ---------------------------------------------------------------- before anything changes

    def preflight(self):
        """Refuse volumes whose pool or volume is not there (and cannot be made) while nothing has changed yet."""
        if self.params['state'] == 'absent':
            return
        for index, spec in enumerate(self.params.get('volumes') or []):
            source = spec.get('volume')
            if spec['state'] != 'present' or not source:
                continue
            where = '%s: volumes[%d] (%s)' % (self.where(), index, spec['target'])
            pool = lookup.find_pool(self.conn, source['pool'])
            if pool is None:
                raise VirtopsError("%s: the storage pool '%s' does not exist." % (where, source['pool']))
            if not pool.isActive():
                raise VirtopsError("%s: the storage pool '%s' is not active." % (where, source['pool']))
            _refresh(pool)
            if lookup.find_volume(pool, source['name']) is None:
                if not spec.get('size_gb'):
                    raise VirtopsError("%s: the volume '%s' does not exist in pool '%s', and no size_gb is given to "
                                       "create it." % (where, source['name'], source['pool']))
                self._create[index] = pool

    # ---------------------------------------------------------------- config drive

    def config_drive(self, dom):
        """Make the drive when the item describes one; sets the item's config_drive (and uuid) to match."""
        wanted = self.params.get('config_drive')
        if not isinstance(wanted, dict):
            return
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image as config_drive_image
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout as config_drive_layout
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive import reader as config_drive_reader
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive.pool import PoolTarget
        params = self.params
        drive_uuid = wanted.get('uuid') or params.get('uuid') or (dom.UUIDString() if dom is not None else None)
        if drive_uuid is None:
            drive_uuid = str(uuidlib.uuid4())
        if dom is None and not params.get('uuid'):
            params['uuid'] = drive_uuid
        volume = drive_volume_name(self.name, wanted['format'])
        where = "%s: its config drive '%s'" % (self.where(), volume)
        spec = config_drive_layout.normalise(dict(wanted, uuid=drive_uuid), where)
        data = config_drive_image.build(config_drive_layout.tree(spec), wanted['format'])
        pool = instance_storage.ensure_pool(self.conn, params['storage_pool'], check_mode=self.check)
        existing, path, target = None, None, None
        if pool is not None and pool.isActive():
            target = PoolTarget(self.conn, params['storage_pool'], volume, local=is_local_uri(self.module.params.get('uri')))
            target.check()
            existing = config_drive_reader.existing_drive(target, FOREIGN_DRIVE_HINT)
            path = posixpath.join(instance_storage.pool_path(pool), volume)
        sha = config_drive_image.sha256(data)
        self.drive = dict(path=path, volume=volume, pool=params['storage_pool'], format=wanted['format'],
                          size_bytes=len(data), sha256=sha, uuid=drive_uuid, hostname=spec['hostname'])
        if existing is not None and config_drive_image.sha256(existing) == sha:
            params['config_drive'] = path
            return
        self.changes.append('config_drive created' if existing is None else 'config_drive content')
        if self.check:
            # the guest module checks that a drive file exists, and this one is only planned
            params['config_drive'] = path if existing is not None else None
            return
        target.write(data)
        params['config_drive'] = target.describe()['path']
        self.drive['path'] = params['config_drive']
        running = dom is not None and dom.isActive()
        self.actions.append('wrote the config drive %s%s' % (volume, '; the running guest reads it at its next boot' if running else ''))

    def undo_new_drive(self):
        """Remove the drive this run created, when the guest it was made for could not be defined."""
        if self.check or 'config_drive created' not in self.changes:
            return
        pool = self._active_pool(self.params['storage_pool'])
        vol = lookup.find_volume(pool, self.drive['volume']) if pool is not None else None
        if vol is not None:
            vol.delete(0)

    def _foreign(self, volume):
        """True when the volume named like the guest's drive is not a config drive this collection wrote."""
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive import reader as config_drive_reader
        from ansible_collections.virtops.compute.plugins.module_utils.config_drive.pool import PoolTarget
        try:
            target = PoolTarget(self.conn, self.params['storage_pool'], volume)
            target.check()
            config_drive_reader.existing_drive(target, FOREIGN_DRIVE_HINT)
        except VirtopsError:
            return True
        return False

    def remove_drives(self):
        """With the guest gone, its config drive volumes go too (they are named after it, and nothing else reads them);
        a volume of that name that is not a drive this collection wrote is left alone."""
        pool = self._active_pool(self.params['storage_pool'])
        if pool is None:
            return
        _refresh(pool)
        for image_format in sorted(DRIVE_SUFFIX):
            volume = drive_volume_name(self.name, image_format)
            vol = lookup.find_volume(pool, volume)
            if vol is None or self._foreign(volume):
                continue
            self.changes.append('config_drive removed')
            if not self.check:
                vol.delete(0)
                self.actions.append('removed %s' % volume)

    def drop_other_drive(self):
        """A drive of the other format, left from before the format changed, once the guest uses the new one."""
        wanted = self.params.get('config_drive')
        if self.check or not isinstance(self.drive, dict):
            return
        pool = self._active_pool(self.params['storage_pool'])
        for image_format in DRIVE_SUFFIX:
            if image_format == self.drive['format'] or pool is None:
                continue
            vol = lookup.find_volume(pool, drive_volume_name(self.name, image_format))
            if vol is not None and vol.path() != wanted and not self._foreign(vol.name()):
                vol.delete(0)
                self.later_actions.append('removed the old %s' % drive_volume_name(self.name, image_format))

    # ---------------------------------------------------------------- volumes

    def attach_volumes(self, dom):
        """Create the volumes asked for, then converge each attachment; returns the attachments' results."""
        from ansible_collections.virtops.compute.plugins.module_utils.storage import images as volume_images
        from ansible_collections.virtops.compute.plugins.module_utils.storage.attachments import AttachmentConverger
        attached = []
        for index, spec in enumerate(self.params.get('volumes') or []):
            label = 'volumes.%s' % spec['target']
            pool = self._create.get(index)
            if pool is not None and spec['state'] == 'present':
                source = spec['volume']
                self.changes.append('%s created' % label)
                if self.check:
                    self.changes.append('%s disk' % label)
                    continue
                volume_images.create_empty("volume '%s' in pool '%s'" % (source['name'], source['pool']), pool,
                                           source['name'], spec.get('format') or 'qcow2', spec['size_gb'] * GIB)
                _refresh(pool)
                self.later_actions.append("created the volume '%s' (%d GiB) in pool '%s'"
                                          % (source['name'], spec['size_gb'], source['pool']))
            if dom is None:
                # check mode, guest not defined yet: the attachment is all that can be said
                if spec['state'] == 'present':
                    self.changes.append('%s disk' % label)
                continue
            params = dict(spec, guest=self.name, uri=self.module.params.get('uri'))
            outcome = AttachmentConverger(_Attach(self.module, params)).run()
            self.changes.extend('%s %s' % (label, change) for change in outcome['changes'])
            self.later_actions.extend('%s: %s' % (spec['target'], note) for note in outcome.get('actions') or [])
            if outcome.get('attachment'):
                attached.append(outcome['attachment'])
        return attached
