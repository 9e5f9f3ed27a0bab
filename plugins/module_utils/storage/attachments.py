# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One disk on one guest: attach, detach, swap its source, change its I/O limits, grow it.

A running guest gets every change live and in its persistent definition together; a
guest that is off gets it in its definition. A swap on a running guest copies the
data to the new source while the guest keeps using the disk (block copy), pivots to
the copy once it has caught up, and only then lets go of the old source; if anything
fails before the pivot the copy is cancelled and the guest stays on the old source.
"""


import time

from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.guest.info import disk_errors
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import require_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import live_devices
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.block_jobs import BlockCopy
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.units import GIB, MIB
from ansible_collections.virtops.compute.plugins.module_utils.storage import secrets as secret_store
from ansible_collections.virtops.compute.plugins.module_utils.storage import sources as disk_sources
from ansible_collections.virtops.compute.plugins.module_utils.storage.attachment_options import TARGET_PATTERN
from ansible_collections.virtops.compute.plugins.module_utils.storage.disk_qos import QOS_KEYS


class AttachmentConverger:

    def __init__(self, module):
        self.module = module
        self.conn = module.conn
        self.params = module.params
        self.check = module.check_mode
        self.tracker = DifferenceTracker()
        self.actions = []
        self.where = "guest '%s' disk %s" % (self.params['guest'], self.params['target'])

    # ---------------------------------------------------------------- checks

    def _validate(self):
        params = self.params
        if not TARGET_PATTERN.fullmatch(params['target']):
            raise VirtopsError("%s: target must be a device name like vdb or sdc." % self.where)
        disk_sources.validate(self.where, params)
        for key, value in (params.get('qos') or {}).items():
            if value is not None and value < 0:
                raise VirtopsError('%s: qos.%s must be at least 0, got %d.' % (self.where, key, value))
        if params.get('size_gb') is not None and params['size_gb'] < 1:
            raise VirtopsError('%s: size_gb must be at least 1, got %d.' % (self.where, params['size_gb']))
        if params.get('size_gb') and params['state'] == 'present' and disk_sources.kind_of(params) in ('block', 'iscsi', 'fibre_channel'):
            raise VirtopsError('%s: size_gb grows a volume or file; a %s disk is grown where it is served.'
                               % (self.where, disk_sources.kind_of(params)))

    def _guest(self):
        return require_domain(self.conn, self.params['guest'])

    # ---------------------------------------------------------------- entry point

    def run(self):
        self._validate()
        dom = self._guest()
        definition = Domain.from_xml(dom.XMLDesc(0 if dom.isActive() else libvirt.VIR_DOMAIN_XML_INACTIVE))
        current = definition.find_disk(self.params['target'])
        if self.params['state'] == 'absent':
            if current is not None:
                self.tracker.add('disk', disk_sources.describe(current), None)
                if not self.check:
                    target = self.params['target']
                    live_devices.detach(dom, current.to_xml(), lambda live: live.find_disk(target) is not None,
                                        'disk %s' % target, "guest '%s'" % self.params['guest'])
                    self.actions.append('detached')
            return self._result(dom)
        local = is_local_uri(self.params.get('uri'))
        wanted, identity, vol = disk_sources.resolve(self.conn, self.params, self.where, local)
        if current is None or disk_sources.identity_of(current) != identity:
            disk_sources.check_new_source(self.conn, wanted, self.params, self.where, local)
        secret_change = self._chap_secret()
        if current is None:
            try:
                self._attach(dom, definition, wanted, identity)
            except VirtopsError as err:
                raise VirtopsError(self._undo_secret(secret_change, str(err))) from None
        elif disk_sources.identity_of(current) != identity:
            self._swap(dom, current, wanted)
        else:
            self._refuse_fixed_changes(current, wanted)
            self._qos(dom, current)
        self._size(dom, vol)
        return self._result(dom)

    def _result(self, dom):
        result = converge_result(self.module, self.tracker, self.actions)
        disk = Domain.from_xml(dom.XMLDesc(0)).find_disk(self.params['target'])
        result['attachment'] = None if disk is None else dict(
            guest=self.params['guest'], target=disk.target_dev, bus=disk.target_bus, source=disk_sources.describe(disk),
            type=disk.type, format=disk.driver_type, serial=disk.serial, readonly=bool(disk.readonly),
            qos=dict((key, value) for key, value in disk.iotune.items() if value), live=bool(dom.isActive()),
            error_policy=disk.driver_error_policy, error=disk_errors(dom).get(disk.target_dev))
        return result

    # ---------------------------------------------------------------- steps

    def _chap_secret(self):
        """Store the CHAP password; returns (secret, changes) when this run changed the secret, else None."""
        iscsi = self.params.get('iscsi')
        if not iscsi or not iscsi.get('chap_username'):
            return None
        if iscsi.get('chap_secret'):
            if secret_store.lookup(self.conn, 'iscsi', iscsi['chap_secret']) is None:
                raise VirtopsError("%s: no libvirt secret of usage iscsi named '%s'." % (self.where, iscsi['chap_secret']))
            return None
        usage_id = disk_sources.chap_usage_id(iscsi['iqn'], iscsi['chap_username'])
        if not iscsi.get('chap_password'):
            if secret_store.lookup(self.conn, 'iscsi', usage_id) is None:
                # the username is not repeated: it may be a password typed into the wrong field
                raise VirtopsError('%s: no CHAP password is stored for this iscsi.chap_username and iqn; give '
                                   'iscsi.chap_password or iscsi.chap_secret.' % self.where)
            return None
        secret, changes = secret_store.ensure(self.conn, 'iscsi', usage_id, iscsi['chap_password'],
                                              'CHAP password of %s for %s' % (iscsi['chap_username'], iscsi['iqn']),
                                              check_mode=self.check)
        if not changes:
            return None
        self.tracker.add('chap_secret', None, 'set', secret=True)
        self.actions.append('stored the CHAP password in the libvirt secret %s' % usage_id)
        return secret, changes

    def _undo_secret(self, secret_change, message):
        """After a failed attach: a secret this run created goes again; a changed one cannot be reverted
        (its old value was never readable), which the message then says."""
        if not secret_change or self.check:
            return message
        secret, changes = secret_change
        if 'created' in changes:
            secret_store.remove(secret)
            return message
        return '%s; the libvirt secret %s keeps the new CHAP password.' % (message.rstrip('.'), secret_store.describe(secret)['usage_id'])

    def _attach(self, dom, definition, wanted, identity):
        for disk in definition.disks:
            if disk_sources.identity_of(disk) == identity:
                raise VirtopsError('%s: %s is already attached to this guest as %s.'
                                   % (self.where, disk_sources.describe(wanted), disk.target_dev))
        self.tracker.add('disk', None, disk_sources.describe(wanted))
        if self.check:
            return
        live_devices.attach(dom, wanted.to_xml(), disk_sources.describe(wanted), self.where)
        self.actions.append('attached %s%s' % (disk_sources.describe(wanted), ' live' if dom.isActive() else ''))

    def _refuse_fixed_changes(self, current, wanted):
        fixed = [name for name, before, after in (('bus', current.target_bus, wanted.target_bus),
                                                  ('serial', current.serial, wanted.serial),
                                                  ('readonly', bool(current.readonly), bool(wanted.readonly)),
                                                  ('error_policy', current.driver_error_policy,
                                                   wanted.driver_error_policy))
                 if before != after and (name not in ('serial', 'error_policy') or after is not None)]
        if fixed:
            raise VirtopsError('%s: changing %s of an attached disk needs it detached first (state absent).'
                               % (self.where, ', '.join(fixed)))

    def _qos(self, dom, current):
        if self.params.get('qos') is None:
            return
        wanted = dict((key, value) for key, value in self.params['qos'].items() if value)
        now = dict((key, value) for key, value in current.iotune.items() if value and key in QOS_KEYS)
        if not self.tracker.add('qos', now, wanted) or self.check:
            return
        settings = dict((key, wanted.get(key, 0)) for key in QOS_KEYS)
        try:
            # libvirt takes live and persistent one at a time here
            if dom.isActive():
                dom.setBlockIoTune(self.params['target'], settings, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            dom.setBlockIoTune(self.params['target'], settings, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        except libvirt.libvirtError as err:
            raise VirtopsError('%s: setting the I/O limits failed: %s.' % (self.where, live_devices.libvirt_reason(err))) from None
        self.actions.append('set the I/O limits%s' % (' live' if dom.isActive() else ''))

    def _size(self, dom, vol):
        size_gb = self.params.get('size_gb')
        if not size_gb or vol is None:
            return
        capacity = vol.info()[1]
        wanted = size_gb * GIB
        if wanted < capacity:
            raise VirtopsError('%s: size_gb %d is smaller than the volume\'s %.1f GiB; shrinking is refused.'
                               % (self.where, size_gb, capacity / float(GIB)))
        if wanted == capacity or not self.tracker.add('size_gb', round(capacity / float(GIB), 2), size_gb) or self.check:
            return
        attached = Domain.from_xml(dom.XMLDesc(0)).find_disk(self.params['target']) is not None
        try:
            if dom.isActive() and attached:
                dom.blockResize(self.params['target'], wanted, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            else:
                vol.resize(wanted, 0)
        except libvirt.libvirtError as err:
            raise VirtopsError('%s: growing to %d GiB failed: %s.' % (self.where, size_gb, live_devices.libvirt_reason(err))) from None
        self.actions.append('grew to %d GiB%s' % (size_gb, ' and told the running guest' if dom.isActive() else ''))

    # ---------------------------------------------------------------- swap

    def _swap(self, dom, current, wanted):
        old, new = disk_sources.describe(current), disk_sources.describe(wanted)
        if not self.params['swap']:
            raise VirtopsError('%s: the target holds %s, not %s; set swap to true to move the disk to the new source.'
                               % (self.where, old, new))
        self.tracker.add('source', old, new)
        if self.check:
            return
        if dom.isActive():
            self._block_copy(dom, wanted)
        # the persistent definition follows: the old source out, the new one in
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        persistent = Domain.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find_disk(self.params['target'])
        if persistent is not None and disk_sources.identity_of(persistent) != disk_sources.identity_of(wanted):
            dom.detachDeviceFlags(persistent.to_xml(), flags)
            dom.attachDeviceFlags(wanted.to_xml(), flags)
        if not dom.isActive():
            self.actions.append('pointed the disk at %s' % new)

    def _block_copy(self, dom, wanted):
        target = self.params['target']
        destination = disk_sources.copy_destination(wanted)
        started = time.monotonic()
        job = BlockCopy(dom, target, self.where, log=self.module.log, what='copy to the new source')
        # a persistent guest's copy job is transient: it would not survive a QEMU restart, and is not meant to
        job.start(destination.to_xml(), libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB,
                  'starting the copy to %s failed' % disk_sources.describe(wanted))
        try:
            copied = job.wait_ready(self.params['swap_timeout'])
            job.pivot()
        except VirtopsError as err:
            job.cancel()
            raise VirtopsError('%s; the guest stays on the old source.' % str(err).rstrip('.')) from None
        except BaseException:
            job.cancel()
            raise
        self.actions.append('copied %d MiB to %s in %.1f s while the guest ran, and switched to it'
                            % (copied // MIB, disk_sources.describe(wanted), time.monotonic() - started))
