# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a guest is after its live migration failed, and which of its copies may run.

When the destination's finish step fails, peer-to-peer libvirt resumes the guest on the
source, even when the destination did start it and only its answer was lost on the way
back (libvirt leaves that case to a lock manager).  The guest then runs on both hosts and
both copies write its disks.  So after a failure the destination is asked again, on a
connection of its own, and the source copy runs only when the destination definitively
has no running copy: the destination answers without one, or QEMU on the source never
handed the guest over (its migration failed or was cancelled before it completed, so the
destination never had a whole guest to run).  Otherwise the source copy is paused, left
paused, and the message says so.
"""

import json

from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, close_quietly, libvirt, open_connection,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup

# QEMU's migration states (query-migrate) in which the destination never received a whole guest
NEVER_HANDED_OVER = ('none', 'setup', 'failed', 'cancelled', 'cancelling')
ACTIVE = (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_BLOCKED) if libvirt else ()


def qemu_migration_status(dom):
    """QEMU's own state of the source's last outgoing migration (``completed``, ``failed``...), None when unknown.

    libvirt keeps no record of a failed job, so QEMU is asked directly (libvirt marks the guest "tainted:
    custom-monitor" in its log for it, which is only done after a migration failed)."""
    try:
        import libvirt_qemu         # part of libvirt-python; imported here, as only a failed migration needs it
        answer = libvirt_qemu.qemuMonitorCommand(dom, json.dumps({'execute': 'query-migrate'}), 0)
        return (json.loads(answer).get('return') or {}).get('status') or 'none'
    except (ImportError, libvirt.libvirtError, ValueError, AttributeError):
        return None


def _destination_copy(uri, uuid):
    """(state code of the destination's copy or None for no copy, whether the destination answered)."""
    try:
        conn = open_connection(uri)
    except VirtopsError:
        return None, False
    try:
        dom = lookup.find_domain_by_uuid(conn, uuid)
        return (dom.state()[0] if dom is not None else None), True
    except libvirt.libvirtError:
        return None, False
    finally:
        close_quietly(conn)


def settle(job):
    """Bring the source copy to the state the destination's answer allows; the end of the failure sentence."""
    uuid, actions = job.uuid, job.owner.actions
    try:
        source = job.module.conn.lookupByUUIDString(uuid)
        code, reason = source.state()
    except libvirt.libvirtError:
        source, code, reason = None, None, None
    dest_code, answered = _destination_copy(job.owner.dest_uri, uuid)
    dest_runs = dest_code in ACTIVE
    handed_over = None
    if source is not None and answered is False:
        status = qemu_migration_status(source)
        handed_over = None if status is None else status not in NEVER_HANDED_OVER
    source_may_run = (answered and not dest_runs) or handed_over is False
    postcopy = code == libvirt.VIR_DOMAIN_PAUSED and reason in (
        libvirt.VIR_DOMAIN_PAUSED_POSTCOPY, libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED)
    try:
        if source is not None and code == libvirt.VIR_DOMAIN_PAUSED and source_may_run and not job.was_paused \
                and not postcopy:
            source.resume()         # paused for the migration (by this run, another task's force_complete or libvirt)
            actions.append('resumed the guest on the source, as the destination has no copy of it running')
        elif source is not None and code in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED) \
                and not source_may_run:
            source.suspend()        # libvirt resumed it, yet the destination runs (or may run) the guest
            actions.append('paused the guest on the source, as the destination %s'
                           % ('runs it' if dest_runs else 'did not answer and may run it'))
        code, reason = source.state() if source is not None else (None, None)
    except libvirt.libvirtError as err:
        actions.append('could not settle the copy on the source: %s' % err.get_error_message())
    return _where(code, reason, dest_code, answered, dest_runs)


def _where(code, reason, dest_code, answered, dest_runs):
    source_state = states.describe(code, reason)['state'] if code is not None else None
    dest_state = states.describe(dest_code, None)['state'] if dest_code is not None else None
    if source_state is None:
        if dest_state is not None:
            return 'it is %s on the destination only' % dest_state
        return 'it is found on %s, so check both' % ('neither host' if answered else 'the source nowhere, and the '
                                                                                     'destination did not answer')
    if dest_runs:
        return ('it %s on the destination, so its copy on the source is left %s; remove that copy once you have '
                'checked the destination' % ('runs' if dest_state == 'running' else 'is ' + dest_state, source_state))
    if not answered and source_state == 'paused':
        return ('it is left paused on the source, since the destination did not answer and may run it; check the '
                'destination, then start the guest on one host only')
    if dest_state is not None:
        return 'it is %s on the source and %s on the destination, so check both hosts' % (source_state, dest_state)
    return 'it %s on the source only%s' % ('still runs' if source_state == 'running' else 'is %s' % source_state,
                                           '' if answered else ' (the destination did not answer, but it never '
                                                               'received the whole guest)')
