# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot verbs on a guest: reboot, crash dump (NMI), admin password, rebuild, a cold move to another host, and
control of a running live migration.

Unlike ``guest``, these are actions rather than states: each run does the
thing once and reports ``changed: true``; check mode says it would.
"""


import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import progress
from ansible_collections.virtops.compute.plugins.module_utils.guest.lock import GuestLock, host_uuid
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.agent import agent_call, check_timeout

# Each action imports the code it alone needs (the converger and config drive code for a rebuild, the migration
# code for a cold move or a migration's control) when it runs: a module run performs one action, and AnsiballZ
# compiles whatever is imported anew on every run.


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
    from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
    from ansible_collections.virtops.compute.plugins.module_utils.guest.rebuild import rebuild as rebuild_guest
    module.params.setdefault('shutdown_timeout', module.params.get('reboot_timeout') or 120)
    return rebuild_guest(module, GuestConverger(module).stop)


def cold_move(module):
    from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
    from ansible_collections.virtops.compute.plugins.module_utils.migration.cold_move import move as move_guest
    module.params.setdefault('shutdown_timeout', module.params.get('reboot_timeout') or 120)
    return move_guest(module, GuestConverger(module).stop)


def resize(module):
    """The first name of ``cold_move``, which said what a caller might use it for rather than what it does."""
    module.ansible.deprecate('guest_action action=resize is now called action=cold_move; the old name goes in 1.0.0.',
                             version='1.0.0', collection_name='virtops.compute')
    return cold_move(module)


def migration_abort(module):
    from ansible_collections.virtops.compute.plugins.module_utils.migration import control as migration_control
    return migration_control.abort(module)


def migration_force_complete(module):
    from ansible_collections.virtops.compute.plugins.module_utils.migration import control as migration_control
    return migration_control.force_complete(module)


def run(module):
    params = module.params
    if params['reboot_timeout'] < 1:
        # a reset at once, or a hard power-off before a rebuild, is never what a negative time asks for
        raise VirtopsError("guest '%s': reboot_timeout must be at least 1 second, got %d."
                           % (params['name'], params['reboot_timeout']))
    action = ACTIONS[params['action']]
    if module.check_mode or params['action'] not in TAKES_TURNS:
        return action(module)
    with GuestLock("guest '%s'" % params['name'], host_uuid(module.conn), params['name'], module.log):
        return action(module)


# The actions that stop, reset or redefine the guest wait for a run that is changing it (guest/lock.py), as the
# guest module's converges do: a reboot in the middle of another run's restart, or a rebuild in the middle of its
# roll-back, would leave the guest in neither run's state. The others touch no definition or power state (an NMI,
# a password through the agent) or steer a migration that is already under way.
TAKES_TURNS = ('reboot', 'rebuild', 'cold_move', 'resize')

ACTIONS = dict(reboot=reboot, trigger_crash_dump=trigger_crash_dump, set_password=set_password, rebuild=rebuild,
               cold_move=cold_move, resize=resize, migration_abort=migration_abort,
               migration_force_complete=migration_force_complete)
