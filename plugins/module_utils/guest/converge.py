# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging one guest to the ``guest`` module's options.

Three steps, each recorded in a DifferenceTracker so that check mode, diff
mode and ``changed`` all come from the same record: make sure the definition
exists (with its root disk), bring its definition in line with the options
(live where libvirt can, with a restart only when allowed), then move it to
the wanted power state.
"""


import os

from ansible_collections.virtops.compute.plugins.module_utils.common import converge_result
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, effective_uri, is_local_uri, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.guest import nics as guest_nics
from ansible_collections.virtops.compute.plugins.module_utils.guest import recorded as guest_recorded
from ansible_collections.virtops.compute.plugins.module_utils.guest import rescue as guest_rescue
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.guest.lock import GuestLock
from ansible_collections.virtops.compute.plugins.module_utils.guest.power import GuestPower, power_of
from ansible_collections.virtops.compute.plugins.module_utils.guest.root_disk import RootDiskGrowth
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.host import virt_types
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.define import define_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_domain
from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import Capabilities, DomainCapabilities
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

LIVE_CHANGES = ('disk_qos',)
# What a new guest gets for options the user left out; an existing guest keeps what it has. A new guest's
# virt_type is the best one the host really runs (host/virt_types.py).
CREATE_DEFAULTS = dict(vcpus=1, memory_mb=512, firmware='bios', secure_boot=False, guest_agent=False)
# what a flavor change that needs a restart could have had instead: room to grow live
GROW_LIVE_MAXIMA = (('vcpus', 'max_vcpus'), ('memory_mb', 'max_memory_mb'))


def _cause(err, where):
    """The reason inside an error, without the guest's name or the closing full stop, to quote in another sentence."""
    if isinstance(err, libvirt.libvirtError):
        text = describe_libvirt_error(err)
    else:
        text = str(err)
        for prefix in (where + ': ', 'did not start: '):
            if text.startswith(prefix):
                text = text[len(prefix):]
    return text.rstrip().rstrip('.')


class GuestConverger(GuestPower, RootDiskGrowth):
    """One run of the ``guest`` module against one domain."""

    def __init__(self, module):
        self.module = module
        self.conn = module.conn
        self.params = module.params
        self.name = module.params['name']
        self.check = module.check_mode
        self.tracker = DifferenceTracker(secret_keys=('password',))
        self.actions = []
        # set once the definition is rewritten through a restart: what a failure afterwards restores
        self._restore = None
        self._pending_growth = None
        # reported in the result: the restart a change needs ({needed_for, allowed}) and how a shutdown went
        self.restart = None
        self.shutdown = None
        # host facts that do not change during a run; the guests module shares one dict among its guests
        self.host_cache = getattr(module, 'host_cache', None)
        if self.host_cache is None:
            self.host_cache = {}

    def where(self):
        return "guest '%s'" % self.name

    # ------------------------------------------------------------------ entry point

    def run(self):
        guest_spec.validate(self.name, self.params)     # bad input is refused at once, not after a wait
        if self.check:      # a check run changes nothing, so it need not wait its turn
            return self._converge()
        with GuestLock(self.where(), self._capabilities().host_uuid, self.name, self.module.log):
            return self._converge()

    def _converge(self):
        params = self.params
        # a recorded definition (the evacuate role's rebuild) is checked before anything else is looked at
        recorded = guest_recorded.RecordedGuest(self) if params.get('definition') and params['state'] != 'absent' else None
        uuid = params.get('uuid')
        if recorded is not None:
            uuid = recorded.uuid
            # its disks are the guest's data from before the failure: a start that fails undefines it, never them
            self.params = params = dict(params, keep_disks=True)
        dom = find_domain(self.conn, self.name)
        if dom is not None and uuid and dom.UUIDString() != uuid:
            raise VirtopsError("%s: a guest of that name already exists with UUID %s, not %s."
                               % (self.where(), dom.UUIDString(), uuid))
        if params['state'] == 'absent':
            return self._result(self._remove(dom))
        if params['state'] == 'suspended':
            self.refuse_suspending_nothing(dom)
        rescue = params['state'] == 'rescued'
        created = dom is None
        if created:
            dom = recorded.define() if recorded is not None else self._create()
        elif recorded is None:      # a guest defined from a record is not compared with what it has become since
            if not rescue:
                guest_rescue.unrescue(self, dom)
            if not guest_rescue.is_rescued(guest_rescue.definition(dom)):
                self._reconcile(dom)
        if dom is not None:
            try:
                if rescue and not guest_rescue.rescue(self, dom):
                    self._set_power(dom, 'running')
                elif not rescue:
                    self._set_power(dom, params['state'])
            except (VirtopsError, libvirt.libvirtError) as err:
                if created:
                    self._undo_create(dom, err)
                if self._restore is None:
                    raise
                self._roll_back(dom, 'starting it with the new %s failed' % ', '.join(self._restore['changes']), err)
            if self._pending_growth:
                self._grow_root(dom, *self._pending_growth)
        return self._result(dom)

    def _result(self, dom):
        reports = dict((key, value) for key, value in (('restart', self.restart), ('shutdown', self.shutdown)) if value)
        return converge_result(self.module, self.tracker, self.actions,
                               guest=Guest(dom).info() if dom is not None else None, **reports)

    # ------------------------------------------------------------------ host checks

    def _capabilities(self):
        if 'capabilities' not in self.host_cache:
            self.host_cache['capabilities'] = Capabilities.from_xml(self.conn.getCapabilities())
        return self.host_cache['capabilities']

    def _machine_aliases(self):
        caps = self._capabilities()
        for guest in caps.guests_for('x86_64'):
            return guest.machine_aliases
        return {}

    def _check_host(self):
        params = self.params
        if params.get('config_drive') and is_local_uri(params.get('uri')) and not os.path.exists(params['config_drive']):
            raise VirtopsError("%s: config_drive '%s' does not exist." % (self.where(), params['config_drive']))
        if 'memory_mb' not in self.host_cache:
            self.host_cache['memory_mb'] = self.conn.getInfo()[1]
        total_mb = self.host_cache['memory_mb']
        for key in ('memory_mb', 'max_memory_mb'):
            if params.get(key) and params[key] > total_mb:
                raise VirtopsError("%s: %s %d (MiB) exceeds the host's %d MiB of memory." % (self.where(), key, params[key], total_mb))
        if params.get('firmware') == 'uefi':
            dom_caps = DomainCapabilities.from_xml(self.conn.getDomainCapabilities(
                None, 'x86_64', params.get('machine'), params.get('virt_type'), 0))
            if 'efi' not in dom_caps.firmwares:
                raise VirtopsError('%s: firmware uefi needs OVMF (UEFI firmware for QEMU) on the host, and none is installed.'
                                   % self.where())
            if params.get('secure_boot') and not dom_caps.secure_boot_supported:
                raise VirtopsError('%s: secure_boot is not available with this firmware and machine type.' % self.where())

    def _pick_virt_type(self, wanted):
        """``wanted`` when the host really runs it, else (when omitted) the best type it runs; one sentence otherwise."""
        uri = effective_uri(self.params.get('uri'))
        available, probes, _cached = virt_types.for_run(self.conn, uri, self.host_cache, log=self.module.log)
        chosen = virt_types.choose(wanted, available, probes, self.where())
        if not wanted:
            passed_over = virt_types.why_not_better(chosen, available, probes)
            self.actions.append('chose virt_type %s, the best this host runs%s'
                                % (chosen, ' (%s)' % passed_over if passed_over else ''))
            if passed_over:
                self.module.warn('%s runs under virt_type %s, emulated and much slower than hardware virtualisation: %s.'
                                 % (self.where(), chosen, passed_over))
        return chosen

    # ------------------------------------------------------------------ create

    def _create(self):
        params = self.params = dict(self.params)
        for key, value in CREATE_DEFAULTS.items():
            if params.get(key) is None:
                params[key] = value
        params['virt_type'] = self._pick_virt_type(params.get('virt_type'))
        self._check_host()
        if not params.get('image') and not params.get('kernel'):
            raise VirtopsError('%s: a new guest needs an image or a kernel to boot.' % self.where())
        guest_nics.check_networks(self.conn, self.where(), params.get('nics'))
        self.tracker.add('state', 'absent', params['state'])
        pool = instance_storage.ensure_pool(self.conn, params['storage_pool'], check_mode=self.check, where=self.where())
        root = None
        if params.get('image'):
            image_format, image_bytes = instance_storage.describe_image(self.conn, params['image'], self.name)
            size = max(image_bytes, (params.get('root_size_gb') or 0) * instance_storage.GIB)
            if pool is not None and lookup.find_volume(pool, instance_storage.root_volume_name(self.name)):
                raise VirtopsError("%s: the root disk %s is left over in pool %s; remove it or pick another name."
                                   % (self.where(), instance_storage.root_volume_name(self.name), params['storage_pool']))
            if self.check:
                return None
            root = (instance_storage.create_root_overlay(pool, self.name, params['image'], image_format, size), 'qcow2')
            if params.get('auto_disk_config') and size > image_bytes:
                try:
                    self._grow_filesystem(root[0], 'qcow2')
                except VirtopsError:
                    instance_storage.delete_volume(pool, instance_storage.root_volume_name(self.name))
                    raise
        if self.check:
            return None
        serial_log = '%s/%s' % (instance_storage.pool_path(pool), instance_storage.serial_log_name(self.name))
        metadata = dict(managed_by='virtops.compute', image=params.get('image'), root_volume=root and root[0],
                        storage_pool=params['storage_pool'], serial_log=serial_log)
        domain = guest_spec.build_domain(self.name, params, root_disk=root, serial_log=serial_log,
                                         uuid=params.get('uuid'), metadata=metadata)
        try:
            dom = define_domain(self.conn, domain.to_xml())
        except libvirt.libvirtError as err:
            if root:
                instance_storage.delete_volume(pool, instance_storage.root_volume_name(self.name))
            raise VirtopsError(describe_libvirt_error(err, where='%s: libvirt refused the definition' % self.where()))
        self.actions.append('defined')
        return dom

    def _undo_create(self, dom, err):
        """A guest this run defined but could not bring to its state is removed, so a failed run leaves nothing."""
        message = str(err) if isinstance(err, VirtopsError) else describe_libvirt_error(err, where=self.where())
        try:
            self._remove(dom)
        except libvirt.libvirtError as undo_err:
            raise VirtopsError('%s, and removing the new guest again failed too: %s.'
                               % (message.rstrip('.'), describe_libvirt_error(undo_err).rstrip('.'))) from None
        raise VirtopsError('%s; the new guest was removed again.' % message.rstrip('.')) from None

    # ------------------------------------------------------------------ change

    def _reconcile(self, dom):
        params = self.params
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        current_domain = Domain.from_xml(dom.XMLDesc(flags))
        current = guest_spec.spec_of(current_domain, self._machine_aliases())
        wanted = guest_spec.desired_spec(params)
        changes = []
        for key in guest_spec.SPEC_KEYS:
            if wanted[key] is None:
                continue
            if key == 'machine' and guest_spec.machine_matches(wanted[key], current_domain.os_machine, self._machine_aliases()):
                continue
            if self.tracker.add(key, current[key], wanted[key]):
                changes.append(key)
        given = dict((item['type'], item.get('password')) for item in params.get('graphics') or [] if item.get('password'))
        held = guest_spec.graphics_passwords(current_domain)
        for kind, password in given.items():
            if self.tracker.add('graphics.%s.password' % kind, held.get(kind), password, secret=True) and 'graphics' not in changes:
                changes.append('graphics')
        grow = self._root_growth(current_domain)
        nic_steps = self._nic_plan(current_domain)
        if changes:
            if 'virt_type' in changes:
                self._pick_virt_type(params['virt_type'])
            self._check_host()
            self._apply(dom, current_domain, changes, current, guest_spec.live_flavor_changes(current, wanted))
        if grow and self._restore is not None:
            # grown only once the new definition has started: a grown disk cannot be given back if the start fails
            self._pending_growth = grow
        elif grow:
            self._grow_root(dom, *grow)
        if nic_steps and not self.check:
            try:
                guest_nics.NicChanger(dom, self.where(), self.actions).apply(nic_steps)
            except (VirtopsError, libvirt.libvirtError) as err:
                if self._restore is None:
                    raise
                self._roll_back(dom, 'changing its nics failed', err)

    def _nic_plan(self, current_domain):
        """The NIC changes to make (None when nics is not managed or nothing differs)."""
        if self.params.get('nics') is None:
            return None
        current = [guest_nics.nic_of(iface) for iface in current_domain.interfaces]
        steps = guest_nics.plan(current, [guest_nics.normal_nic(nic) for nic in self.params['nics']])
        if not self.tracker.add('nics', current, guest_nics.planned_list(steps)):
            return None
        guest_nics.check_networks(self.conn, self.where(), self.params['nics'])
        return [step for step in steps if step[0] != 'keep']

    def _apply(self, dom, current_domain, changes, current, live_flavor):
        restart_needed = [key for key in changes if key not in LIVE_CHANGES and key not in live_flavor]
        active = dom.isActive()
        if active and restart_needed:
            self.need_restart(restart_needed, self._restart_refusal(restart_needed, current))
        if self.check:
            return
        guest_spec.apply_spec(current_domain, changes, self.params)
        if active and not restart_needed:
            try:
                self._apply_live(dom, changes)
            except libvirt.libvirtError as err:
                # e.g. vCPUs that were not defined hot-unpluggable: a restart applies what a live change cannot
                if not self.params['allow_restart']:
                    raise VirtopsError('%s: the live change of %s failed (%s); set allow_restart to true to apply it '
                                       'with a restart.' % (self.where(), ', '.join(changes), _cause(err, self.where())))
                restart_needed = list(changes)
                self.actions.append('the live change of %s failed (%s), so the guest is restarted to apply it'
                                    % (', '.join(changes), _cause(err, self.where())))
            else:
                define_domain(self.conn, current_domain.to_xml())
                self.actions.append('applied %s live' % ', '.join(changes))
                return
        # libvirt still holds the definition from before: apply_spec changed only the model
        previous_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        self._restore = dict(xml=previous_xml, power=power_of(dom), changes=changes)
        if active:
            self.stop(dom)
            self.actions.append('stopped to apply %s' % ', '.join(restart_needed))
        try:
            define_domain(self.conn, current_domain.to_xml())
        except libvirt.libvirtError as err:
            self._roll_back(dom, 'libvirt refused the new %s' % ', '.join(changes), err)
        self.actions.append('redefined with new %s' % ', '.join(changes))

    def _restart_refusal(self, restart_needed, current):
        """The sentence refusing a restart; for vCPUs or memory it names the maximum that lets them grow live."""
        hints = ['%s above %s' % (ceiling, amount)
                 for amount, ceiling in GROW_LIVE_MAXIMA if amount in restart_needed and ceiling not in restart_needed]
        room = ['%s %d' % (ceiling, current[ceiling]) for amount, ceiling in GROW_LIVE_MAXIMA if amount in restart_needed]
        return ('%s: changing %s needs a restart of the running guest%s; set allow_restart to true to allow it%s.'
                % (self.where(), ', '.join(restart_needed),
                   ' (it has no room to grow live beyond %s)' % ' and '.join(room) if room else '',
                   ', and give it %s so that later changes up to %s apply live' % (
                       ' and '.join(hints), 'them' if len(hints) > 1 else 'it') if hints else ''))

    def need_restart(self, keys, refusal):
        """A change of a running guest that needs a restart: refused without allow_restart, except that a check
        run reports it (``restart`` in the result, and a warning) so that every difference of every guest shows."""
        allowed = bool(self.params['allow_restart'])
        earlier = self.restart['needed_for'] if self.restart else []
        self.restart = dict(needed_for=earlier + [key for key in keys if key not in earlier], allowed=allowed)
        if allowed:
            return
        if not self.check:
            raise VirtopsError(refusal)
        self.module.warn('%s (check mode: a real run fails here).' % refusal.rstrip('.'))

    def _roll_back(self, dom, what, err):
        """Put the definition and power state from before the change back, then fail saying so."""
        restore, self._restore = self._restore, None
        self._pending_growth = None
        cause = _cause(err, self.where())
        try:
            if dom.isActive():
                dom.destroy()
            define_domain(self.conn, restore['xml'])
            if restore['power'] in ('running', 'paused'):
                dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if restore['power'] == 'paused' else 0)
        except libvirt.libvirtError as again:
            raise VirtopsError('%s: %s (%s), and restoring it failed too (%s); it is now %s.'
                               % (self.where(), what, cause, _cause(again, self.where()), power_of(dom)))
        back = 'it is %s again' % restore['power'] if restore['power'] in ('running', 'paused') else 'it stays stopped'
        raise VirtopsError('%s: %s (%s), so its previous definition was restored and %s.' % (self.where(), what, cause, back))

    def _apply_live(self, dom, changes):
        live = libvirt.VIR_DOMAIN_AFFECT_LIVE
        if 'disk_qos' in changes:
            qos = dict((key, self.params['disk_qos'].get(key) or 0) for key in guest_spec.QOS_KEYS)
            dom.setBlockIoTune(guest_spec.ROOT_TARGET, qos, live)
        if 'vcpus' in changes:
            dom.setVcpusFlags(self.params['vcpus'], live)
        if 'memory_mb' in changes:
            dom.setMemoryFlags(self.params['memory_mb'] * 1024, live)
