# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compute host's service state (enabled, disabled, maintenance) in its local facts file.

The file is the single place the state lives: Ansible's fact gathering reads it
as ``ansible_local.virtops_compute`` and ``host_info`` reports it, so it must be
local to where the module runs; a remote URI is refused rather than writing a
state file on the wrong machine.
"""


import json
import os
import socket
import tempfile
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.host import facts as host_facts
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup

FILE_MODE = 0o644


def state_file():
    return host_facts.HOST_STATE_FILE


def require_local(module):
    if not is_local_uri(module.uri):
        raise VirtopsError("host: uri '%s' is remote, but the service state file and the daemons are local to the "
                           "host the module runs on, so run the module on that host with a local uri." % module.uri)


def read(path=None):
    """The stored state as a dict with service_state, maintenance_reason and changed_at."""
    path = path or state_file()
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as err:
        raise VirtopsError("host: cannot read the service state file %s: %s." % (path, err))
    if not isinstance(data, dict):
        raise VirtopsError("host: the service state file %s does not hold a JSON object." % path)
    return dict(data, service_state=data.get('service_state') or 'enabled',
                maintenance_reason=data.get('maintenance_reason', data.get('reason')),
                changed_at=data.get('changed_at'))


def write(data, path=None):
    """Write atomically (temp file + rename in the same directory) so fact gathering never sees half a file."""
    path = path or state_file()
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix='.virtops_compute.', dir=directory)
        try:
            with os.fdopen(handle, 'w') as out:
                json.dump(data, out, indent=2, sort_keys=True)
                out.write('\n')
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, FILE_MODE)
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as err:
        raise VirtopsError("host: cannot write the service state file %s: %s." % (path, err))


def _public(data):
    return dict(hostname=socket.gethostname(), service_state=data['service_state'],
                maintenance_reason=data['maintenance_reason'], changed_at=data['changed_at'],
                state_file=state_file())


def current(module):
    return _public(read())


def guests_still_there(conn):
    """Names of guests that keep a host from being empty: active (running, paused, pmsuspended) or managed-saved."""
    names = []
    for dom in conn.listAllDomains(0):
        try:
            if dom.isActive() or dom.hasManagedSaveImage(0):
                names.append(dom.name())
        except libvirt.libvirtError as err:
            if not lookup.vanished(err):
                raise
    return sorted(names)


def _describe_guests(names):
    quoted = ', '.join("'%s'" % name for name in names)
    return ('guest %s is' if len(names) == 1 else 'guests %s are') % quoted


def converge(module, result):
    """Bring the state file to the wanted state; fills result['host'] (and diff) and sets changed."""
    wanted = module.params['state']
    reason = module.params['reason']
    before = read()
    stored = os.path.exists(state_file())
    if module.params.get('initial') and stored:
        return _report(module, result, before, before)
    if wanted == 'maintenance':
        # connecting first makes an unreachable libvirt fail before anything is written
        still = guests_still_there(module.conn)
        if still:
            raise VirtopsError("host '%s' cannot enter maintenance: %s still there (running, paused or suspended); "
                               "migrate or stop them first." % (socket.gethostname(), _describe_guests(still)))
    after = dict(before)
    if before['service_state'] != wanted:
        after['service_state'] = wanted
        after['maintenance_reason'] = reason
    elif reason is not None:
        after['maintenance_reason'] = reason
    changed = (after['service_state'], after['maintenance_reason']) != (before['service_state'], before['maintenance_reason'])
    # an initial state is recorded even when it is what a host without the file already counts as
    changed = changed or (module.params.get('initial') and not stored)
    if changed:
        after['changed_at'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        after.pop('reason', None)
        if not module.check_mode:
            write(after)
        result['changed'] = True
    return _report(module, result, before, after)


def _report(module, result, before, after):
    result['host'] = _public(after)
    if module.diff_mode:
        keys = ('service_state', 'maintenance_reason')
        result['diff'] = dict(before=dict((k, before[k]) for k in keys), after=dict((k, after[k]) for k in keys))
    return result
