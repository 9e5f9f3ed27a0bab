"""Table-driven bad input across every module (the table: tests/lab/bad_input_cases.py): refused in one sentence
naming the field, nothing changed.

Each case runs the module file itself with its arguments as JSON (lab.runner.run_module, as
Ansible's module runner does, about 0.3 s a case) against the real libvirtd, and checks:
the task failed; the message is one sentence naming the field(s) and the problem, without a
traceback; a secret given in the case never shows in the message (nor anywhere in the result
when given in a no_log option); libvirt's domains, volumes, pools, networks, secrets, nwfilters
and the files under the suite's own directory are identical before and after.
"""
import json
import os
import shutil
import subprocess

import pytest

from lab import tally
from lab.bad_input_cases import CASES, DRIVES, GUEST, IMAGE, POOL, POOL_DIR, PREFIX, VOLUME, WORK
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.fixtures import SHARED
from lab.runner import run_module


def _with_boot(params, boot):
    """The case's options, with the tiny guest's boot options where the case asks for them."""
    if isinstance(params, list):
        return [_with_boot(item, boot) for item in params]
    if not isinstance(params, dict):
        return params
    out = dict(boot) if params.get('BOOT') else {}
    out.update((key, _with_boot(value, boot)) for key, value in params.items() if key != 'BOOT')
    return out


@pytest.fixture(scope='module')
def world(libvirt_conn, tiny_image, lab_default_network):
    """A stopped guest, a pool holding a 2 GiB volume, a small qcow2 image and a drive directory, all the suite's;
    and libvirt's default network active (the NIC cases name it), whether or not a full run started it."""
    boot = dict(virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline)
    run_module('guest', name=GUEST, state='absent')
    run_module('volume', pool=POOL, name=VOLUME, state='absent')
    run_module('storage_pool', name=POOL, state='absent', delete_path=True)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(DRIVES)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', IMAGE, '16M'], check=True)
    for made in (run_module('guest', name=GUEST, state='stopped', **boot),
                 run_module('storage_pool', name=POOL, path=POOL_DIR),
                 run_module('volume', pool=POOL, name=VOLUME, size_gb=2)):
        assert not made.failed, made.msg
    yield boot
    run_module('guest', name=GUEST, state='absent')
    run_module('volume', pool=POOL, name=VOLUME, state='absent')
    run_module('storage_pool', name=POOL, state='absent', delete_path=True)
    shutil.rmtree(WORK, ignore_errors=True)


def _names_in(params):
    found = set()
    for value in (params.values() if isinstance(params, dict) else params if isinstance(params, list) else [params]):
        if isinstance(value, (dict, list)):
            found |= _names_in(value)
        elif isinstance(value, str) and len(value) >= 3:
            found.add(value)
    return found


def _changed(before, after, params):
    """Keys that differ; with VIRTOPS_LAB_SHARED=1 only those about the case's own objects count,
    since other sessions change the shared libvirtd at the same time."""
    keys = [key for key in set(before) | set(after) if before.get(key) != after.get(key)]
    if SHARED:
        mine = _names_in(params)
        keys = [key for key in keys if key.startswith('file:') or PREFIX in key
                or set(key.split(':', 1)[1].split('/')) & mine]
    return sorted(keys)


def _remove_what_a_case_made(conn, before):
    """An accepted case must not leave its guest, pool or secret behind to skew the cases after it."""
    import libvirt
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX) and dom.name() != GUEST:
            run_module('guest', name=dom.name(), state='absent')
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(PREFIX) and pool.name() != POOL:
            run_module('storage_pool', name=pool.name(), state='absent')
        elif pool.name() == POOL and pool.isActive():
            for vol in pool.listAllVolumes(0):
                if vol.name() != VOLUME:
                    vol.delete(0)
    for net in conn.listAllNetworks(0):
        if net.name().startswith(PREFIX):
            run_module('network', name=net.name(), state='absent')
    for secret in conn.listAllSecrets(0):
        if 'secret:' + secret.UUIDString() not in before and PREFIX in (secret.usageID() or ''):
            secret.undefine()
    for nwfilter in conn.listAllNWFilters(0):
        if nwfilter.name().startswith(PREFIX):
            nwfilter.undefine()
    try:
        dom = conn.lookupByName(GUEST)
        if dom.isActive():
            dom.destroy()
        for target in ('vdb', 'sdb'):
            if "dev='%s'" % target in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE):
                run_module('volume_attachment', guest=GUEST, target=target, state='absent')
    except libvirt.libvirtError:
        pass


@pytest.mark.parametrize('module, params, names, secret', CASES)
def test_bad_input_is_refused_in_one_sentence_and_changes_nothing(request, libvirt_conn, world,
                                                                  module, params, names, secret):
    args = _with_boot(params, world)
    before = libvirt_snapshot(libvirt_conn, paths=[WORK])
    try:
        _check_case(libvirt_conn, module, params, names, secret, args, before)
    finally:
        _remove_what_a_case_made(libvirt_conn, before)
    tally.case('bad inputs tried', request.node.callspec.id)


def _check_case(libvirt_conn, module, params, names, secret, args, before):
    result = run_module(module, **args)
    after = libvirt_snapshot(libvirt_conn, paths=[WORK])
    assert result.failed, '%s accepted %r: %r' % (module, params, result.data)
    problems = []
    changed = _changed(before, after, args)
    if changed:
        problems.append('bad input changed %s' % changed)
    try:
        assert_one_sentence(result.msg, *names)
    except AssertionError as err:
        problems.append(str(err))
    if secret:
        # Ansible itself echoes the options it was not told are secret (invocation); nothing else may show it
        if secret in json.dumps(dict(result.data, invocation=None), default=str):
            problems.append('the result shows the secret')
    assert not problems, '; '.join(problems)


def test_the_table_is_broad():
    modules = set(param.values[0] for param in CASES)
    assert len(CASES) >= 100 and len(modules) >= 16, (len(CASES), sorted(modules))
