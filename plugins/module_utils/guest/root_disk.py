# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Growing a guest's root disk: online through QEMU, or offline with its file system too
(``auto_disk_config``, through libguestfs on the host itself).

``RootDiskGrowth`` is mixed into ``GuestConverger``; it uses the converger's ``conn``, ``params``,
``tracker``, ``actions``, ``check``, ``where()``, ``need_restart()`` and ``stop()``.
"""

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_domain
from ansible_collections.virtops.compute.plugins.module_utils.model.units import GIB
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain


class RootDiskGrowth:
    def _root_growth(self, current_domain):
        size_gb = self.params.get('root_size_gb')
        root = current_domain.find_disk(guest_spec.ROOT_TARGET)
        if not size_gb or root is None:
            return None
        vol = lookup.find_volume_by_path(self.conn, root.source_path)
        if vol is None:
            return None
        wanted = size_gb * GIB
        current = instance_storage.volume_capacity(vol)
        if wanted < current:
            raise VirtopsError("%s: root_size_gb %d is smaller than the root disk's %d GiB; shrinking is refused."
                               % (self.where(), size_gb, -(-current // GIB)))
        if wanted > current:
            if self.params.get('auto_disk_config'):
                self._check_offline_growth(current_domain)
            self.tracker.add('root_size_gb', round(current / float(GIB), 2), size_gb)
            return vol, wanted
        return None

    def _check_offline_growth(self, current_domain):
        if not is_local_uri(self.params.get('uri')):
            raise VirtopsError('%s: auto_disk_config grows the root file system with libguestfs on the host itself; '
                               'run the module there (a local uri).' % self.where())
        dom = find_domain(self.conn, self.name)
        if dom is not None and dom.isActive():
            self.need_restart(['root_size_gb'], '%s: growing the root file system (auto_disk_config) needs the guest '
                                                'off; set allow_restart to true to allow it.' % self.where())

    def _grow_filesystem(self, path, image_format):
        """Grow the root partition and file system inside the (already larger) disk image, offline; it is opened as
        ``image_format``, what the definition declares, never what its bytes say."""
        if not is_local_uri(self.params.get('uri')):
            raise VirtopsError('%s: auto_disk_config grows the root file system with libguestfs on the host itself; '
                               'run the module there (a local uri).' % self.where())
        from ansible_collections.virtops.compute.plugins.module_utils.disk_image import grow
        chain.check_backing_chain(self.conn, path, image_format, self.where(), local=True, require_pools=False)
        grown = grow.grow_root(path, image_format, log=self.module.log, conn=self.conn)
        if grown:
            old_gib, new_gib = (size / float(GIB) for size in grown)
            self.actions.append('grew the root file system from %.1f to %.1f GiB' % (old_gib, new_gib))

    def _grow_root(self, dom, vol, size_bytes):
        if self.check:
            return
        if self.params.get('auto_disk_config'):
            was_active = dom.isActive()
            if was_active:
                self.stop(dom)
            vol.resize(size_bytes, 0)
            domain = Domain.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            self._grow_filesystem(vol.path(), chain.declared_format(domain.find_disk(guest_spec.ROOT_TARGET)))
            if was_active:
                dom.create()
            self.actions.append('grew the root disk to %d GiB offline' % (size_bytes // GIB))
            return
        if dom.isActive():
            dom.blockResize(guest_spec.ROOT_TARGET, size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        else:
            vol.resize(size_bytes, 0)
        self.actions.append('grew the root disk to %d GiB' % (size_bytes // GIB))
