"""The evacuate role on lab host 4 with peers 5 and 6 (hosts made for the test, all seeing one storage pool).

Host 4 records its two guests (root disks, a volume, a config drive and a VNC password on shared storage): the
records are signed by the controller and hold no secret, and the fence hook works at once, without a libvirtd
restart, identifying the host by its libvirt UUID and failing closed. Records edited on a "compromised host" are
refused and nothing starts anywhere, even with the host declared fenced. An evacuation without a fence is refused;
with the lab's fence (host kill, verified off) the guests come up on host 6 with their data, the config drive the
operator's vault describes (seen inside the guest) and the console password from the vault; a rerun changes
nothing. When host 4 comes back its stale copies never start, and `cleanup` removes them."""
import glob
import json
import os
import time

import libvirt
import pytest

from lab import evacuate_scenario as scenario
from lab import guests, hosts
from lab.checks import assert_one_sentence
from lab.computes import lab_computes
from lab.console import read_log, serial_run, serial_shell, wait_for_log
from lab.evacuate_scenario import (
    DATA, DRIVE_MOUNTED, DRIVE_SECRET, NAMES, POOL, POOL_DIR, PORT, REBUILT_HOSTNAME, ROOT_MARK, STATE,
    VAULT_DRIVE_SECRET, VAULT_VNC_SECRET, VNC_SECRET, VOLUME_MARK, WORK,
)
from lab.runner import run_module


@pytest.fixture(scope='module')
def computes(lab_libvirt):
    yield from lab_computes()


@pytest.fixture(scope='module')
def recorded(computes, tiny_image, tmp_path_factory):
    """Two guests on host 4 (one with a tcp serial shell, a volume, a config drive and a VNC password), data on both
    disks; the pool on every host; host 4's libvirtd started anew, so that it knows of no hook."""
    source = computes[0]
    scenario.remove_everywhere()
    hosts.stop_host(source)
    hosts.start_host(source.index)
    os.makedirs(POOL_DIR, mode=0o755)
    os.chmod(WORK, 0o755)
    for host in computes:
        assert not run_module('storage_pool', uri=host.uri, name=POOL, type='dir', path=POOL_DIR).failed
    # the guests' files all lie in the pool: the peers accept no file of a rebuilt guest outside their pools
    base = guests.blank_image(os.path.join(POOL_DIR, 'base.qcow2'), '32M')
    boot = guests.readable_boot_files(tiny_image, POOL_DIR, prefix='evac-')
    drive = os.path.join(POOL_DIR, 'lab-evac-1.iso')
    common = dict(uri=source.uri, virt_type='qemu', cmdline=tiny_image.cmdline, image=base, storage_pool=POOL,
                  shutdown_timeout=10, **boot)
    made = run_module('guest', name=NAMES[0], memory_mb=160, serial_console=dict(type='tcp', port=PORT),
                      graphics=[dict(type='vnc', password=VNC_SECRET)], **common)
    assert not made.failed, made.msg
    uuid1 = made['guest']['uuid']
    assert not run_module('config_drive', dest=drive, uuid=uuid1, name=NAMES[0], hostname=NAMES[0],
                          admin_pass=DRIVE_SECRET).failed
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
    status, out = serial_run(PORT, 'echo %s | dd of=/dev/vda bs=512 seek=100 conv=notrunc,fsync 2>/dev/null && '
                                   'echo %s | dd of=/dev/vdb bs=512 seek=200 conv=notrunc,fsync 2>/dev/null'
                             % (ROOT_MARK, VOLUME_MARK))
    assert status == 0, 'the guest could not write its markers: %r' % out
    key_file = str(tmp_path_factory.mktemp('controller') / 'evacuate-record.key')
    yield source, drive, key_file
    scenario.remove_everywhere()
    # the hook fails closed once the fences it reads are gone: no later test could start a guest on host 4
    hook = os.path.join(source.state_dir, 'root', 'etc', 'hooks', 'qemu.d', 'virtops-evacuation-fence')
    if os.path.exists(hook):
        os.unlink(hook)


@pytest.fixture(scope='module')
def records(computes, recorded, tmp_path_factory):
    """The record run (twice: the second changes nothing); returns (inventory, {name: uuid})."""
    source, _drive, key_file = recorded
    inventory = scenario.inventory(tmp_path_factory.mktemp('evac') / 'inventory.json', computes, source)
    conn = libvirt.open(source.uri)
    uuids = {name: conn.lookupByName(name).UUIDString() for name in NAMES}
    conn.close()
    # records of a guest deleted since the last record run, on this host and on another: only the first is dropped
    os.makedirs(os.path.join(STATE, 'guests'), exist_ok=True)
    gone, elsewhere = (scenario.record_path(uuid) for uuid in (
        '00000000-0000-4000-8000-00000000dead', '00000000-0000-4000-8000-0000000e15e1'))
    for path, host in ((gone, source.name), (elsewhere, 'lab-host9')):
        with open(path, 'w') as handle:
            json.dump(dict(record=dict(name='lab-evac-gone', host=host), mac='0'), handle)
    record = scenario.play(inventory, key_file, action='record')
    assert record.rc == 0, record.stdout[-4000:] + record.stderr[-2000:]
    assert not os.path.exists(gone), 'a deleted guest kept its record'
    assert os.path.exists(elsewhere), "another host's record was dropped"
    os.unlink(elsewhere)
    again = scenario.play(inventory, key_file, action='record')
    assert again.rc == 0 and scenario.unchanged(again.stdout), again.stdout[-3000:]
    return inventory, uuids


def test_records_are_signed_hold_no_secret_and_arm_the_hook(computes, recorded, records):
    source, drive, key_file = recorded
    _inventory_path, uuids = records
    assert oct(os.stat(key_file).st_mode & 0o777) == '0o600'
    saved = json.load(open(scenario.record_path(uuids[NAMES[0]])))
    record = saved['record']
    assert len(saved['mac']) == 64 and record['host'] == source.name and record['host_uuid'] == source.host_uuid
    assert record['root_disk']['image'] == os.path.join(POOL_DIR, 'base.qcow2')
    assert record['root_disk']['image_format'] == 'qcow2' and record['root_disk']['pool'] == POOL
    assert record['config_drive'] == dict(path=drive, target='hdd', format='iso9660')
    assert [v['target'] for v in record['volumes']] == ['vdb']
    for path in glob.glob(os.path.join(STATE, '*', '*')):
        with open(path) as handle:
            text = handle.read()
        assert DRIVE_SECRET not in text and VNC_SECRET not in text, '%s holds a secret' % path

    # The hook is active although libvirtd started before it existed (the role made it reload), names the host by
    # its libvirt UUID exactly, and refuses every start while the fences cannot be read.
    conn = libvirt.open(source.uri)
    probe_uuid = '00000000-0000-4000-8000-0000000fe4ce'
    probe = conn.defineXML(guests.domain_xml('lab-evac-probe', os.path.join(POOL_DIR, 'evac-vmlinuz'),
                                             None, '', os.path.join(POOL_DIR, 'probe.log'), memory_mib=64)
                           .replace('<name>', '<uuid>%s</uuid><name>' % probe_uuid, 1))
    fence = os.path.join(STATE, 'fences', probe_uuid + '.fence')
    try:
        # this host's UUID refuses; another host's, or one that merely starts or ends like it, does not
        for from_uuid, refused in ((source.host_uuid, True), (computes[1].host_uuid, False),
                                   (source.host_uuid[:-1], False), (source.host_uuid + '0', False)):
            with open(fence, 'w') as handle:
                handle.write('from_host_uuid=%s\nuuid=%s\n' % (from_uuid, probe_uuid))
            if refused:
                with pytest.raises(libvirt.libvirtError, match='was evacuated from this host'):
                    probe.create()
            else:
                probe.create()          # the positive control: a fence naming another host does not stop it
                probe.destroy()
        os.unlink(fence)
        os.rename(os.path.join(STATE, 'fences'), os.path.join(STATE, 'fences.away'))
        try:
            with pytest.raises(libvirt.libvirtError, match='fences in .* cannot be read'):
                probe.create()
        finally:
            os.rename(os.path.join(STATE, 'fences.away'), os.path.join(STATE, 'fences'))
        probe.create()
        probe.destroy()
    finally:
        if os.path.exists(fence):
            os.unlink(fence)
        probe.undefine()
        conn.close()


@pytest.mark.parametrize('how, change, refusal', [
    ('unsigned', scenario.other_image, 'its MAC does not verify'),
    ('unsigned', scenario.commandline, 'its MAC does not verify'),
    ('signed', scenario.commandline, 'carries <qemu:commandline>'),
    ('signed', scenario.outside_disk,
     "source@file '%s', which lies outside the storage pools" % os.path.join(WORK, 'outside.raw')),
    ('signed', scenario.other_image, "image '/etc/shadow' is outside the storage pools"),
])
def test_a_record_edited_on_a_compromised_host_is_refused(computes, recorded, records, how, change, refusal):
    """Even with the host declared fenced, a changed record (re-signed: as if its host had lied when recording, or
    the key had leaked) starts nothing anywhere; the refusal names the record or the guest."""
    _source, _drive, key_file = recorded
    inventory, uuids = records
    path = scenario.record_path(uuids[NAMES[0]])
    with open(path) as handle:
        original = handle.read()
    with open(os.path.join(WORK, 'outside.raw'), 'w') as handle:
        handle.truncate(1024 * 1024)
    before = scenario.peer_snapshots(computes)
    try:
        if how == 'signed':
            scenario.resign(path, scenario.key(key_file), change)
        else:
            scenario.edit_unsigned(path, change)
        refused = scenario.play(inventory, key_file, fence=False, evacuate_host_fenced=True)
    finally:
        with open(path, 'w') as handle:
            handle.write(original)
    flat = scenario.flat(refused.stdout)
    assert refused.rc != 0, flat[-3000:]
    assert refusal in flat and ('Record %s is refused' % path in flat or "guest 'lab-evac-1'" in flat), flat[-3000:]
    assert 'Nothing is rebuilt' in flat or 'so nothing is rebuilt' in flat, flat[-3000:]
    assert scenario.peer_snapshots(computes) == before, 'a refused evacuation changed a peer'
    assert not glob.glob(os.path.join(STATE, 'fences', '*.fence'))


def test_a_config_drive_is_never_written_over_another_file(computes, recorded):
    """The evacuation writes config drives where a record says; config_drive refuses a file it did not make."""
    source, drive, _key_file = recorded
    base = os.path.join(POOL_DIR, 'base.qcow2')
    with open(base, 'rb') as handle:
        before = handle.read()
    refused = run_module('config_drive', dest=base, uuid='00000000-0000-4000-8000-00000000d15c', name='x', hostname='x')
    assert refused.failed and 'is not a config drive virtops.compute wrote' in refused.msg, refused.msg
    assert_one_sentence(refused.msg, base)
    with open(base, 'rb') as handle:
        assert handle.read() == before, 'the base image was changed'
    assert run_module('config_drive', dest=base, state='absent').failed and os.path.exists(base)
    # the positive control: a drive it made is rewritten (the guest's own, with the same content: unchanged)
    with open(drive, 'rb') as handle:
        ours = handle.read()
    conn = libvirt.open(source.uri)
    uuid = conn.lookupByName(NAMES[0]).UUIDString()
    conn.close()
    again = run_module('config_drive', dest=drive, uuid=uuid, name=NAMES[0], hostname=NAMES[0], admin_pass=DRIVE_SECRET)
    assert not again.failed and not again.changed, again.msg
    with open(drive, 'rb') as handle:
        assert handle.read() == ours


def test_an_unfenced_host_is_never_evacuated(computes, recorded, records):
    _source, _drive, key_file = recorded
    inventory, _uuids = records
    before = scenario.peer_snapshots(computes)
    refused = scenario.play(inventory, key_file, fence=False)
    flat = scenario.flat(refused.stdout)
    assert refused.rc != 0
    assert ('Host lab-host4 is not fenced, so none of its guests is rebuilt' in flat
            and 'evacuate_fence_command' in flat and 'evacuate_host_fenced=true' in flat), flat[-3000:]
    assert scenario.peer_snapshots(computes) == before


def test_evacuate_a_failed_host(computes, recorded, records):
    source, drive, key_file = recorded
    inventory, uuids = records
    # as if the operator had made them start with the host: libvirtd will try to start them when it comes back
    conn = libvirt.open(source.uri)
    for name in NAMES:
        conn.lookupByName(name).setAutostart(1)
    conn.close()

    vault = dict(evacuate_config_drives={NAMES[0]: dict(hostname=REBUILT_HOSTNAME, admin_pass=VAULT_DRIVE_SECRET)},
                 evacuate_console_passwords={NAMES[0]: dict(vnc=VAULT_VNC_SECRET)})
    serial_log = os.path.join(POOL_DIR, NAMES[0] + '-console.log')
    mounted = read_log(serial_log).count(DRIVE_MOUNTED)
    # check mode: the whole plan is checked, nothing is fenced, written or defined
    before = scenario.peer_snapshots(computes)
    checked = scenario.play(inventory, key_file, args=('--check',), **vault)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert 'would be fenced now' in scenario.flat(checked.stdout) and hosts.host_processes(source.name)
    assert scenario.peer_snapshots(computes) == before and not glob.glob(os.path.join(STATE, 'fences', '*.fence'))
    start = time.monotonic()
    evacuated = scenario.play(inventory, key_file, args=('-v',), **vault)
    print('fence and evacuate took %.1f s' % (time.monotonic() - start))
    assert evacuated.rc == 0, evacuated.stdout[-5000:] + evacuated.stderr[-2000:]
    assert not hosts.host_processes(source.name), 'the fence command did not power the host off'
    for secret in (VAULT_DRIVE_SECRET, VAULT_VNC_SECRET):
        assert secret not in evacuated.stdout + evacuated.stderr, 'a secret reached the job output'
    there = scenario.on_peers(computes)
    assert sorted(there) == list(NAMES), there
    assert {host for host, _uuid, _state, _xml in there.values()} == {computes[2].name}, there
    for name in NAMES:
        _host, uuid, state, _xml = there[name]
        assert uuid == uuids[name] and state == libvirt.VIR_DOMAIN_RUNNING, there
    xml = there[NAMES[0]][3]
    assert os.path.join(POOL_DIR, DATA) in xml and drive in xml, xml
    assert "passwd='%s'" % VAULT_VNC_SECRET in xml, 'the console password from the vault is not set'
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 30; echo; '
                             'dd if=/dev/vdb bs=512 skip=200 count=1 2>/dev/null | head -c 30; echo')
    assert ROOT_MARK in out and VOLUME_MARK in out, 'the data did not come along: %s' % out
    # the config drive the vault describes, as the rebuilt guest reads it once its boot has mounted it
    wait_for_log(serial_log, DRIVE_MOUNTED, count=mounted + 1, timeout=180)
    meta = serial_shell(PORT, "tr -d ' ' < /mnt/config/openstack/latest/meta_data.json | grep -o 'hostname\":\"[a-z0-9-]*'")
    assert 'hostname":"%s' % REBUILT_HOSTNAME in meta, meta
    assert len(glob.glob(os.path.join(STATE, 'fences', '*.fence'))) == 2
    rerun = scenario.play(inventory, key_file, **vault)
    assert rerun.rc == 0 and scenario.unchanged(rerun.stdout), rerun.stdout[-3000:]
    assert sorted(scenario.on_peers(computes)) == list(NAMES)

    # the failed host comes back with its definitions; libvirtd tries to autostart the stale copies
    log_offset = os.path.getsize(source.log_path) if os.path.exists(source.log_path) else 0
    back = hosts.start_host(source.index, keep_state=True)
    scenario.wait_for_autostart_refusals(back, log_offset)
    conn = libvirt.open(back.uri)
    try:
        for name in NAMES:
            dom = conn.lookupByName(name)
            assert not dom.isActive(), '%s: the stale copy runs on %s' % (name, back.name)
            assert not scenario.qemu_of(back.name, name), 'QEMU ran for the stale copy of %s' % name
        with pytest.raises(libvirt.libvirtError, match='was evacuated from this host'):
            conn.lookupByName(NAMES[1]).create()
        assert not scenario.qemu_of(back.name, NAMES[1])
        cleaned = scenario.play(inventory, key_file, action='cleanup')
        assert cleaned.rc == 0, cleaned.stdout[-4000:] + cleaned.stderr[-2000:]
        left = [d.name() for d in conn.listAllDomains(0) if d.name() in NAMES]
        assert not left, 'stale copies still defined on %s: %s' % (back.name, left)
    finally:
        conn.close()
    assert not glob.glob(os.path.join(STATE, 'fences', '*.fence'))
    there = scenario.on_peers(computes)
    assert all(there[name][2] == libvirt.VIR_DOMAIN_RUNNING for name in NAMES), there
    assert os.path.exists(os.path.join(POOL_DIR, DATA)) and len(glob.glob(os.path.join(POOL_DIR, '*-root.qcow2'))) == 2
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 30; echo')
    assert ROOT_MARK in out
