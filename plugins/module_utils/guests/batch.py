# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many guests in one module run: each item is validated like the ``guest`` module's options
(plus flavor, config drive metadata, volumes and waiting, see guest_batch_items) and converged
by the same ``GuestConverger``, over the one libvirt connection.

Per item: its config drive is made before the guest is defined, its volumes are attached once
it is defined (before its first start), and the waits for agents or cloud-init run at the end,
all at once.

What a task per guest pays many times over (Python start-up, module transfer, a new
connection, host capability queries) is paid once here; the guests themselves are
converged by a few worker threads, since most of the time goes into libvirt and QEMU
starting, where the Python lock is released.
"""


import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import progress
from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
from ansible_collections.virtops.compute.plugins.module_utils.guest import wait as guest_wait
from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.guests.item_options import (
    ITEM_OPTIONS, guest_options, secret_values, validate_item,
)
from ansible_collections.virtops.compute.plugins.module_utils.guests.item_storage import ItemExtras
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_domain


class _OneGuest:
    """What GuestConverger needs of a module, for one item of the list."""

    def __init__(self, batch, params, host_cache):
        self.conn = batch.conn
        self.params = params
        self.check_mode = batch.check_mode
        self.diff_mode = batch.diff_mode
        self.host_cache = host_cache
        self.log = batch.log
        self.warn = batch.warn


def validate_items(items, secrets, flavors=None, defaults=None):
    """Each item checked against the guest module's options and the extra keys; returns them completed.

    ``secrets`` (a set) receives the values the options mark no_log, for the module to hide."""
    validator = ArgumentSpecValidator(ITEM_OPTIONS)
    defaults = dict(dict(wait_for='none', wait_timeout=300), **(defaults or {}))
    # every secret first, so that an early bad item cannot leave a later item's password in the output
    secrets.update(secret_values(items))
    validated, names = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise VirtopsError('guests[%d] must be a dictionary of guest options, got %s.' % (index, type(item).__name__))
        params = validate_item(validator, item, index, flavors or {}, defaults, secrets)
        name = params['name']
        if name in names:
            raise VirtopsError("guests[%d]: guest '%s' is already named by guests[%d]." % (index, name, names[name]))
        names[name] = index
        validated.append(params)
    return validated


def _merge(outcome, earlier):
    """Fold an earlier GuestConverger result (or the extras' changes and actions) into ``outcome``."""
    changes, earlier_actions = earlier
    outcome['changes'] = list(changes) + [change for change in outcome.get('changes') or [] if change not in changes]
    actions = list(earlier_actions) + list(outcome.get('actions') or [])
    if actions:
        outcome['actions'] = actions
    outcome['changed'] = bool(outcome['changes'])


def _new_guest(module, extras, guest, host_cache):
    """GuestConverger for a guest not defined yet; a drive this run wrote for it goes again if it is not defined."""
    try:
        return GuestConverger(_OneGuest(module, guest, host_cache)).run()
    except (VirtopsError, libvirt.libvirtError):
        if find_domain(module.conn, guest['name']) is None:
            extras.undo_new_drive()
        raise


def converge_one(module, item, host_cache):
    """One item: drive, guest, volumes, in that order; returns its result entry."""
    params = dict(item, uri=module.params.get('uri'))
    extras = ItemExtras(module, params)
    extras.preflight()
    dom = find_domain(module.conn, params['name'])
    if params['state'] == 'absent':
        outcome = GuestConverger(_OneGuest(module, guest_options(params), host_cache)).run()
        extras.remove_drives()
        _merge(outcome, (extras.changes, []))
        if extras.actions:
            outcome['actions'] = outcome.get('actions', []) + extras.actions
        return outcome
    extras.config_drive(dom)
    guest = guest_options(params)
    earlier = ([], [])
    if dom is None and not module.check_mode and params.get('volumes') and params['state'] != 'stopped':
        # attached before the first start, so that the guest finds its volumes at boot rather than hot-plugged
        first = _new_guest(module, extras, dict(guest, state='stopped'), host_cache)
        try:
            extras.attach_volumes(find_domain(module.conn, params['name']))
        except VirtopsError as err:
            raise VirtopsError('%s; the guest is defined and stays stopped.' % str(err).rstrip('.')) from None
        earlier = (first['changes'], (first.get('actions') or []) + extras.later_actions)
        extras.later_actions = []
        outcome = GuestConverger(_OneGuest(module, guest, host_cache)).run()
    elif dom is None:
        outcome = _new_guest(module, extras, guest, host_cache)
    else:
        outcome = GuestConverger(_OneGuest(module, guest, host_cache)).run()
    if earlier[0] or earlier[1]:
        _merge(outcome, earlier)
    elif params.get('volumes'):
        extras.attach_volumes(find_domain(module.conn, params['name']))
    extras.drop_other_drive()
    _merge(outcome, (extras.changes, extras.actions))
    if extras.later_actions:
        outcome['actions'] = outcome.get('actions', []) + extras.later_actions
    if extras.drive is not None:
        outcome['config_drive'] = extras.drive
    if extras.changes and outcome.get('guest') is not None:
        outcome['guest'] = Guest(find_domain(module.conn, params['name'])).info()
    return outcome


def _wait_all(module, items, results):
    """Wait, all at once, for every running item that asks to; a wait that fails fails its item."""
    waiting = [index for index, item in enumerate(items)
               if item['wait_for'] != 'none' and item['state'] == 'running' and not results[index].get('failed')]
    if not waiting or module.check_mode:
        return

    def one(index):
        item = items[index]
        try:
            dom = find_domain(module.conn, item['name'])
            ticker = progress.Ticker(module.log, "guests: '%s' waiting for %s" % (item['name'], guest_wait.what(item['wait_for'])),
                                     'wait_timeout', item['wait_timeout'])
            seconds = guest_wait.wait(item['wait_for'], item['wait_timeout'], guest_wait.libvirt_agent(dom),
                                      guest_wait.libvirt_running(dom), progress=ticker.tick)
        except guest_wait.WaitFailed as err:
            results[index].update(failed=True, msg="guest '%s': %s." % (item['name'], err))
            return
        except libvirt.libvirtError as err:
            results[index].update(failed=True, msg=describe_libvirt_error(
                err, where="guest '%s': waiting for %s failed" % (item['name'], item['wait_for'])))
            return
        results[index]['waited'] = {'for': item['wait_for'], 'seconds': round(seconds, 1)}
        module.log('guests: %s %s after %.1f s' % (item['name'], item['wait_for'], seconds))

    with ThreadPoolExecutor(max_workers=len(waiting)) as pool:
        list(pool.map(one, waiting))


def converge_all(module, items, workers):
    """Converge every item; returns the module result (failed guests listed, the others done)."""
    results = [None] * len(items)
    lock = threading.Lock()
    host_cache = {}

    def one(index):
        params = items[index]
        try:
            outcome = converge_one(module, params, host_cache)
        except VirtopsError as err:
            outcome = dict(failed=True, msg=str(err))
        except libvirt.libvirtError as err:
            outcome = dict(failed=True, msg=describe_libvirt_error(err, where="guest '%s'" % params['name']))
        outcome['name'] = params['name']
        with lock:
            results[index] = outcome
            word = 'failed' if outcome.get('failed') else 'changed' if outcome.get('changed') else 'ok'
            done = sum(1 for r in results if r is not None)
            module.log('guests: %s %s (%d of %d done)' % (params['name'], word, done, len(items)))

    # made once here: worker threads each finding the pool missing would race to define it
    for name in sorted(set(item['storage_pool'] for item in items if item['state'] != 'absent')):
        instance_storage.ensure_pool(module.conn, name, check_mode=module.check_mode)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        list(pool.map(one, range(len(items))))
    _wait_all(module, items, results)
    failed = [r for r in results if r.get('failed')]
    summary = dict(total=len(results), changed=sum(1 for r in results if r.get('changed')), failed=len(failed))
    # (check mode) the guests whose changes a real run refuses without allow_restart
    refused = [r['name'] for r in results if r.get('restart') and not r['restart']['allowed']]
    if refused:
        summary['need_allow_restart'] = refused
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
