# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's root disk saved as a standalone image that ``guest`` can boot from.

Live: QEMU mirrors the whole disk (its backing chain flattened) into a new file while the
guest keeps running; once the mirror has caught up it is cancelled, which leaves the new
file a consistent copy of the disk as of that instant. The guest is never paused; with
``quiesce`` its filesystems are frozen through the guest agent for the instant of the cut.

Cold: the guest is off (or is saved with managed save on request, and restored after), and
the disk chain is converted into one image, through libvirt's storage API when the
destination directory is a pool, else with qemu-img on the host. The disk is read as the
format its definition declares (a raw disk's bytes are the guest's, a forged qcow2 header
included), and through a backing chain only where each layer names its backing file's
format (``storage/chain.py``).

Either way the image is written under an unpredictable temporary name next to ``dest``
(created exclusively, mode 0600) and renamed into place only when complete, so a failure
never leaves a half image at ``dest`` and nobody else can read or replace it meanwhile.
"""


import os
import subprocess
import tempfile
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import require_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.agent import agent_call, check_timeout
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.block_jobs import BlockCopy
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.live_devices import libvirt_reason
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Disk
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool, StorageVolume
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain
from ansible_collections.virtops.compute.plugins.module_utils.storage.images import volume_model

TEMP_SUFFIX = '.virtops-partial'
IMAGE_MODE = 0o600


def partial_file(dest):
    """A new, empty file next to ``dest`` with an unpredictable name, mode 0600, made with O_EXCL; its path."""
    handle, path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(dest), suffix=TEMP_SUFFIX,
                                    dir=os.path.dirname(dest))
    os.close(handle)
    return path


def finish(partial, dest):
    """Put the complete image in place, private to root whatever QEMU's relabelling left."""
    os.chown(partial, 0, 0)
    os.chmod(partial, IMAGE_MODE)
    os.rename(partial, dest)


class Snapshotter:

    def __init__(self, module):
        self.module = module
        self.conn = module.conn
        self.params = module.params
        self.where = "guest '%s'" % self.params['guest']
        self.actions = []

    # ---------------------------------------------------------------- entry point

    def run(self):
        params = self.params
        dest = params['dest']
        if not os.path.isabs(dest):
            raise VirtopsError('%s: dest must be an absolute path, got %s.' % (self.where, dest))
        dom = self._guest()
        local = is_local_uri(params.get('uri'))
        if local and not os.path.isdir(os.path.dirname(dest)):
            raise VirtopsError("%s: the directory of dest '%s' does not exist." % (self.where, dest))
        disk = self._disk(dom)
        power = states.describe(dom.state()[0], managed_save=bool(dom.hasManagedSaveImage(0)))['state']
        mode = params['mode']
        if mode == 'auto':
            mode = 'live' if power in ('running', 'paused') else 'cold'
        if mode == 'live' and power not in ('running', 'paused'):
            raise VirtopsError('%s is %s; a live snapshot needs it running (mode cold or auto copies a stopped guest).'
                               % (self.where, power))
        if params['quiesce']:
            check_timeout(self.where, params['agent_timeout'])
        if params['quiesce'] and mode == 'live' and not any(c.is_guest_agent for c in Domain.from_xml(dom.XMLDesc(0)).channels):
            raise VirtopsError('%s: quiesce needs the guest agent channel (guest_agent: true).' % self.where)
        exists = os.path.exists(dest) if local else self._volume_at(dest) is not None
        if exists and not params['force']:
            return dict(changed=False, snapshot=self._facts(dest, mode, None), actions=['dest exists; left as it is'])
        if self.module.check_mode:
            return dict(changed=True, snapshot=dict(dest=dest, mode=mode, format=params['format']))
        started = time.monotonic()
        paused, frozen = (self._live(dom, disk, dest) if mode == 'live' else self._cold(dom, disk, dest, power, local))
        facts = self._facts(dest, mode, time.monotonic() - started)
        facts.update(guest_paused_seconds=round(paused, 3), frozen_seconds=round(frozen, 3))
        self.actions.append('saved %s as %s (%s, %d MiB) in %.1f s; the guest was paused %.2f s'
                            % (disk.target_dev, dest, mode, facts['size_bytes'] // MIB, facts['duration_seconds'], paused))
        return dict(changed=True, snapshot=facts, actions=self.actions)

    # ---------------------------------------------------------------- lookups

    def _guest(self):
        return require_domain(self.conn, self.params['guest'])

    def _disk(self, dom):
        disk = Domain.from_xml(dom.XMLDesc(0)).find_disk(self.params['disk'])
        if disk is None or not disk.source_path:
            raise VirtopsError('%s has no file or block disk %s to save.' % (self.where, self.params['disk']))
        return disk

    def _volume_at(self, path):
        return lookup.find_volume_by_path(self.conn, path)

    def _facts(self, dest, mode, duration):
        size = None
        vol = self._volume_at(dest)
        if vol is not None:
            size = vol.info()[2]
        elif os.path.exists(dest):
            size = os.stat(dest).st_blocks * 512
        facts = dict(dest=dest, mode=mode, format=self.params['format'], size_bytes=size)
        if duration is not None:
            facts['duration_seconds'] = round(duration, 2)
        return facts

    # ---------------------------------------------------------------- live

    def _live(self, dom, disk, dest):
        partial = partial_file(dest)
        copy = Disk()
        copy.type = 'file'
        copy.source_file = partial
        copy.driver_type = self.params['format']
        job = BlockCopy(dom, disk.target_dev, self.where, log=self.module.log, what='live copy')
        try:
            # QEMU formats the private file made above (REUSE_EXT would expect an image there already)
            self._prepare_copy_target(dom, disk, partial)
            job.start(copy.to_xml(), libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB | libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT,
                      'the live copy of %s did not start' % disk.target_dev)
        except BaseException:
            _remove(partial)
            raise
        frozen = 0.0
        try:
            job.wait_ready(self.params['timeout'], self._why_copy_stopped)
            # writers in the guest block from early in the freeze call (it flushes the journal), so the
            # frozen time counts from before that call, not from its return
            freeze_started = time.monotonic()
            if self.params['quiesce']:
                self._freeze(dom)
            try:
                # cancelling a mirror that has caught up leaves its target a consistent copy as of now
                job.cut()
            finally:
                if self.params['quiesce']:
                    self._thaw(dom)
                    frozen = time.monotonic() - freeze_started
        except BaseException:
            job.cancel()
            _remove(partial)
            raise
        finish(partial, dest)
        return 0.0, frozen

    def _prepare_copy_target(self, dom, disk, partial):
        """An empty image of the snapshot's format and the disk's size in the private file."""
        size = dom.blockInfo(disk.target_dev, 0)[0]
        proc = subprocess.run(['qemu-img', 'create', '-q', '-f', self.params['format'], partial, str(size)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise VirtopsError('%s: preparing %s for the live copy failed: %s.'
                               % (self.where, self.params['dest'], ' '.join(proc.stderr.split()).rstrip('.')))

    def _why_copy_stopped(self):
        """QEMU ends a mirror whose target fails to write without saying why through libvirt; a full
        destination is the usual cause, and its free space tells."""
        directory = os.path.dirname(self.params['dest'])
        free = None
        if is_local_uri(self.params.get('uri')) and os.path.isdir(directory):
            stat = os.statvfs(directory)
            free = stat.f_bavail * stat.f_frsize
        else:
            pool = self._pool_for(directory)
            if pool is not None:
                free = pool.info()[3]
        if free is not None and free < 16 * MIB:
            return ' because there is no space left in %s (%d MiB free); nothing was kept' % (directory, free // MIB)
        return ''

    def _freeze(self, dom):
        seconds = self.params['agent_timeout']
        try:
            agent_call(dom, self.where, 'freezing its filesystems through the guest agent', seconds,
                       lambda: dom.fsFreeze(None, 0))
        except VirtopsError:
            # a freeze that timed out may still have frozen some filesystems: never leave them so
            try:
                agent_call(dom, self.where, 'thawing', seconds, lambda: dom.fsThaw(None, 0))
            except VirtopsError:
                pass
            raise

    def _thaw(self, dom):
        last = None
        for _attempt in range(3):
            try:
                agent_call(dom, self.where, 'thawing', self.params['agent_timeout'], lambda: dom.fsThaw(None, 0))
                return
            except VirtopsError as err:
                last = err
                time.sleep(1)
        raise VirtopsError('%s: thawing its filesystems through the guest agent failed (%s), so they may still be '
                           'frozen; run guest-fsfreeze-thaw in the guest.' % (self.where, str(last).replace(self.where + ': ', '', 1).rstrip('.')))

    # ---------------------------------------------------------------- cold

    def _cold(self, dom, disk, dest, power, local):
        saved = False
        started_paused = power == 'paused'
        if power in ('running', 'paused'):
            before = time.monotonic()
            dom.managedSave(0)
            saved = True
            self.actions.append('saved the guest with managed save')
        try:
            self._convert(dom, disk, dest, local)
        finally:
            if saved:
                dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if started_paused else 0)
                self.actions.append('restored the guest %s' % power)
        return (time.monotonic() - before if saved else 0.0), 0.0

    def _convert(self, dom, disk, dest, local):
        source, source_format = disk.source_path, chain.declared_format(disk)
        chain.check_backing_chain(self.conn, source, source_format, self.where, local, require_pools=False)
        pool = self._pool_for(os.path.dirname(dest))
        source_vol = self._volume_at(source)
        # libvirt's copy reads the source as its pool guessed it from the content: only when that is the declared
        # format is it the same disk
        pool_reads = source_vol is not None and (StorageVolume.from_xml(source_vol.XMLDesc(0)).target_format or 'raw')
        if pool is not None and pool_reads == source_format:
            copy = volume_model(os.path.basename(dest), self.params['format'], source_vol.info()[1])
            copy.permissions_mode = '%04o' % IMAGE_MODE
            try:
                pool.createXMLFrom(copy.to_xml(), source_vol, 0)
            except libvirt.libvirtError as err:
                raise VirtopsError('%s: copying the disk to %s failed: %s.' % (self.where, dest, libvirt_reason(err))) from None
            return
        if not local:
            raise VirtopsError('%s: against a remote uri, dest must lie in a storage pool directory of the host, and the '
                               'disk in a pool that reads it as %s.' % (self.where, source_format))
        partial = partial_file(dest)
        proc = subprocess.run(['qemu-img', 'convert', '-f', source_format, '-O', self.params['format'], source, partial],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            _remove(partial)
            reason = ' '.join(proc.stderr.split()).rstrip('.')
            raise VirtopsError('%s: copying the disk to %s failed: %s.' % (self.where, dest, reason))
        finish(partial, dest)
        if pool is not None:
            pool.refresh(0)

    def _pool_for(self, directory):
        for pool in self.conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            if StoragePool.from_xml(pool.XMLDesc(0)).target_path == directory:
                pool.refresh(0)
                return pool
        return None


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass
