# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one mapping from libvirt domain states to the collection's states.

``state`` names follow DESIGN.md and ``power_state`` the numbers cloud compute
drivers report (running 1, paused 3, shutdown 4, crashed 6, suspended 7,
nostate 0).  A shut-off domain that has a managed-save image is reported as
``suspended``: the guest keeps no RAM or CPU, yet resumes where it left off.
"""


# libvirt's virDomainState values, spelled out so this file needs no libvirt import.
VIR_DOMAIN_NOSTATE = 0
VIR_DOMAIN_RUNNING = 1
VIR_DOMAIN_BLOCKED = 2
VIR_DOMAIN_PAUSED = 3
VIR_DOMAIN_SHUTDOWN = 4
VIR_DOMAIN_SHUTOFF = 5
VIR_DOMAIN_CRASHED = 6
VIR_DOMAIN_PMSUSPENDED = 7

POWER_STATES = {
    'nostate': 0,
    'running': 1,
    'paused': 3,
    'shutdown': 4,
    'crashed': 6,
    'suspended': 7,
}

_LIBVIRT_TO_STATE = {
    VIR_DOMAIN_NOSTATE: 'nostate',
    VIR_DOMAIN_RUNNING: 'running',
    VIR_DOMAIN_BLOCKED: 'running',
    VIR_DOMAIN_PAUSED: 'paused',
    VIR_DOMAIN_SHUTDOWN: 'shutdown',
    VIR_DOMAIN_SHUTOFF: 'shutdown',
    VIR_DOMAIN_CRASHED: 'crashed',
    VIR_DOMAIN_PMSUSPENDED: 'suspended',
}

# Reason codes under VIR_DOMAIN_PAUSED worth telling apart from a plain pause.
_PAUSED_REASONS = {
    0: 'unknown', 1: 'user', 2: 'migration', 3: 'save', 4: 'dump', 5: 'ioerror',
    6: 'watchdog', 7: 'from_snapshot', 8: 'shutting_down', 9: 'snapshot',
    10: 'crashed', 11: 'starting_up', 12: 'postcopy', 13: 'postcopy_failed',
}

# Reason codes under VIR_DOMAIN_SHUTOFF: a QEMU that died (killed, out of memory) reads 'crashed', not a shutdown.
_SHUTOFF_REASONS = {
    0: 'unknown', 1: 'shutdown', 2: 'destroyed', 3: 'crashed', 4: 'migrated', 5: 'saved',
    6: 'failed', 7: 'from_snapshot', 8: 'daemon',
}


def state_name(libvirt_state, managed_save=False):
    """Collection state for a libvirt state code (and whether a managed-save image exists)."""
    name = _LIBVIRT_TO_STATE.get(libvirt_state, 'nostate')
    if name == 'shutdown' and managed_save:
        return 'suspended'
    return name


def power_state(name):
    """The numeric power state for a collection state name."""
    return POWER_STATES[name]


def paused_reason(reason_code):
    """A word for why a paused domain is paused (user, migration, ioerror, ...)."""
    return _PAUSED_REASONS.get(reason_code, 'unknown')


def describe(libvirt_state, reason=0, managed_save=False):
    """A dict with ``state``, ``power_state`` and, for paused guests, ``paused_reason``."""
    name = state_name(libvirt_state, managed_save)
    result = {'state': name, 'power_state': power_state(name)}
    if libvirt_state == VIR_DOMAIN_PAUSED:
        result['paused_reason'] = paused_reason(reason)
    elif libvirt_state == VIR_DOMAIN_SHUTOFF and not managed_save:
        result['stopped_reason'] = _SHUTOFF_REASONS.get(reason, 'unknown')
    return result
