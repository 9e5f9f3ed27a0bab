# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One volume of a libvirt storage pool: created (empty, copied or backed by an image), grown, or deleted.

Sizes only grow: a smaller ``size_gb`` is refused, as is deleting a volume that a
defined guest or another volume still reads.
"""


import posixpath
import time

from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, is_local_uri, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.model.units import GIB, MIB
from ansible_collections.virtops.compute.plugins.module_utils.storage import images as volume_images

VOLUME_FORMATS = ('qcow2', 'raw')
TRACKED = ('state', 'format', 'capacity_bytes', 'backing')

VOLUME_OPTIONS = dict(
    pool=dict(type='str', required=True),
    name=dict(type='str', required=True),
    size_gb=dict(type='int'),
    format=dict(type='str', choices=list(VOLUME_FORMATS), default='qcow2'),
    from_image=dict(type='path'),
    from_image_format=dict(type='str', choices=list(VOLUME_FORMATS)),
    backing=dict(type='bool', default=False),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def where_of(params):
    return "volume '%s' in pool '%s'" % (params['name'], params['pool'])


def human_size(nbytes):
    """``2 GiB``, ``1.5 GiB`` or ``20 MiB``: a size the way the messages name it."""
    unit, name = (GIB, 'GiB') if nbytes >= GIB else (MIB, 'MiB')
    # rounded up, so that a size just above N GiB never reads as N GiB in a "smaller than" message
    hundredths = -(-nbytes * 100 // unit)
    return ('%d.%02d' % divmod(hundredths, 100)).rstrip('0').rstrip('.') + ' ' + name


def validate(params):
    where = where_of(params)
    name = params['name']
    if not name or '/' in name or name in ('.', '..'):
        raise VirtopsError("%s: the name must be non-empty and without '/'." % where)
    if params['state'] == 'absent':
        return
    if params.get('size_gb') is not None and params['size_gb'] <= 0:
        raise VirtopsError('%s: size_gb %d must be positive.' % (where, params['size_gb']))
    if params.get('backing') and not params.get('from_image'):
        raise VirtopsError('%s: backing needs from_image, the image to use as backing store.' % where)
    if params.get('from_image_format') and not params.get('from_image'):
        raise VirtopsError('%s: from_image_format needs from_image, the image it describes.' % where)
    if params.get('backing') and params['format'] != 'qcow2':
        raise VirtopsError('%s: backing needs format qcow2, since a %s volume cannot have a backing store.'
                           % (where, params['format']))


def new_capacity(where, size_gb, image_bytes=None):
    """The capacity of a volume about to be made: size_gb, at least the image's virtual size."""
    if size_gb is None:
        if image_bytes is None:
            raise VirtopsError('%s does not exist and size_gb (or from_image) is needed to create it.' % where)
        return image_bytes
    wanted = size_gb * GIB
    if image_bytes is not None and wanted < image_bytes:
        raise VirtopsError('%s: size_gb %d is smaller than the image\'s %s; shrinking is refused.'
                           % (where, size_gb, human_size(image_bytes)))
    return max(wanted, image_bytes or 0)


def grown_capacity(where, size_gb, current_bytes):
    """The capacity after growing to size_gb (the current one when size_gb is omitted or equal)."""
    if size_gb is None:
        return current_bytes
    wanted = size_gb * GIB
    if wanted < current_bytes:
        raise VirtopsError("%s: size_gb %d is smaller than the volume's %s; shrinking is refused."
                           % (where, size_gb, human_size(current_bytes)))
    return wanted


def check_unchangeable(where, current, params):
    """Refuse what an existing volume cannot become: another format or another backing image."""
    if params['format'] != current['format']:
        raise VirtopsError('%s is %s, and its format is not changed to %s.' % (where, current['format'], params['format']))
    image = params.get('from_image')
    if not image:
        return
    backing = current['backing']
    if params.get('backing') and (not backing or posixpath.normpath(backing) != posixpath.normpath(image)):
        raise VirtopsError("%s has backing store %s, not from_image '%s', and the backing store is not changed."
                           % (where, "'%s'" % backing if backing else 'none', image))
    if not params.get('backing') and backing:
        raise VirtopsError("%s is an overlay on '%s', not the full copy that backing false asks for." % (where, backing))


def disk_references(domain_xml):
    """The paths and (pool, volume) pairs a domain's disks read, their backing chains included."""
    paths, volumes = set(), set()
    for disk in Domain.from_xml(domain_xml).disks:
        for source in disk.element.iter('source'):
            for attr in ('file', 'dev'):
                if source.get(attr):
                    paths.add(posixpath.normpath(source.get(attr)))
            if source.get('pool') and source.get('volume'):
                volumes.add((source.get('pool'), source.get('volume')))
    return paths, volumes


def guests_using(conn, pool_name, vol_name, path):
    """``[(guest, running)]`` for every defined or running guest with a disk on the volume."""
    users = []
    for dom in conn.listAllDomains(0):
        try:
            views = [dom.XMLDesc(0)]
            if dom.isPersistent() and dom.isActive():
                views.append(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            running = bool(dom.isActive())
        except libvirt.libvirtError:
            continue
        for xml in views:
            paths, volumes = disk_references(xml)
            if posixpath.normpath(path) in paths or (pool_name, vol_name) in volumes:
                users.append((dom.name(), running))
                break
    return sorted(users)


def volumes_backed_by(conn, path):
    """``pool/volume`` of every volume of an active pool whose backing store is ``path``."""
    dependants = []
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        for vol in pool.listAllVolumes(0):
            try:
                backing = StorageVolume.from_xml(vol.XMLDesc(0)).backing_path
            except libvirt.libvirtError:
                continue
            if backing and posixpath.normpath(backing) == posixpath.normpath(path):
                dependants.append('%s/%s' % (pool.name(), vol.name()))
    return sorted(dependants)


def quoted(names):
    return ', '.join("'%s'" % name for name in names)


def describe_volume(pool_name, vol):
    model = StorageVolume.from_xml(vol.XMLDesc(0))
    return dict(name=model.name, pool=pool_name, path=model.target_path, format=model.target_format or 'raw',
                capacity_bytes=model.capacity_bytes, allocation_bytes=model.allocation_bytes, backing=model.backing_path)


def refresh(pool):
    # a volume upload finishes with a refresh of its own in libvirt's background; wait for it rather than fail
    for _attempt in range(50):
        try:
            pool.refresh(0)
            return
        except libvirt.libvirtError as err:
            if 'asynchronous jobs' not in (err.get_error_message() or ''):
                raise
            time.sleep(0.1)


class VolumeConverger:
    """Brings one volume to the options' state, recording each change for check mode and diff."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.where = where_of(module.params)
        self.tracker = DifferenceTracker()

    def _pool(self):
        pool = lookup.find_pool(self.module.conn, self.params['pool'])
        if pool is None:
            if self.params['state'] == 'absent':
                return None
            raise VirtopsError("%s: the storage pool '%s' does not exist." % (self.where, self.params['pool']))
        if not pool.isActive():
            raise VirtopsError("%s: the storage pool '%s' is not active (start it with storage_pool state=active)."
                               % (self.where, self.params['pool']))
        refresh(pool)
        return pool

    def run(self):
        validate(self.params)
        pool = self._pool()
        vol = None
        if pool is not None:
            vol = lookup.find_volume(pool, self.params['name'])
        current = describe_volume(self.params['pool'], vol) if vol is not None else None
        if self.params['state'] == 'absent':
            after = self._remove(vol, current) if current else None
        elif current is None:
            after = self._create(pool)
        else:
            after = self._update(vol, current)
        before = dict(current, state='present') if current else dict(state='absent')
        planned = dict(after, state='present') if after else dict(state='absent')
        for key in TRACKED:
            self.tracker.add(key, before.get(key), planned.get(key))
        return converge_result(self.module, self.tracker, volume=after)

    def _create(self, pool):
        params = self.params
        image = None
        if params.get('from_image'):
            image = volume_images.find_image(self.module.conn, self.where, params['from_image'], is_local_uri(self.module.uri),
                                             params.get('from_image_format'))
        capacity = new_capacity(self.where, params.get('size_gb'), image.capacity_bytes if image else None)
        if self.module.check_mode:
            directory = StoragePool.from_xml(pool.XMLDesc(0)).target_path
            return dict(name=params['name'], pool=params['pool'], path=posixpath.join(directory, params['name']),
                        format=params['format'], capacity_bytes=capacity, allocation_bytes=None,
                        backing=image.path if image and params['backing'] else None)
        if image is None:
            vol = volume_images.create_empty(self.where, pool, params['name'], params['format'], capacity)
        elif params['backing']:
            vol = volume_images.create_overlay(self.where, pool, params['name'], image, capacity)
        else:
            vol = volume_images.create_copy(self.where, self.module.conn, pool, params['name'], params['format'], image)
            refresh(pool)
            vol = pool.storageVolLookupByName(params['name'])
            if capacity > vol.info()[1]:
                try:
                    vol.resize(capacity, 0)
                except libvirt.libvirtError as err:
                    vol.delete(0)
                    raise VirtopsError(describe_libvirt_error(err, where='%s: cannot grow the copy to %s, so it is '
                                                              'removed again' % (self.where, human_size(capacity))))
        return describe_volume(params['pool'], vol)

    def _update(self, vol, current):
        check_unchangeable(self.where, current, self.params)
        capacity = grown_capacity(self.where, self.params.get('size_gb'), current['capacity_bytes'])
        if capacity == current['capacity_bytes']:
            return current
        users = guests_using(self.module.conn, self.params['pool'], current['name'], current['path'])
        running = [name for name, active in users if active]
        if running:
            raise VirtopsError('%s is in use by the running guest(s) %s, so it is grown through the guest (volume_attachment '
                               'size_gb), not here.' % (self.where, quoted(running)))
        if self.module.check_mode:
            return dict(current, capacity_bytes=capacity)
        try:
            vol.resize(capacity, 0)
        except libvirt.libvirtError as err:
            raise VirtopsError(describe_libvirt_error(err, where='%s: cannot grow it to %s' % (self.where, human_size(capacity))))
        return describe_volume(self.params['pool'], vol)

    def _remove(self, vol, current):
        users = [name for name, _running in guests_using(self.module.conn, self.params['pool'], current['name'], current['path'])]
        if users:
            raise VirtopsError('%s is a disk of the guest(s) %s, so it is not deleted (detach it or remove the guest first).'
                               % (self.where, quoted(users)))
        dependants = volumes_backed_by(self.module.conn, current['path'])
        if dependants:
            raise VirtopsError('%s is the backing store of the volume(s) %s, so it is not deleted.'
                               % (self.where, quoted(dependants)))
        if not self.module.check_mode:
            try:
                vol.delete(0)
            except libvirt.libvirtError as err:
                raise VirtopsError(describe_libvirt_error(err, where='%s: cannot delete it' % self.where))
        return None
