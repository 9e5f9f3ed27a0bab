# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``guest_action`` verbs on a migration that another task runs (the ``migrate`` module under async).

Both act on the source host's outgoing migration job: ``migration_abort`` cancels it (libvirt
then resumes the guest on the source), ``migration_force_complete`` switches it to post-copy
when it was started with post-copy allowed, else pauses the guest so that the last pass
finishes; the ``migrate`` task resumes the guest on the destination once it is there.
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import require_domain
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.live_devices import libvirt_reason


def _outgoing_job(module, verb):
    name = module.params['name']
    dom = require_domain(module.conn, name, verb)
    try:
        stats = dom.jobStats(0)
    except libvirt.libvirtError as err:
        raise VirtopsError("guest '%s': its job cannot be read, so it cannot %s: %s." % (name, verb, libvirt_reason(err)))
    running = stats.get('type', libvirt.VIR_DOMAIN_JOB_NONE) not in (libvirt.VIR_DOMAIN_JOB_NONE,
                                                                     libvirt.VIR_DOMAIN_JOB_COMPLETED,
                                                                     libvirt.VIR_DOMAIN_JOB_FAILED,
                                                                     libvirt.VIR_DOMAIN_JOB_CANCELLED)
    if not running or stats.get('operation') != libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
        raise VirtopsError("guest '%s' has no migration running from this host, so there is nothing to %s."
                           % (name, verb))
    return dom, stats


def abort(module):
    dom, _stats = _outgoing_job(module, 'abort')
    if module.check_mode:
        return dict(changed=True)
    try:
        dom.abortJob()
    except libvirt.libvirtError as err:
        raise VirtopsError("guest '%s': the migration could not be aborted: %s." % (module.params['name'], libvirt_reason(err)))
    return dict(changed=True, method='abort')


def force_complete(module):
    dom, _stats = _outgoing_job(module, 'force to complete')
    if module.check_mode:
        return dict(changed=True)
    try:
        dom.migrateStartPostCopy(0)
        return dict(changed=True, method='post-copy')
    except libvirt.libvirtError as err:
        # Not started with post-copy allowed (or already in post-copy): pausing makes the last pass final.
        if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
            raise VirtopsError("guest '%s': the migration is already completing with the guest paused or in post-copy "
                               "(%s)." % (module.params['name'], libvirt_reason(err)))
    try:
        dom.suspend()
    except libvirt.libvirtError as err:
        raise VirtopsError("guest '%s': the guest could not be paused to complete its migration: %s."
                           % (module.params['name'], libvirt_reason(err)))
    return dict(changed=True, method='paused')
