# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many guests in one module run: each item is validated like the ``guest`` module's options
and converged by the same ``GuestConverger``, over the one libvirt connection.

What a task per guest pays many times over (Python start-up, module transfer, a new
connection, host capability queries) is paid once here; the guests themselves are
converged by a few worker threads, since most of the time goes into libvirt and QEMU
starting, where the Python lock is released.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, describe_libvirt_error, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest_args import GUEST_OPTIONS
from ansible_collections.virtops.compute.plugins.module_utils.guest_lifecycle import GuestConverger


class _OneGuest:
    """What GuestConverger needs of a module, for one item of the list."""

    def __init__(self, batch, params, host_cache):
        self.conn = batch.conn
        self.params = params
        self.check_mode = batch.check_mode
        self.diff_mode = batch.diff_mode
        self.host_cache = host_cache


SECRET_KEYS = ('password',)


def _secret_values(value):
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SECRET_KEYS and isinstance(inner, str) and inner:
                found.add(inner)
            else:
                found |= _secret_values(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _secret_values(inner)
    return found


def validate_items(items, secrets):
    """Each item checked against the guest module's options; returns them with defaults filled in.

    ``secrets`` (a set) receives the values the options mark no_log, for the module to hide."""
    validator = ArgumentSpecValidator(GUEST_OPTIONS)
    # every secret first, so that an early bad item cannot leave a later item's password in the output
    secrets.update(_secret_values(items))
    validated, names = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise VirtopsError('guests[%d] must be a dictionary of guest options, got %s.' % (index, type(item).__name__))
        result = validator.validate(item)
        secrets.update(result._no_log_values)
        label = 'guests[%d]%s' % (index, " ('%s')" % item['name'] if isinstance(item.get('name'), str) else '')
        if result.error_messages:
            raise VirtopsError('%s: %s.' % (label, result.error_messages[0].rstrip('.')))
        name = result.validated_parameters['name']
        if name in names:
            raise VirtopsError("guests[%d]: guest '%s' is already named by guests[%d]." % (index, name, names[name]))
        names[name] = index
        validated.append(result.validated_parameters)
    return validated


def converge_all(vm, items, workers):
    """Converge every item; returns the module result (failed guests listed, the others done)."""
    results = [None] * len(items)
    lock = threading.Lock()
    host_cache = {}

    def one(index):
        params = items[index]
        try:
            outcome = GuestConverger(_OneGuest(vm, params, host_cache)).run()
        except VirtopsError as err:
            outcome = dict(failed=True, msg=str(err))
        except libvirt.libvirtError as err:
            outcome = dict(failed=True, msg=describe_libvirt_error(err, subject="guest '%s'" % params['name']))
        outcome['name'] = params['name']
        with lock:
            results[index] = outcome
            word = 'failed' if outcome.get('failed') else 'changed' if outcome.get('changed') else 'ok'
            done = sum(1 for r in results if r is not None)
            vm.log('guests: %s %s (%d of %d done)' % (params['name'], word, done, len(items)))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        list(pool.map(one, range(len(items))))
    failed = [r for r in results if r.get('failed')]
    summary = dict(total=len(results), changed=sum(1 for r in results if r.get('changed')), failed=len(failed))
    result = dict(changed=summary['changed'] > 0, guests=results, summary=summary)
    if failed:
        first = failed[0]['msg'].rstrip('.')
        if len(results) == 1:
            result['msg'] = first + '.'
        else:
            others = ' (the others were converged)' if len(failed) < len(results) else ''
            result['msg'] = '%d of %d guests failed%s; the first: %s.' % (len(failed), len(results), others, first)
        result['failed'] = True
    return result
