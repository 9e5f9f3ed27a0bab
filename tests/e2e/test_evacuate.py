"""The evacuate role: lab host 4 records its guests (root disks, a volume and a config drive on shared storage),
is refused while it still answers, is killed, and its guests come up on host 5 or 6 with their data and volume;
when host 4 comes back its stale copies never start (the hook refuses them) and `cleanup` removes them."""
import glob
import json
import os
import shutil
import time

import libvirt
import pytest

from lab import guests, hosts
from lab.computes import lab_computes, write_inventory
from lab.console import serial_shell
from lab.proc import SHARED_DIR, cmdline
from lab.runner import REPO_ROOT, run_module, run_playbook

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'evacuate.yml')
WORK = os.path.join(SHARED_DIR, 'lab-evac')
STATE = os.path.join(WORK, 'state')
POOL, POOL_DIR = 'lab-evac', os.path.join(WORK, 'pool')
NAMES = ('lab-evac-1', 'lab-evac-2')
PORT = 4650
DATA = 'lab-evac-1-data.raw'
ROOT_MARK, VOLUME_MARK = 'virtops-evac-root-marker', 'virtops-evac-volume-marker'


@pytest.fixture(scope='module')
def computes(lab_libvirt):
    yield from lab_computes()


def _remove_everywhere():
    for host in hosts.running_hosts():
        conn = libvirt.open(host.uri)
        try:
            for name in NAMES:
                guests.remove_guest(conn, name)
            guests.remove_pool(conn, POOL)
        finally:
            conn.close()
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope='module')
def recorded(computes, tiny_image):
    """Two guests on host 4 (one with a tcp serial shell, a volume and a config drive), data written on both disks."""
    source = computes[0]
    _remove_everywhere()
    for sub in ('boot', 'drives'):
        os.makedirs(os.path.join(WORK, sub), mode=0o755)
    os.chmod(WORK, 0o755)
    base = guests.blank_image(os.path.join(WORK, 'base.qcow2'), '32M')
    boot = guests.readable_boot_files(tiny_image, os.path.join(WORK, 'boot'))
    drive = os.path.join(WORK, 'drives', 'lab-evac-1.iso')
    assert not run_module('storage_pool', uri=source.uri, name=POOL, type='dir', path=POOL_DIR).failed
    common = dict(uri=source.uri, virt_type='qemu', cmdline=tiny_image.cmdline, image=base, storage_pool=POOL,
                  shutdown_timeout=10, **boot)
    made = run_module('guest', name=NAMES[0], memory_mb=160, serial_console=dict(type='tcp', port=PORT), **common)
    assert not made.failed, made.msg
    uuid1 = made['guest']['uuid']
    assert not run_module('config_drive', dest=drive, uuid=uuid1, name=NAMES[0], hostname=NAMES[0]).failed
    made = run_module('guest', name=NAMES[0], config_drive=drive, allow_restart=True, **common)
    assert not made.failed, made.msg
    made = run_module('guest', name=NAMES[1], memory_mb=128, **common)
    assert not made.failed, made.msg
    assert not run_module('volume', uri=source.uri, pool=POOL, name=DATA, size_gb=1, format='raw').failed
    attached = run_module('volume_attachment', uri=source.uri, guest=NAMES[0], target='vdb',
                          volume=dict(pool=POOL, name=DATA))
    assert not attached.failed, attached.msg
    # fsync: the disk's write cache is flushed (qcow2 metadata included), so the data survives a host that is
    # killed; a plain sync writes raw block devices' pages but flushes no cache
    out = serial_shell(PORT, 'echo %s | dd of=/dev/vda bs=512 seek=100 conv=notrunc,fsync 2>/dev/null; '
                             'echo %s | dd of=/dev/vdb bs=512 seek=200 conv=notrunc,fsync 2>/dev/null'
                       % (ROOT_MARK, VOLUME_MARK))
    assert '@@DONE@@' in out, out
    yield source, drive
    _remove_everywhere()


def _inventory(tmp_path, computes, **options):
    return write_inventory(str(tmp_path / 'inventory.json'), computes, **options)


def _play(inventory, **extra):
    extra = dict({'target_host': 'lab-host4', 'state_dir': STATE}, **extra)
    return run_playbook(PLAYBOOK, extra_vars=extra, args=('-i', inventory), timeout=600)


def _qemu_of(host_name, guest):
    return [pid for pid, prog in hosts.host_processes(host_name)
            if prog.startswith('qemu-system') and any('guest=%s,' % guest in a for a in cmdline(pid))]


def _wait_for_autostart_refusals(host, offset, timeout=30):
    """Wait until libvirtd has logged its failed autostart of both stale copies (the hook said no)."""
    deadline = time.monotonic() + timeout
    text = ''
    while time.monotonic() < deadline:
        with open(host.log_path, errors='replace') as handle:
            handle.seek(offset)
            text = handle.read()
        if all("autostart VM '%s'" % name in text for name in NAMES):
            assert text.count('was evacuated from %s' % host.name) >= 2, text[-3000:]
            return
        time.sleep(0.5)
    raise AssertionError('%s did not try to autostart the stale copies within %ss; its log says:\n%s'
                         % (host.name, timeout, text[-3000:]))


def _on_peers(computes):
    found = {}
    for host in computes[1:]:
        conn = libvirt.open(host.uri)
        try:
            for dom in conn.listAllDomains(0):
                if dom.name() in NAMES:
                    found[dom.name()] = (host.name, dom.UUIDString(), dom.state()[0], dom.XMLDesc(0))
        finally:
            conn.close()
    return found


def test_evacuate_a_failed_host(computes, recorded, tmp_path):
    source, drive = recorded
    # the first peer takes no vCPUs (its own virtops_vcpu_allocation_ratio), so both guests go to the second
    inventory = _inventory(tmp_path, computes, vcpu_ratio={computes[1].name: 0})
    conn = libvirt.open(source.uri)
    uuids = {name: conn.lookupByName(name).UUIDString() for name in NAMES}

    # records of a guest deleted since the last record run, on this host and on another: only the first is dropped
    os.makedirs(os.path.join(STATE, 'guests'), exist_ok=True)
    gone, elsewhere = (os.path.join(STATE, 'guests', uuid) for uuid in (
        '00000000-0000-4000-8000-00000000dead', '00000000-0000-4000-8000-0000000e15e1'))
    for path, host in ((gone, source.name), (elsewhere, 'lab-host9')):
        with open(path + '.json', 'w') as handle:
            json.dump(dict(name='lab-evac-gone', uuid=os.path.basename(path), host=host), handle, indent=4)
        with open(path + '.xml', 'w') as handle:
            handle.write('<domain/>')

    record = _play(inventory, action='record')
    assert record.rc == 0, record.stdout[-4000:] + record.stderr[-2000:]
    assert not os.path.exists(gone + '.json') and not os.path.exists(gone + '.xml'), 'a deleted guest kept its record'
    assert os.path.exists(elsewhere + '.json'), "another host's record was dropped"
    os.unlink(elsewhere + '.json')
    os.unlink(elsewhere + '.xml')
    saved = json.load(open(os.path.join(STATE, 'guests', uuids[NAMES[0]] + '.json')))
    assert saved['host'] == source.name and saved['image'] == os.path.join(WORK, 'base.qcow2')
    assert saved['root_disk'].startswith(POOL_DIR) and saved['config_drive'] == drive
    assert [v['target'] for v in saved['volumes']] == ['vdb']
    # as if the operator had made them start with the host: libvirtd will try to start them when it comes back
    for name in NAMES:
        conn.lookupByName(name).setAutostart(1)
    conn.close()

    refused = _play(inventory)
    assert refused.rc != 0 and 'still answers on %s' % source.uri in ' '.join(refused.stdout.split()), refused.stdout[-3000:]
    assert not _on_peers(computes)

    hosts.kill_host(source)
    start = time.monotonic()
    evacuated = _play(inventory)
    print('evacuate took %.1f s' % (time.monotonic() - start))
    assert evacuated.rc == 0, evacuated.stdout[-5000:] + evacuated.stderr[-2000:]
    there = _on_peers(computes)
    assert sorted(there) == list(NAMES), there
    assert {host for host, _uuid, _state, _xml in there.values()} == {computes[2].name}, there
    for name in NAMES:
        _host, uuid, state, _xml = there[name]
        assert uuid == uuids[name] and state == libvirt.VIR_DOMAIN_RUNNING, there
    xml = there[NAMES[0]][3]
    assert os.path.join(POOL_DIR, DATA) in xml and drive in xml, xml
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 30; echo; '
                             'dd if=/dev/vdb bs=512 skip=200 count=1 2>/dev/null | head -c 30; echo; '
                             'ls /dev/sr0 /dev/hdc /dev/hdd 2>/dev/null')
    assert ROOT_MARK in out and VOLUME_MARK in out, 'the data did not come along: %s' % out
    assert len(glob.glob(os.path.join(STATE, 'fences', '*.fence'))) == 2
    again = _play(inventory)
    assert again.rc == 0 and sorted(_on_peers(computes)) == list(NAMES), again.stdout[-3000:]

    # the failed host comes back with its definitions; libvirtd tries to autostart the stale copies
    log_offset = os.path.getsize(source.log_path) if os.path.exists(source.log_path) else 0
    back = hosts.start_host(source.index, keep_state=True)
    _wait_for_autostart_refusals(back, log_offset)
    conn = libvirt.open(back.uri)
    try:
        for name in NAMES:
            dom = conn.lookupByName(name)
            assert not dom.isActive(), '%s: the stale copy runs on %s' % (name, back.name)
            assert not _qemu_of(back.name, name), 'QEMU ran for the stale copy of %s' % name
        with pytest.raises(libvirt.libvirtError, match='evacuated from lab-host4'):
            conn.lookupByName(NAMES[1]).create()
        assert not _qemu_of(back.name, NAMES[1])
        cleaned = _play(_inventory(tmp_path, computes), action='cleanup')
        assert cleaned.rc == 0, cleaned.stdout[-4000:] + cleaned.stderr[-2000:]
        left = [d.name() for d in conn.listAllDomains(0) if d.name() in NAMES]
        assert not left, 'stale copies still defined on %s: %s' % (back.name, left)
    finally:
        conn.close()
    assert not glob.glob(os.path.join(STATE, 'fences', '*.fence'))
    for name in NAMES:
        assert not _qemu_of(back.name, name)
    there = _on_peers(computes)
    assert all(there[name][2] == libvirt.VIR_DOMAIN_RUNNING for name in NAMES), there
    assert os.path.exists(os.path.join(POOL_DIR, DATA)) and len(glob.glob(os.path.join(POOL_DIR, '*-root.qcow2'))) == 2
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 30; echo')
    assert ROOT_MARK in out
