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

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re
import time

from ansible_collections.virtops.compute.plugins.module_utils import disk_sources, live_devices, secret_store
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.guest import disk_errors, require_domain
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

TARGET_PATTERN = re.compile(r'^(vd|sd|hd|xvd)[a-z]{1,2}$')
QOS_KEYS = ('total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec', 'total_iops_sec', 'read_iops_sec', 'write_iops_sec')
GIB = 1024 ** 3
MIB = 1024 ** 2

# the volume_attachment module's options but its guest: the guests module takes them per item too (volumes[])
ATTACHMENT_OPTIONS = dict(
    target=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    volume=dict(type='dict', options=dict(pool=dict(type='str', required=True), name=dict(type='str', required=True))),
    path=dict(type='path'),
    format=dict(type='str', choices=['raw', 'qcow2']),
    block=dict(type='path'),
    iscsi=dict(type='dict', options=dict(
        portal=dict(type='str', required=True), iqn=dict(type='str', required=True), lun=dict(type='int', default=0),
        chap_username=dict(type='str'), chap_password=dict(type='str', no_log=True),
        chap_secret=dict(type='str', no_log=False))),
    fibre_channel=dict(type='dict', options=dict(target_wwn=dict(type='str', required=True),
                                                 lun=dict(type='int', required=True))),
    bus=dict(type='str', default='virtio', choices=['virtio', 'scsi', 'sata', 'usb']),
    serial=dict(type='str'),
    readonly=dict(type='bool', default=False),
    error_policy=dict(type='str', choices=['stop', 'report', 'ignore', 'enospace']),
    qos=dict(type='dict', options=dict((key, dict(type='int')) for key in QOS_KEYS)),
    size_gb=dict(type='int'),
    swap=dict(type='bool', default=False),
    swap_timeout=dict(type='int', default=3600),
)


class AttachmentConverger:

    def __init__(self, vm):
        self.vm = vm
        self.conn = vm.conn
        self.params = vm.params
        self.check = vm.check_mode
        self.tracker = DifferenceTracker()
        self.notes = []
        self.where = "guest '%s' disk %s" % (self.params['guest'], self.params['target'])

    # ---------------------------------------------------------------- checks

    def _validate(self):
        params = self.params
        if not TARGET_PATTERN.match(params['target']):
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
                    self.notes.append('detached')
            return self._result(dom)
        wanted, identity, vol = disk_sources.resolve(self.conn, self.params, self.where, is_local_uri(self.params.get('uri')))
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
        result = dict(changed=self.tracker.has_differences, changes=self.tracker.differing_names())
        if self.notes:
            result['actions'] = self.notes
        if self.vm.diff_mode:
            result['diff'] = self.tracker.diff()
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
        self.notes.append('stored the CHAP password in the libvirt secret %s' % usage_id)
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
        self.notes.append('attached %s%s' % (disk_sources.describe(wanted), ' live' if dom.isActive() else ''))

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
        self.notes.append('set the I/O limits%s' % (' live' if dom.isActive() else ''))

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
        self.notes.append('grew to %d GiB%s' % (size_gb, ' and told the running guest' if dom.isActive() else ''))

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
            self.notes.append('pointed the disk at %s' % new)

    def _block_copy(self, dom, wanted):
        target = self.params['target']
        destination = disk_sources.copy_destination(wanted)
        started = time.monotonic()
        try:
            # a persistent guest's copy job is transient: it would not survive a QEMU restart, and is not meant to
            dom.blockCopy(target, destination.to_xml(), {},
                          libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB)
        except libvirt.libvirtError as err:
            raise VirtopsError('%s: starting the copy to %s failed: %s.'
                               % (self.where, disk_sources.describe(wanted), live_devices.libvirt_reason(err))) from None
        try:
            copied = self._pivot_when_ready(dom, target, started)
        except BaseException:
            try:
                dom.blockJobAbort(target, 0)
            except libvirt.libvirtError:
                pass
            raise
        self.notes.append('copied %d MiB to %s in %.1f s while the guest ran, and switched to it'
                          % (copied // MIB, disk_sources.describe(wanted), time.monotonic() - started))

    def _pivot_when_ready(self, dom, target, started):
        deadline = started + self.params['swap_timeout']
        reported, refusal = -1, None
        while time.monotonic() < deadline:
            job = dom.blockJobInfo(target, 0)
            if not job:
                raise VirtopsError('%s: the copy to the new source stopped before it finished; the guest stays on the '
                                   'old source.' % self.where)
            done = int(100 * job['cur'] / job['end']) if job.get('end') else 0
            if done // 10 != reported // 10:
                self.vm.log('%s: copy %d%% (%d of %d MiB)' % (self.where, done, job['cur'] // MIB, job['end'] // MIB))
                reported = done
            if job.get('end') and job['cur'] == job['end']:
                # all copied is not yet ready to pivot (QEMU still settles the mirror): ask again shortly
                try:
                    dom.blockJobAbort(target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                    return job['end']
                except libvirt.libvirtError as err:
                    refusal = live_devices.libvirt_reason(err)
            time.sleep(0.2)
        raise VirtopsError('%s: the copy to the new source did not %s within swap_timeout (%d s); it was cancelled '
                           'and the guest stays on the old source.'
                           % (self.where, 'become ready (%s)' % refusal if refusal else 'finish', self.params['swap_timeout']))
