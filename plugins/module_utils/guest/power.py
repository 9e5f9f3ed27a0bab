# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power half of converging a guest: moving it between running, paused, stopped and suspended,
and removing it with the files the collection made for it.

``GuestPower`` is mixed into ``GuestConverger``; it uses the converger's ``conn``, ``params``,
``tracker``, ``actions``, ``check`` and ``where()``.
"""

import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, describe_libvirt_error, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import progress
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

_UNDEFINE_FLAGS = ('VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA',
                   'VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA')
_TIDY_STATE = {'shutdown': 'stopped', 'crashed': 'stopped', 'nostate': 'stopped'}


def power_of(dom):
    """The guest's state in the module's own words (running, paused, stopped, suspended)."""
    described = states.describe(dom.state()[0], managed_save=bool(dom.hasManagedSaveImage(0)))
    return _TIDY_STATE.get(described['state'], described['state'])


class GuestPower:
    def refuse_suspending_nothing(self, dom):
        """``suspended`` saves a running guest's memory: a stopped or new guest has none, and booting it only to
        save it would hand back a guest caught half-way through its boot. Refused before anything changes."""
        if dom is None:
            raise VirtopsError('%s does not exist yet; state suspended saves the memory of a running guest, so create '
                               'it with state running (or stopped) first.' % self.where())
        if power_of(dom) == 'stopped':
            raise VirtopsError('%s is stopped; state suspended saves the memory of a running guest, so start it first '
                               '(state running) or leave it stopped.' % self.where())

    def _set_power(self, dom, wanted):
        current = power_of(dom)
        if current == wanted:
            return
        self.tracker.add('power_state', current, wanted)
        if self.check:
            return
        if wanted == 'running':
            self._start(dom, current)
        elif wanted == 'paused':
            if current == 'running':
                dom.suspend()
            else:
                self._prepare_start(dom, current)
                dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        elif wanted == 'stopped':
            if current == 'suspended':
                dom.managedSaveRemove(0)
            else:
                self.stop(dom)
        elif wanted == 'suspended':
            dom.managedSave(0)
        self.actions.append('%s -> %s' % (current, wanted))

    def _prepare_start(self, dom, current):
        if current == 'crashed' or dom.state()[0] == libvirt.VIR_DOMAIN_CRASHED:
            dom.destroy()

    def _start(self, dom, current):
        if current == 'paused':
            dom.resume()
            return
        self._prepare_start(dom, current)
        try:
            dom.create()
        except libvirt.libvirtError as err:
            raise VirtopsError(describe_libvirt_error(err, where='%s: did not start' % self.where()))

    def stop(self, dom):
        """Clean shutdown, and a hard stop once shutdown_timeout has passed; ``self.shutdown`` says how it went."""
        if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        timeout = self.params['shutdown_timeout']
        asked = progress.shutdown_channel(dom)
        started = time.monotonic()
        try:
            dom.shutdown()
            refused = None
        except libvirt.libvirtError as err:
            refused = describe_libvirt_error(err).rstrip('.')
        ticker = progress.Ticker(self.module.log, '%s: waiting for a clean shutdown (%s request)' % (self.where(), asked),
                                 'shutdown_timeout', timeout)
        while refused is None and dom.isActive() and time.monotonic() - started < timeout:
            ticker.tick()
            time.sleep(0.5)
        if not dom.isActive():
            self._report_shutdown(started, timeout, 'shut down cleanly on the %s request' % asked)
            return
        dom.destroy()
        if refused:
            why = 'the shutdown request failed (%s)' % refused
        else:
            why = 'the guest ignored the %s shutdown request for shutdown_timeout (%d s)' % (asked, timeout)
        self._report_shutdown(started, timeout, 'turned off', forced_because=why)

    def _report_shutdown(self, started, timeout, how, forced_because=None):
        """``shutdown`` in the result (how long the wait took, and why it ended), an action, a log line."""
        seconds = round(time.monotonic() - started, 1)
        if forced_because:
            how = '%s: %s' % (how, forced_because)
        self.shutdown = dict(clean=not forced_because, seconds=seconds, timeout=timeout, how=how)
        self.actions.append('forced off after %.1f s: %s' % (seconds, forced_because) if forced_because else 'shut down cleanly')
        self.module.log('%s: %s after %.1f s' % (self.where(), how, seconds))

    # ------------------------------------------------------------------ removal

    def _remove(self, dom):
        keep_disks = self.params.get('keep_disks')
        if dom is None:
            if not keep_disks:
                self._remove_leftovers()
            return None
        self.tracker.add('state', power_of(dom), 'absent')
        if self.check:
            return dom
        metadata = Domain.from_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).get_app_metadata()
        if dom.isActive():
            dom.destroy()
        flags = 0
        for flag in _UNDEFINE_FLAGS:
            flags |= getattr(libvirt, flag, 0)
        dom.undefineFlags(flags)
        self.actions.append('undefined, its disks kept' if keep_disks else 'undefined')
        if metadata.get('managed_by') == 'virtops.compute' and not keep_disks:
            self._remove_files(metadata)
        return None

    def _remove_leftovers(self):
        """Files a crashed or interrupted run left behind for a guest that is no longer defined."""
        pool = lookup.find_pool(self.conn, self.params['storage_pool'])
        if pool is None or not pool.isActive():
            return
        pool.refresh(0)
        for name in (instance_storage.root_volume_name(self.name), instance_storage.serial_log_name(self.name),
                     instance_storage.rescue_volume_name(self.name)):
            if lookup.find_volume(pool, name) is not None:
                self.tracker.add('leftover ' + name, 'present', 'absent')
                if not self.check:
                    instance_storage.delete_volume(pool, name)
                    self.actions.append('removed the leftover %s' % name)

    def _remove_files(self, metadata):
        pool = lookup.find_pool(self.conn, metadata.get('storage_pool') or instance_storage.DEFAULT_POOL)
        if pool is None:
            return
        for name in (instance_storage.root_volume_name(self.name), instance_storage.serial_log_name(self.name),
                     instance_storage.rescue_volume_name(self.name)):
            if instance_storage.delete_volume(pool, name):
                self.actions.append('removed %s' % name)
