# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plugging devices into a domain and taking them out again, live and persistent together.

Unplugging from a running guest is a request the guest has to grant (ACPI eject): libvirt
returns before the device is gone, so ``detach`` watches the live definition and asks
again a bounded number of times before it reports the device as still attached.
"""


import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

DETACH_TRIES = 3
DETACH_WAIT_SECONDS = 15


def affect_flags(dom):
    """Live and persistent for a running (or paused) guest, persistent only for one that is off."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    return flags


def live_domain(dom):
    return Domain.from_xml(dom.XMLDesc(0))


def libvirt_reason(err):
    """libvirt's own message, one line, without a final full stop (to be quoted inside a sentence)."""
    text = ' '.join((err.get_error_message() or str(err)).split())
    return text.rstrip('.')


def detach(dom, xml, still_there, what, where, sleep=time.sleep, tries=DETACH_TRIES, wait=DETACH_WAIT_SECONDS):
    """Detach the device ``xml`` describes; ``still_there(live_domain)`` tells whether the guest still holds it."""
    flags = affect_flags(dom)
    try:
        dom.detachDeviceFlags(xml, flags)
    except libvirt.libvirtError as err:
        raise VirtopsError('%s: detaching %s failed: %s.' % (where, what, libvirt_reason(err))) from None
    if not flags & libvirt.VIR_DOMAIN_AFFECT_LIVE:
        return
    for attempt in range(tries):
        for _tick in range(int(wait * 2)):
            if not still_there(live_domain(dom)):
                return
            sleep(0.5)
        if attempt + 1 < tries:
            try:
                dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            except libvirt.libvirtError:
                pass
    raise VirtopsError('%s: the running guest did not release %s after %d unplug requests; it is gone from the '
                       'persistent definition but stays attached until the guest lets go or restarts.'
                       % (where, what, tries))


def attach(dom, xml, what, where):
    try:
        dom.attachDeviceFlags(xml, affect_flags(dom))
    except libvirt.libvirtError as err:
        raise VirtopsError('%s: attaching %s failed: %s.' % (where, what, libvirt_reason(err))) from None
