# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest-agent calls with a bound on how long they may wait.

libvirt waits for most agent commands (set a password, freeze filesystems) without any
limit by default. An agent that is hung (stopped, deadlocked, stuck on a frozen disk)
then blocks the module forever, and worse, libvirtd keeps the domain's agent job taken,
so every later agent call on that guest fails until the agent answers. Setting the
domain's agent response timeout before the call makes libvirt give up in time and free
the job; the default is put back afterwards so other libvirt users see what they expect.
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt

AGENT_TIMEOUT_OPTION = dict(agent_timeout=dict(type='int', default=30))


def check_timeout(where, seconds):
    if seconds is None or seconds < 1:
        raise VirtopsError('%s: agent_timeout %s must be at least 1 second.' % (where, seconds))


def _reason(err):
    return ' '.join((err.get_error_message() or str(err)).split()).rstrip('.')


def agent_call(dom, where, what, seconds, call):
    """``call()`` with the agent's answer bounded to ``seconds``; a VirtopsError names ``what`` failed and why."""
    check_timeout(where, seconds)
    bounded = hasattr(dom, 'agentSetResponseTimeout')
    if bounded:
        dom.agentSetResponseTimeout(seconds, 0)
    try:
        return call()
    except libvirt.libvirtError as err:
        reason = _reason(err)
        if err.get_error_code() == getattr(libvirt, 'VIR_ERR_AGENT_UNRESPONSIVE', -1):
            if 'not connected' in reason or 'not configured' in reason:
                raise VirtopsError('%s: %s failed because the guest agent is not running in the guest (%s).'
                                   % (where, what, reason)) from None
            raise VirtopsError('%s: %s failed because the guest agent did not answer within agent_timeout (%d s).'
                               % (where, what, seconds)) from None
        raise VirtopsError('%s: %s failed: %s.' % (where, what, reason)) from None
    finally:
        if bounded:
            try:
                dom.agentSetResponseTimeout(libvirt.VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_DEFAULT, 0)
            except libvirt.libvirtError:
                pass
