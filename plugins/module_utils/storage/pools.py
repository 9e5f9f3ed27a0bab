# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One libvirt directory storage pool: defined, built, started, autostarted, stopped or removed.

``plan_pool`` decides from the pool as it is and the options what it should
become (or refuses); ``PoolConverger`` then makes it so through libvirt, which
also works against a remote URI: building and deleting the directory are
libvirt's pool build and delete, never local file operations.
"""


import posixpath

from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_pool
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool

POOL_TYPES = ('dir',)
POOL_STATES = ('present', 'active', 'inactive', 'absent')
TRACKED = ('state', 'type', 'path', 'autostart')

POOL_OPTIONS = dict(
    name=dict(type='str', required=True),
    type=dict(type='str', choices=list(POOL_TYPES), default='dir'),
    path=dict(type='path'),
    state=dict(type='str', choices=list(POOL_STATES), default='present'),
    autostart=dict(type='bool'),
    delete_path=dict(type='bool', default=False),
)


def where_of(name):
    return "storage pool '%s'" % name


def run_state(state):
    """The libvirt state an option value asks for: present means running, like active."""
    return 'active' if state in ('present', 'active') else state


def normalize_path(path):
    return posixpath.normpath(path) if path else path


def validate(params):
    name = params['name']
    if not name or '/' in name or name.strip() != name:
        raise VirtopsError("storage pool name '%s' must be non-empty, without '/' or surrounding spaces." % name)
    path = params.get('path')
    if path and not posixpath.isabs(path):
        raise VirtopsError("%s: path '%s' must be absolute." % (where_of(name), path))


def plan_pool(current, params):
    """The pool as it should be after the run (None when absent); VirtopsError for a refused change.

    ``current`` is ``describe_pool``'s dict or None when the pool is not defined."""
    name = params['name']
    if params['state'] == 'absent':
        if current and params.get('delete_path') and current['type'] not in POOL_TYPES:
            raise VirtopsError("%s is a '%s' pool; delete_path only deletes the directory of a dir pool."
                               % (where_of(name), current['type']))
        return None
    wanted_state = run_state(params['state'])
    path = normalize_path(params.get('path'))
    if current is None:
        if not path:
            raise VirtopsError('%s does not exist and path is needed to define it.' % where_of(name))
        autostart = params.get('autostart')
        if autostart is None:
            # a pool meant to run should run again after the host restarts
            autostart = wanted_state == 'active'
        return dict(name=name, type=params['type'], path=path, state=wanted_state, autostart=autostart)
    if current['type'] != params['type']:
        raise VirtopsError("%s is a '%s' pool, not '%s'; this module manages dir pools only."
                           % (where_of(name), current['type'], params['type']))
    if path and path != normalize_path(current['path']):
        raise VirtopsError("%s: path '%s' differs from its path '%s', and the path of a defined pool is not changed "
                           "(remove the pool with state=absent and define it again)." % (where_of(name), path, current['path']))
    autostart = current['autostart'] if params.get('autostart') is None else params['autostart']
    return dict(name=name, type=current['type'], path=current['path'], state=wanted_state, autostart=autostart)


def lookup(conn, name):
    return find_pool(conn, name)


def volume_names(pool):
    """The names of the volumes of an active pool, as the pool's directory holds them now."""
    pool.refresh(0)
    return sorted(pool.listVolumes())


def describe_pool(pool):
    model = StoragePool.from_xml(pool.XMLDesc(0))
    active = bool(pool.isActive())
    return dict(name=model.name, type=model.type, path=model.target_path, state='active' if active else 'inactive',
                autostart=bool(pool.autostart()), capacity_bytes=model.capacity_bytes if active else None,
                allocation_bytes=model.allocation_bytes if active else None,
                available_bytes=model.available_bytes if active else None,
                volumes=volume_names(pool) if active else [])


def _predicted(wanted):
    return dict(wanted, capacity_bytes=None, allocation_bytes=None, available_bytes=None, volumes=[])


class PoolConverger:
    """Brings one pool to the options' state, recording each change for check mode and diff."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params['name']
        self.tracker = DifferenceTracker()

    def run(self):
        validate(self.params)
        pool = lookup(self.module.conn, self.name)
        current = describe_pool(pool) if pool is not None else None
        wanted = plan_pool(current, self.params)
        before = current or dict(state='absent')
        after = wanted or dict(state='absent')
        for key in TRACKED:
            self.tracker.add(key, before.get(key), after.get(key))
        if wanted is None:
            if pool is not None:
                self._remove(pool, current)
        elif not self.module.check_mode:
            pool = self._converge(pool, current, wanted)
        result = converge_result(self.module, self.tracker)
        if wanted is None:
            result['pool'] = None
        elif self.module.check_mode:
            result['pool'] = dict(current, **wanted) if current else _predicted(wanted)
        else:
            result['pool'] = describe_pool(pool)
        return result

    def _converge(self, pool, current, wanted):
        created = pool is None
        if created:
            pool = self._define(wanted)
        try:
            active = bool(pool.isActive())
            if wanted['state'] == 'active' and not active:
                pool.create(0)
            elif wanted['state'] == 'inactive' and active:
                pool.destroy()
            if current is None or current['autostart'] != wanted['autostart']:
                pool.setAutostart(1 if wanted['autostart'] else 0)
        except libvirt.libvirtError as err:
            if created:
                self._undo_define(pool)
            raise VirtopsError(describe_libvirt_error(err, where='%s: cannot make it %s' % (where_of(self.name), wanted['state'])))
        return pool

    def _define(self, wanted):
        model = StoragePool()
        model.type = wanted['type']
        model.name = wanted['name']
        model.target_path = wanted['path']
        try:
            pool = self.module.conn.storagePoolDefineXML(model.to_xml(), 0)
        except libvirt.libvirtError as err:
            raise VirtopsError(describe_libvirt_error(err, where='%s: cannot define it' % where_of(self.name)))
        try:
            pool.build(0)
        except libvirt.libvirtError as err:
            self._undo_define(pool)
            raise VirtopsError(describe_libvirt_error(
                err, where="%s: cannot create its directory '%s'" % (where_of(self.name), wanted['path'])))
        return pool

    @staticmethod
    def _undo_define(pool):
        try:
            if pool.isActive():
                pool.destroy()
            pool.undefine()
        except libvirt.libvirtError:
            pass

    def _held_volumes(self, pool, current):
        """The volumes in the pool's directory; None when they cannot be known without changing anything."""
        if current['state'] == 'active':
            return current['volumes']
        if self.module.check_mode:
            return None
        # an inactive pool lists nothing, so it runs for as long as it takes to look
        try:
            pool.create(0)
        except libvirt.libvirtError:
            return None
        try:
            return volume_names(pool)
        finally:
            pool.destroy()

    def _remove(self, pool, current):
        delete_path = self.params.get('delete_path')
        if delete_path:
            self.tracker.add('directory', current['path'], None)
            held = self._held_volumes(pool, current)
            if held:
                raise VirtopsError("%s still holds the volumes %s, so its directory is not deleted (remove them with "
                                   "the volume module first, or leave delete_path false)."
                                   % (where_of(self.name), ', '.join("'%s'" % vol for vol in held)))
        if self.module.check_mode:
            return
        if current['state'] == 'active':
            pool.destroy()
        if delete_path:
            try:
                pool.delete(0)
            except libvirt.libvirtError as err:
                # a directory someone already removed is as deleted as it gets: undefine instead of failing forever
                if current['state'] != 'active' and 'No such file or directory' in (err.get_error_message() or ''):
                    pool.undefine()
                    return
                if current['state'] == 'active':
                    pool.create(0)
                raise VirtopsError(describe_libvirt_error(
                    err, where="%s: cannot delete its directory '%s', so the pool is left %s"
                    % (where_of(self.name), current['path'], current['state'])))
        pool.undefine()
