"""Check mode swept over every module and every kind of change it makes, on tiny objects of the suite's own.

Each step is a change from the state the steps before left. For each: a check run reports changed
and leaves libvirt (and the suite's files) identical; the real run that follows reports changed
too; then a check run and a real run both report no change, so check mode told the truth both ways.
One-shot verbs (guest_action) are changes every time: there, check and real run both report
changed and only the check run must leave the state alone. migrate and host run in check mode
only (their real runs have their own suites and would move or disable a shared lab host). The read-only
modules (host_info, guest_info) report no change in both runs and leave the state alone. Every module of
plugins/modules has a step (test_every_module_is_swept).
"""
import os
import shutil
import subprocess

import libvirt
import pytest

from lab import guests, tally
from lab.checks import libvirt_snapshot
from lab.fixtures import SHARED
from lab.runner import run_module

PREFIX = 'lab-bi-cm'
GUEST = PREFIX
SECRET = PREFIX + '-secret'
FILTER = PREFIX + '-fw'
NETWORK = PREFIX + '-net'
POOL = PREFIX + '-pool'
VOLUME = 'data.qcow2'
WORK = '/var/lib/virtops-lab/shared/check-sweep'
POOL_DIR = WORK + '/pool'
IMAGE = WORK + '/base.qcow2'
DRIVE = WORK + '/drives/cm.iso'
SNAP = WORK + '/snap.qcow2'
INJECT_IMAGE = WORK + '/inject.qcow2'       # a copy of the full lab image: disk_inject needs an OS inside
BATCH = [PREFIX + '-b1', PREFIX + '-b2']
FULL, ONESHOT, CHECK_ONLY, READ_ONLY = 'full', 'oneshot', 'check-only', 'read-only'
MODULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           'plugins', 'modules')
BOOT = object()
SSH = [dict(protocol='tcp', port_range_min=22)]
WEB = SSH + [dict(protocol='tcp', port_range_min=80, port_range_max=81)]
# the root disk lives in the suite's pool, a directory lab-host1 sees too, so a migration needs no disk copy
GUEST_OPTS = dict(BOOT=1, name=GUEST, image=IMAGE, memory_mb=128, shutdown_timeout=3, storage_pool=POOL)


def step(ident, module, params, kind=FULL):
    return pytest.param(module, params, kind, id='%s-%s' % (module, ident))


STEPS = [
    step('create', 'secret', dict(usage='volume', usage_id=SECRET, value='first-Value-1')),
    step('change-value', 'secret', dict(usage='volume', usage_id=SECRET, value='second-Value-2')),
    step('change-description', 'secret', dict(usage='volume', usage_id=SECRET, value='second-Value-2',
                                              description='check-mode sweep')),
    step('delete', 'secret', dict(usage='volume', usage_id=SECRET, state='absent')),
    step('create', 'nwfilter', dict(name=FILTER, rules=SSH)),
    step('change-rules', 'nwfilter', dict(name=FILTER, rules=WEB)),
    step('anti-spoofing-off', 'nwfilter', dict(name=FILTER, rules=WEB, anti_spoofing=False)),
    step('delete', 'nwfilter', dict(name=FILTER, state='absent')),
    step('create', 'network', dict(name=NETWORK, mode='isolated', ip=dict(address='10.213.77.1', prefix=24))),
    step('add-dhcp', 'network', dict(name=NETWORK, mode='isolated', allow_restart=True, ip=dict(
        address='10.213.77.1', prefix=24, dhcp_range=dict(start='10.213.77.100', end='10.213.77.150')))),
    step('autostart-off', 'network', dict(name=NETWORK, autostart=False, mode='isolated', ip=dict(
        address='10.213.77.1', prefix=24, dhcp_range=dict(start='10.213.77.100', end='10.213.77.150')))),
    step('stop', 'network', dict(name=NETWORK, state='inactive', mode='isolated', ip=dict(
        address='10.213.77.1', prefix=24, dhcp_range=dict(start='10.213.77.100', end='10.213.77.150')))),
    step('delete', 'network', dict(name=NETWORK, state='absent')),
    step('create', 'storage_pool', dict(name=POOL, path=POOL_DIR)),
    step('autostart-off', 'storage_pool', dict(name=POOL, autostart=False)),
    step('stop', 'storage_pool', dict(name=POOL, state='inactive')),
    step('start', 'storage_pool', dict(name=POOL, state='present')),
    step('create', 'volume', dict(pool=POOL, name=VOLUME, size_gb=1)),
    step('grow', 'volume', dict(pool=POOL, name=VOLUME, size_gb=2)),
    step('facts', 'host_info', dict(probe=False), READ_ONLY),
    step('define', 'guest', dict(GUEST_OPTS, state='stopped')),
    step('facts', 'guest_info', dict(name=GUEST), READ_ONLY),
    step('start', 'guest', dict(GUEST_OPTS, state='running')),
    step('pause', 'guest', dict(GUEST_OPTS, state='paused')),
    step('resume', 'guest', dict(GUEST_OPTS, state='running')),
    step('reboot', 'guest_action', dict(name=GUEST, action='reboot', reboot_type='hard'), ONESHOT),
    step('to-lab-host1', 'migrate', dict(guest=GUEST, dest_uri='LAB_HOST1', allow_unsafe=True), CHECK_ONLY),
    step('stop', 'guest', dict(GUEST_OPTS, state='stopped')),
    step('vcpus', 'guest', dict(GUEST_OPTS, state='stopped', vcpus=2)),
    step('memory', 'guest', dict(GUEST_OPTS, state='stopped', vcpus=2, memory_mb=160)),
    step('add-nic', 'guest', dict(GUEST_OPTS, state='stopped', vcpus=2, memory_mb=160,
                                  nics=[dict(user=True, mac='52:54:00:b1:00:01')])),
    step('attach', 'volume_attachment', dict(guest=GUEST, target='vdb', volume=dict(pool=POOL, name=VOLUME))),
    step('extend', 'volume_attachment', dict(guest=GUEST, target='vdb', volume=dict(pool=POOL, name=VOLUME), size_gb=3)),
    step('detach', 'volume_attachment', dict(guest=GUEST, target='vdb', state='absent')),
    step('cold', 'snapshot', dict(guest=GUEST, dest=SNAP, mode='cold')),
    step('create', 'config_drive', dict(dest=DRIVE, name=GUEST, hostname=GUEST)),
    step('change-hostname', 'config_drive', dict(dest=DRIVE, name=GUEST, hostname='sweep-host')),
    step('delete', 'config_drive', dict(dest=DRIVE, state='absent')),
    # suspended saves a running guest's memory (a stopped one is refused), so it starts first
    step('start-again', 'guest', dict(GUEST_OPTS, state='running', vcpus=2, memory_mb=160,
                                      nics=[dict(user=True, mac='52:54:00:b1:00:01')])),
    step('suspend', 'guest', dict(GUEST_OPTS, state='suspended', vcpus=2, memory_mb=160,
                                  nics=[dict(user=True, mac='52:54:00:b1:00:01')])),
    step('absent', 'guest', dict(name=GUEST, state='absent')),
    step('define-two', 'guests', dict(guests=[dict(GUEST_OPTS, name=name, storage_pool=None, state='stopped')
                                              for name in BATCH])),
    step('memory-of-two', 'guests', dict(guests=[dict(GUEST_OPTS, name=name, storage_pool=None, state='stopped',
                                                      memory_mb=144) for name in BATCH])),
    step('absent-two', 'guests', dict(guests=[dict(name=name, state='absent') for name in BATCH])),
    step('add-file', 'disk_inject', dict(image=INJECT_IMAGE, libguestfs_tcg=True,
                                         files=[dict(path='/etc/virtops-sweep', content='check mode\n')])),
    step('delete', 'volume', dict(pool=POOL, name=VOLUME, state='absent')),
    step('delete', 'storage_pool', dict(name=POOL, state='absent', delete_path=True)),
    step('disable-this-host', 'host', dict(state='OTHER', reason='check-mode sweep'), CHECK_ONLY),
]


def _clean(conn):
    for name in [GUEST] + BATCH:
        run_module('guest', name=name, state='absent')
    for params in (dict(usage='volume', usage_id=SECRET), ):
        run_module('secret', state='absent', **params)
    run_module('nwfilter', name=FILTER, state='absent')
    run_module('network', name=NETWORK, state='absent')
    guests.remove_pool(conn, POOL, delete_volumes=True)
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope='module')
def sweep(libvirt_conn, tiny_image, full_image, lab_host1):
    _clean(libvirt_conn)
    os.makedirs(os.path.dirname(DRIVE))
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', IMAGE, '16M'], check=True)
    # a copy, not an overlay: disk_inject believes a backing file only inside the host's storage pools
    subprocess.run(['qemu-img', 'convert', '-q', '-f', 'qcow2', '-O', 'qcow2', full_image.disk, INJECT_IMAGE], check=True)
    host = run_module('host_info', probe=False)
    assert not host.failed, host.msg
    other = 'disabled' if host['host']['service_state'] != 'disabled' else 'enabled'
    fill = dict(BOOT=dict(virt_type='qemu', kernel=tiny_image.kernel, initrd=tiny_image.initrd, cmdline=tiny_image.cmdline),
                LAB_HOST1=lab_host1.uri, OTHER=other)
    yield fill
    _clean(libvirt_conn)


def _filled(params, fill):
    """``params`` with the placeholders replaced, in the guests module's items too; a None value is left out."""
    out = dict(fill['BOOT']) if params.get('BOOT') else {}
    for key, value in params.items():
        if key == 'BOOT' or value is None:
            continue
        if isinstance(value, str):
            value = fill.get(value, value)
        elif isinstance(value, list):
            value = [_filled(item, fill) if isinstance(item, dict) else item for item in value]
        out[key] = value
    return out


def _state(conn, second_conn):
    # the pool directory is left to libvirt's volume listing: a running guest writes its console log there
    state = libvirt_snapshot(conn, paths=[os.path.dirname(DRIVE), SNAP, IMAGE, INJECT_IMAGE, '/etc/ansible/facts.d'])
    if second_conn is not None:
        state.update(('lab-host1 ' + key, value) for key, value in libvirt_snapshot(second_conn, refresh=False).items())
    return state


def _same(before, after):
    """Keys that differ; with VIRTOPS_LAB_SHARED=1 only the suite's own objects count (other sessions run too)."""
    keys = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if SHARED:
        keys = [key for key in keys if PREFIX in key or key.startswith('file:')]
    return keys


@pytest.fixture(scope='module')
def second_conn(lab_host1):
    conn = libvirt.open(lab_host1.uri)
    yield conn
    conn.close()


@pytest.mark.parametrize('module, params, kind', STEPS)
def test_check_mode_changes_nothing_and_tells_the_truth(request, libvirt_conn, sweep, second_conn, module, params,
                                                        kind):
    args = _filled(params, sweep)
    watched = second_conn if module == 'migrate' else None
    before = _state(libvirt_conn, watched)
    checked = run_module(module, check=True, **args)
    assert not checked.failed, 'check run failed: %s' % checked.msg
    assert not _same(before, _state(libvirt_conn, watched)), 'check mode changed %s' % _same(before, _state(libvirt_conn, watched))
    if kind == READ_ONLY:
        assert not checked.changed, 'a read-only module reported a change in check mode: %r' % (checked.data,)
        done = run_module(module, **args)
        assert not done.failed and not done.changed, 'the real run of a read-only module: %r' % (done.data,)
        assert not _same(before, _state(libvirt_conn, watched)), 'a read-only module changed %s' % _same(
            before, _state(libvirt_conn, watched))
        return
    assert checked.changed, 'check mode reported no change for a change: %r' % (checked.data,)
    if kind == CHECK_ONLY:
        tally.case('check-mode changes compared', request.node.callspec.id)
        return
    done = run_module(module, **args)
    assert not done.failed, 'the real run failed: %s' % done.msg
    assert done.changed, 'the real run reported no change after check mode reported one'
    if kind == ONESHOT:
        tally.case('check-mode changes compared', request.node.callspec.id)
        return
    settled = _state(libvirt_conn, None)
    again = run_module(module, check=True, **args)
    assert not again.failed and not again.changed, 'check mode after the change: %r' % (again.data,)
    assert not _same(settled, _state(libvirt_conn, None))
    repeat = run_module(module, **args)
    assert not repeat.failed and not repeat.changed, 'second real run: %r' % (repeat.data,)
    tally.case('check-mode changes compared', request.node.callspec.id)


def test_every_module_is_swept():
    modules = sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith('.py') and name != '__init__.py')
    swept = set(param.values[0] for param in STEPS)
    assert swept == set(modules), 'modules without a check-mode step: %s' % sorted(set(modules) - swept)
