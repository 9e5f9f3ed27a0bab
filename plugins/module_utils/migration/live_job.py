# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a live migration: checks against both hosts, the job, its control and its aftermath.

``migrateToURI3`` blocks until the migration ends, so it runs in a thread while this one
watches the job's statistics, logs progress, switches to post-copy or pauses the guest
when pre-copy cannot finish, and aborts at the timeout.  Peer-to-peer: the source's
libvirtd talks to the destination itself; this process only needs to reach both.

After a failure the guest is looked for on both hosts (``aftermath``): its copy on the source
runs only when the destination definitively has none running, and the message says where it is.
"""


import os
import threading
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, connected, effective_uri, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.live_devices import libvirt_reason
from ansible_collections.virtops.compute.plugins.module_utils.migration import aftermath
from ansible_collections.virtops.compute.plugins.module_utils.migration import plan as migration
from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import Capabilities
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StoragePool

POLL_SECONDS = 0.5
POSTCOPY_TRIES = 10
LOG_EVERY_SECONDS = 5
LOG_EVERY_PERCENT = 10
USERFAULTFD_HINT = ("post-copy needs userfaultfd for QEMU on the destination (run sysctl -w "
                    "vm.unprivileged_userfaultfd=1 there, and persist it in /etc/sysctl.d)")


def host_uuid(conn):
    return Capabilities.from_xml(conn.getCapabilities()).host_uuid


def _job_stats(dom, flags=0):
    try:
        return dom.jobStats(flags)
    except libvirt.libvirtError:
        return {}


def _state(dom):
    try:
        return dom.state()
    except libvirt.libvirtError:
        return (None, None)


UNSAFE_HINT = ("libvirt trusts only file systems it knows to be shared (NFS, GFS2, OCFS2, CephFS and the like), so set "
               "allow_unsafe true if both hosts really see the same disk files, or copy them with copy_storage all")


def _failure_hint(text, code=None):
    if code is not None and code == libvirt.VIR_ERR_MIGRATE_UNSAFE:
        return '; ' + UNSAFE_HINT
    lowered = text.lower()
    if 'postcopy' in lowered.replace('-', '') and ('not supported' in lowered or 'userfault' in lowered):
        return '; ' + USERFAULTFD_HINT
    return ''


class Migration:
    """One run of the ``migrate`` module."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['guest']
        self.where = "guest '%s'" % self.name
        self.source_uri = effective_uri(self.params.get('uri'))
        self.dest_uri = self.params['dest_uri']
        self.dconn = None
        self.actions = []

    # ---------------------------------------------------------------- checks

    def _open_dest(self):
        try:
            self.dconn = self.module.open_peer(self.dest_uri)
        except VirtopsError as err:
            raise VirtopsError('%s cannot be migrated, as the destination is unreachable: %s'
                               % (self.where, str(err)[0].lower() + str(err)[1:]))
        source, dest = host_uuid(self.module.conn), host_uuid(self.dconn)
        if source and source == dest:
            raise VirtopsError("%s: dest_uri '%s' is the source host itself (both have host UUID %s)."
                               % (self.where, self.dest_uri, source))

    def _check_dest_storage(self, copied, domain):
        """libvirt creates a copied disk on the destination only inside a storage pool there."""
        pools = [pool for pool in self.dconn.listAllStoragePools(0) if pool.isActive()]
        targets = set()
        for pool in pools:
            path = _pool_path(pool)
            if path:
                targets.add(os.path.normpath(path))
        for disk in domain.disks:
            if disk.target_dev not in copied or disk.type != 'file':
                continue
            path = disk.source_file
            if lookup.find_volume_by_path(self.dconn, path) is not None:
                continue
            if os.path.normpath(os.path.dirname(path)) not in targets:
                raise VirtopsError("%s: disk %s (%s) cannot be copied, as its directory is not a storage pool on "
                                   "the destination; create one there with storage_pool (path %s)."
                                   % (self.where, disk.target_dev, path, os.path.dirname(path)))

    def _locate(self):
        source = Guest.lookup(self.module.conn, self.name)
        dest = Guest.lookup(self.dconn, self.name)
        if source is None and dest is None:
            raise VirtopsError("%s exists neither on the source '%s' nor on the destination '%s'."
                               % (self.where, self.source_uri, self.dest_uri))
        if source is not None and dest is not None:
            raise VirtopsError("%s is defined on both the source and the destination (%s there); remove the stale "
                               "copy before migrating." % (self.where, dest.state()['state']))
        return source, dest

    # ---------------------------------------------------------------- entry point

    def run(self):
        migration.validate_options(self.params, self.where)
        self._open_dest()
        return self._run()

    def _run(self):
        source, dest = self._locate()
        if source is None:
            return dict(changed=False, dest_uri=self.dest_uri, state=dest.state()['state'],
                        actions=["%s already runs on %s and not on the source" % (self.where, self.dest_uri)])
        power = source.state()['state']
        if power not in ('running', 'paused'):
            raise VirtopsError("%s is %s; migrate moves a running guest (use guest_action cold_move for a guest that is off)."
                               % (self.where, power))
        domain = source.definition()
        plan = migration.build_plan(domain, self.params, self.where)
        if plan['copied_disks']:
            self._check_dest_storage(plan['copied_disks'], domain)
        summary = dict(flags=migration.flag_names(plan['flags']), copied_disks=plan['copied_disks'])
        if self.module.check_mode:
            return dict(changed=True, dest_uri=self.dest_uri, migration=summary,
                        actions=['would migrate %s from %s to %s (%s)' % (self.where, self.source_uri, self.dest_uri,
                                                                          ', '.join(summary['flags']))])
        return Job(self, source.dom, plan).run()


def _pool_path(pool):
    return StoragePool.from_xml(pool.XMLDesc(0)).target_path


class Job:
    """The migration job of one guest, watched from this thread."""

    def __init__(self, owner, dom, plan):
        self.owner, self.module, self.params = owner, owner.module, owner.params
        self.dom, self.plan, self.where = dom, plan, owner.where
        self.uuid = dom.UUIDString()
        self.error = None
        self.last = {}
        self.history = []
        self.iteration = None
        self.postcopy_refused = 0
        self.migration_paused_polls = 0
        self.postcopy_error = None
        self.watch_conn = self.mdom = None
        self.switched_at = None
        self.paused_by_us = False
        self.postcopy_seen = False
        self.paused_seen = False
        # QEMU reports the vCPU throttle only while it applies; the summary gives the highest one seen
        self.max_throttle = 0
        self.aborted = False
        self.timed_out = False
        self.was_paused = dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
        self.started = None

    def _migrate(self):
        try:
            self.dom.migrateToURI3(self.owner.dest_uri, self.plan['params'], self.plan['flags'])
        except Exception as err:  # pylint: disable=broad-except
            # libvirt's errors and anything else end the job the same way: reported from the main thread
            self.error = err

    def run(self):
        params = self.params
        if params.get('max_downtime_ms'):
            self.dom.migrateSetMaxDowntime(int(params['max_downtime_ms']), 0)
        self.module.log("%s: migrating to %s (%s)" % (self.where, self.owner.dest_uri, ', '.join(
            migration.flag_names(self.plan['flags']))))
        # the job is watched and steered through a connection of its own, so that no query waits behind the call
        # that runs the migration
        with connected(self.owner.source_uri) as self.watch_conn:
            self.mdom = self.watch_conn.lookupByUUIDString(self.uuid)
            return self._run_watched()

    def _run_watched(self):
        self.started = time.time()
        worker = threading.Thread(target=self._migrate, name='virtops-migrate')
        worker.daemon = True
        worker.start()
        logged_at, logged_percent = self.started, -LOG_EVERY_PERCENT
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if not worker.is_alive():
                break
            self._observe()
            percent = migration.progress_percent(self.last)
            now = time.time()
            if percent >= logged_percent + LOG_EVERY_PERCENT or now - logged_at >= LOG_EVERY_SECONDS:
                self._log_progress(percent, now)
                logged_at, logged_percent = now, percent
            self._steer(now - self.started)
        finished = time.time()
        if self.error is not None:
            return self._failed()
        return self._succeeded(finished)

    def _observe(self):
        stats = _job_stats(self.mdom)
        # only a running job's record: once aborted or failed, libvirt reports one with its counters zeroed
        if stats.get('type') in (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED):
            self.last = stats
        iteration = stats.get('memory_iteration')
        if iteration is not None and iteration != self.iteration:
            self.iteration = iteration
            self.history.append(stats.get('memory_remaining') or 0)
        self.max_throttle = max(self.max_throttle, stats.get('auto_converge_throttle') or 0)
        state, reason = _state(self.mdom)
        if state == libvirt.VIR_DOMAIN_PAUSED:
            if reason in (libvirt.VIR_DOMAIN_PAUSED_POSTCOPY, libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED):
                self.postcopy_seen = True
            elif reason == libvirt.VIR_DOMAIN_PAUSED_USER:
                self.paused_seen = True
            elif reason == libvirt.VIR_DOMAIN_PAUSED_MIGRATION:
                # libvirt gives a pause during an outgoing migration this reason too; its own switch-over pause
                # lasts milliseconds, so a pause seen twice is someone's force_complete
                self.migration_paused_polls += 1
                if self.migration_paused_polls >= 2:
                    self.paused_seen = True

    def _log_progress(self, percent, now):
        stats = self.last
        self.module.log("%s: migration %d%% after %ds, iteration %s, %.1f MiB left, %.1f MiB/s%s"
                        % (self.where, percent, now - self.started, stats.get('memory_iteration', 0),
                           (stats.get('data_remaining') or 0) / 1048576.0, (stats.get('memory_bps') or 0) / 1048576.0,
                           ', throttle %s%%' % stats['auto_converge_throttle'] if stats.get('auto_converge_throttle') else ''))

    def _start_postcopy(self, why):
        # QEMU refuses the switch in some phases of the job (setup, completion): try again, a few times
        if self.postcopy_refused >= POSTCOPY_TRIES:
            return False
        try:
            self.mdom.migrateStartPostCopy(0)
        except libvirt.libvirtError as err:
            self.postcopy_refused += 1
            self.postcopy_error = libvirt_reason(err)
            if self.postcopy_refused == POSTCOPY_TRIES:
                self.module.warn('%s: switching to post-copy (%s) failed: %s.' % (self.where, why, self.postcopy_error))
            return False
        self.switched_at = time.time()
        self.postcopy_seen = True
        self.owner.actions.append('switched to post-copy %s' % why)
        self.module.log('%s: switched to post-copy %s' % (self.where, why))
        return True

    def _steer(self, elapsed):
        params = self.params
        if self.aborted or self.paused_by_us:
            return
        if params.get('post_copy') and self.switched_at is None:
            after = params.get('post_copy_after_seconds')
            if after is not None and elapsed >= after:
                self._start_postcopy('after %ss' % after)
            elif after is None and migration.stalled(self.history):
                self._start_postcopy('as iteration %s made no progress' % self.iteration)
        timeout = params.get('timeout')
        if not timeout or elapsed < timeout or self.timed_out:
            return
        self.timed_out = True
        if params['on_timeout'] == 'abort':
            self.module.log('%s: migration did not finish within %ss; aborting it' % (self.where, timeout))
            try:
                self.mdom.abortJob()
                self.aborted = True
            except libvirt.libvirtError as err:
                self.module.warn('%s: aborting the migration failed: %s.' % (self.where, libvirt_reason(err)))
            return
        if self.switched_at is None and params.get('post_copy') and self._start_postcopy('at the timeout'):
            return
        if self.switched_at is None:
            self.module.log('%s: migration did not finish within %ss; pausing the guest so it completes'
                            % (self.where, timeout))
            try:
                self.mdom.suspend()
                self.paused_by_us = True
                self.owner.actions.append('paused the guest at the timeout so the last copy could finish')
            except libvirt.libvirtError as err:
                self.module.warn('%s: pausing the guest failed: %s.' % (self.where, libvirt_reason(err)))

    # ---------------------------------------------------------------- endings

    def _succeeded(self, finished):
        dconn = self.owner.dconn
        dest = dconn.lookupByUUIDString(self.uuid)
        final = migration.merge_stats(self.last, _job_stats(dest, libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
        code, reason = _state(dest)
        if code == libvirt.VIR_DOMAIN_PAUSED and (self.paused_by_us or self.paused_seen or self.postcopy_seen):
            dest.resume()
            self.owner.actions.append('resumed the guest on the destination')
            code, reason = _state(dest)
        final['auto_converge_throttle'] = max(self.max_throttle, final.get('auto_converge_throttle') or 0) or None
        mode = migration.mode_used(bool(self.params.get('auto_converge')), bool(final['auto_converge_throttle']),
                                   self.postcopy_seen, self.paused_by_us or self.paused_seen)
        stats = migration.summarise(final, self.started, finished, mode, self.plan['flags'],
                                    self.plan['copied_disks'], self.switched_at)
        if self.postcopy_error and self.switched_at is None:
            stats['post_copy_error'] = self.postcopy_error
        self.owner.actions.append('migrated %s from %s to %s in %.1fs (%s)' % (
            self.where, self.owner.source_uri, self.owner.dest_uri, stats['duration_seconds'], mode))
        self.module.log(self.owner.actions[-1])
        return dict(changed=True, dest_uri=self.owner.dest_uri, migration=stats, actions=self.owner.actions,
                    state=states.describe(code, reason)['state'] if code is not None else 'unknown')

    def _failed(self):
        err = self.error
        reason = libvirt_reason(err) if isinstance(err, libvirt.libvirtError) else str(err)
        if self.aborted and self.timed_out:
            cause = 'did not finish within %ss and was aborted' % self.params['timeout']
        else:
            cause = 'failed (%s)' % reason
        where_now = aftermath.settle(self)
        return dict(failed=True, msg='%s: the migration to %s %s%s; %s.' % (
            self.where, self.owner.dest_uri, cause,
            _failure_hint(reason, err.get_error_code() if isinstance(err, libvirt.libvirtError) else None), where_now),
            actions=self.owner.actions, migration=dict(duration_seconds=round(time.time() - self.started, 2),
                                                       iterations=self.last.get('memory_iteration'),
                                                       flags=migration.flag_names(self.plan['flags']),
                                                       post_copy_error=self.postcopy_error))
