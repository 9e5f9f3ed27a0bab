# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Long waits that say what they wait for: a line in the module's log (the host's syslog or journal) every
few seconds while a shutdown, a reboot or a guest agent is awaited, and how a guest is asked to stop."""


import time

from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

PROGRESS_SECONDS = 10


class Ticker:
    """Calls ``log`` at most every ``every`` seconds with how long ``what`` has been awaited so far."""

    def __init__(self, log, what, timeout_name, timeout, every=PROGRESS_SECONDS, clock=time.monotonic):
        self.log = log
        self.what = what
        self.timeout_name = timeout_name
        self.timeout = timeout
        self.every = every
        self.clock = clock
        self.started = clock()
        self.next_line = self.started + every

    def tick(self, last=None):
        now = self.clock()
        if now < self.next_line:
            return False
        self.next_line = now + self.every
        last_seen = '; last: %s' % last if last else ''
        self.log('%s: %d s of %s (%d s)%s' % (self.what, now - self.started, self.timeout_name, self.timeout, last_seen))
        return True


def shutdown_channel(dom):
    """How libvirt asks a running guest to shut down or reboot: through its guest agent when one is connected
    (falling back to ACPI when the agent fails), else the ACPI power button, which a guest may ignore."""
    domain = Domain.from_xml(dom.XMLDesc(0))
    if any(channel.is_guest_agent and channel.target_state == 'connected' for channel in domain.channels):
        return 'guest agent'
    return 'ACPI'
