# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot verbs on a guest: reboot, crash dump (NMI), admin password.

Unlike ``guest``, these are actions rather than states: each run does the
thing once and reports ``changed: true``; check mode says it would.
"""


import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import progress
from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
from ansible_collections.virtops.compute.plugins.module_utils.guest.rebuild import rebuild as rebuild_guest
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.agent import agent_call, check_timeout
from ansible_collections.virtops.compute.plugins.module_utils.migration import control as migration_control
from ansible_collections.virtops.compute.plugins.module_utils.migration.cold_move import move as move_guest


def _running_guest(conn, name, action):
    guest = Guest.lookup(conn, name)
    if guest is None:
        raise VirtopsError("guest '%s' does not exist, so it cannot %s." % (name, action))
    if guest.state()['state'] not in ('running', 'paused'):
        raise VirtopsError("guest '%s' is %s; %s needs a running guest." % (name, guest.state()['state'], action))
    return guest


def _has_agent(guest):
    return any(channel.is_guest_agent for channel in guest.definition().channels)


def reboot(module):
    """``soft``: ask the guest (agent or ACPI) and reset it if it has not rebooted in time; ``hard``: reset.

    The result says how long the reboot waited and how it ended (``waited_seconds``, ``method``, ``how``)."""
    params = module.params
    guest = _running_guest(module.conn, params['name'], 'reboot')
    result = dict(changed=True, reboot_type=params['reboot_type'])
    if module.check_mode:
        return result
    dom = guest.dom
    if params['reboot_type'] == 'hard':
        dom.reset(0)
        result.update(method='reset', waited_seconds=0.0, how='reset at once (reboot_type hard)')
        return result
    where = "guest '%s'" % params['name']
    asked = progress.shutdown_channel(dom)
    started = time.monotonic()
    rebooted = []
    callback = module.conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                                  lambda _conn, _dom, _opaque: rebooted.append(True), None)
    try:
        try:
            dom.reboot(0)
        except libvirt.libvirtError as err:
            why = describe_libvirt_error(err, where='the %s reboot request failed' % asked).rstrip('.')
            module.warn('%s: %s, so the guest was reset.' % (where, why))
        else:
            why = 'the guest ignored the %s reboot request for reboot_timeout (%d s)' % (asked, params['reboot_timeout'])
            ticker = progress.Ticker(module.log, '%s: waiting for the guest to reboot (%s request)' % (where, asked),
                                     'reboot_timeout', params['reboot_timeout'])
            # A tick wakes the event loop twice a second, so the deadline is kept without an event.
            tick = libvirt.virEventAddTimeout(500, _tick, None)
            try:
                while not rebooted and time.monotonic() - started < params['reboot_timeout']:
                    libvirt.virEventRunDefaultImpl()
                    ticker.tick()
            finally:
                libvirt.virEventRemoveTimeout(tick)
        if rebooted:
            result.update(method='guest', how='rebooted by the guest on the %s request' % asked)
        else:
            dom.reset(0)
            result.update(method='reset', how='reset: %s' % why)
    finally:
        module.conn.domainEventDeregisterAny(callback)
    result['waited_seconds'] = round(time.monotonic() - started, 1)
    module.log('%s: %s after %.1f s' % (where, result['how'], result['waited_seconds']))
    return result


def _tick(_timer, _opaque):
    return None


def register_event_loop():
    """libvirt's own event loop, needed to hear of a guest's reboot; before any connection is opened."""
    if libvirt is not None:
        libvirt.virEventRegisterDefaultImpl()


def trigger_crash_dump(module):
    guest = _running_guest(module.conn, module.params['name'], 'take a crash dump')
    if not module.check_mode:
        guest.dom.injectNMI(0)
    return dict(changed=True)


def set_password(module):
    params = module.params
    guest = _running_guest(module.conn, params['name'], 'have its password set')
    if not params.get('password'):
        raise VirtopsError("guest '%s': set_password needs a password." % params['name'])
    if not _has_agent(guest):
        raise VirtopsError("guest '%s' has no guest agent channel; add it with guest_agent: true, or use config_drive or "
                           "disk_inject before boot." % params['name'])
    check_timeout("guest '%s'" % params['name'], params.get('agent_timeout'))
    if module.check_mode:
        return dict(changed=True, user=params['user'])
    agent_call(guest.dom, "guest '%s'" % params['name'], 'setting the password of %s' % params['user'],
               params['agent_timeout'],
               lambda: guest.dom.setUserPassword(params['user'], params['password'], 0))
    return dict(changed=True, user=params['user'])


def rebuild(module):
    module.params.setdefault('shutdown_timeout', module.params.get('reboot_timeout') or 120)
    return rebuild_guest(module, GuestConverger(module).stop)


def resize(module):
    module.params.setdefault('shutdown_timeout', module.params.get('reboot_timeout') or 120)
    return move_guest(module, GuestConverger(module).stop)


ACTIONS = dict(reboot=reboot, trigger_crash_dump=trigger_crash_dump, set_password=set_password, rebuild=rebuild,
               resize=resize, migration_abort=migration_control.abort,
               migration_force_complete=migration_control.force_complete)
