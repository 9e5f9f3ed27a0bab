"""Issue 22, "fencing, and never two writers", on the fleet: the evacuate role over SSH against Debian hosts under
systemd, with the failures the fleet lab makes (partition, heal, power cut) and its power switch as the fence
(`python -m lab.cli fleet kill HOST`, verified by `... fleet is-off HOST`, run on the controller).

One tiny guest, its root disk on the fleet's shared pool, starts on cn1, autostarted, and writes a marker to its
disk (through its serial shell, reached over TCP on the host's address). Every host is recorded (the records and
fences live in the shared directory, which the controller and the hosts mount at different paths). Then:

- a partition that heals before anyone fences: the evacuation finds cn1 answering and changes nothing (cn1 never
  powered off, the guest still runs there with its data, nothing defined on a peer);
- a partition: without a fence the evacuation is refused in one sentence saying what to do and nothing starts on
  cn2 or cn3; with the lab's fence cn1 is powered off (the power cut) and the guest comes up on a peer with its
  data; cn1 comes back (still cut off): its libvirtd's autostart of the stale copy is refused by the fence hook,
  as is a manual start, no QEMU runs for it; once healed, `cleanup` undefines it and keeps the shared disk;
- a power cut of the host the guest moved to: the fence verification finds it off (no second fence), the guest
  comes up on another host with the data written on cn1 two moves ago, and the stale copy is refused and removed.
"""
import os
import random
import re
import shutil
import time

import pytest

from lab import tally
from lab.checks import assert_one_sentence
from lab.console import serial_run
from lab.fleet import control, fencing, inventory, layout, machines
from lab.fleet.fencing import HOOK
from lab.guests import blank_image, readable_boot_files
from lab.proc import cmdline, wait_for
from lab.runner import REPO_ROOT, run_playbook

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'evacuate.yml')
GUEST = 'fleet-evac-1'
PORT = 4671
WORK = os.path.join(layout.SHARED_DIR, 'fleet-evac')       # the controller's side of the shared directory
STATE = os.path.join(WORK, 'state')
POOL_DIR = layout.outside(inventory.INSTANCES_DIR)          # the pool fleet-shared, seen from the controller
BASE = os.path.join(POOL_DIR, 'fleet-evac-base.qcow2')
STALE = 'was evacuated from this host'
TIMES = {}


def _virsh(host, *args, check=True):
    """virsh on a fleet host, entered from outside (works while the host is cut off)."""
    return machines.inside(host, 'virsh', '-c', 'qemu:///system', *args, check=check)


def _defined(host):
    """{name: state} of the fleet-evac guests libvirt defines on `host`; {} while it is off."""
    if not machines.nspawn_pid(host):
        return {}
    names = _virsh(host, 'list', '--all', '--name').stdout.split()
    return {n: _virsh(host, 'domstate', n).stdout.strip() for n in names if n == GUEST}


def _where(fleet):
    return {h.name: state for h in fleet.hosts for state in _defined(h).values()}


def _qemu_for(host):
    return [pid for pid in machines.qemu_processes(host) if 'guest=%s,' % GUEST in ' '.join(cmdline(pid))]


def _refusal(result):
    """The one-line message of the task that failed the play."""
    found = re.findall(r'Task failed: Action failed: (.+)$', result.stdout + '\n' + result.stderr, re.M)
    assert found, 'the play did not fail on a task:\n%s\n%s' % (result.stdout[-3000:], result.stderr[-2000:])
    return found[-1].strip()


class Evacuation:
    """The module's guest, its data marker, and the runs of playbooks/evacuate.yml."""

    def __init__(self, fleet, key_file, fenced_inventory):
        self.fleet = fleet
        self.key_file = key_file
        self.fenced_inventory = fenced_inventory
        first, second = random.randint(1000, 9999), random.randint(1000, 9999)
        self.write_expr = 'evac-data-$((%d * %d))' % (first, second)
        self.marker = 'evac-data-%d' % (first * second)      # no command line holds it
        self.uuid = None

    def play(self, inventory_path=None, **extra):
        extra = dict(dict(state_dir=STATE, host_state_dir=layout.inside(STATE),
                          evacuate_record_key_file=self.key_file), **extra)
        start = time.monotonic()
        result = run_playbook(PLAYBOOK, extra_vars=extra, timeout=900,
                              args=('-i', inventory_path or self.fenced_inventory))
        TIMES.setdefault(extra.get('action', 'evacuate'), []).append(time.monotonic() - start)
        return result

    def shell(self, host, command):
        status, out = serial_run(PORT, command, timeout=60, host=host.address)
        assert status == 0, '%r on %s exited %s: %s' % (command, host.name, status, out)
        return out

    def assert_data(self, host):
        """The guest, running on `host`, reads its marker back from its own disk."""
        out = self.shell(host, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 40; echo')
        assert self.marker in out, 'the data written before the failure is not on the disk (on %s): %r' % (
            host.name, out)
        tally.case('integrity steps checked', 'evacuated guest reads its pre-failure marker on %s' % host.name)

    def fence_file(self):
        return os.path.join(STATE, 'fences', self.uuid + '.fence')


def _remove_guest(fleet):
    for host in fleet.hosts:
        names = _virsh(host, 'list', '--all', '--name').stdout.split() if machines.nspawn_pid(host) else []
        for name in set(names) & {GUEST}:
            _virsh(host, 'destroy', name, check=False)
            _virsh(host, 'undefine', name, '--nvram', check=False)


def _clean_files():
    shutil.rmtree(WORK, ignore_errors=True)
    for name in os.listdir(POOL_DIR) if os.path.isdir(POOL_DIR) else []:
        if name.startswith(GUEST) or name.startswith('fleet-evac-'):
            os.unlink(os.path.join(POOL_DIR, name))


@pytest.fixture(scope='module')
def evac(fleet_compute, fleet_ansible, tiny_image, tmp_path_factory):
    fleet = fleet_compute
    _remove_guest(fleet)
    fencing.drop_hooks(fleet.hosts)
    _clean_files()
    os.makedirs(WORK, mode=0o755)
    tmp = tmp_path_factory.mktemp('fleet-evac')
    fenced = fencing.fenced_inventory(fleet.inventory, str(tmp / 'inventory.yml'))
    ev = Evacuation(fleet, str(tmp / 'evacuate-record.key'), fenced)
    try:
        boot = readable_boot_files(tiny_image, POOL_DIR, prefix='fleet-evac-')
        blank_image(BASE, '32M')
        guest = getattr(fleet_ansible['cn1'], 'virtops.compute.guest')
        made = guest(name=GUEST, virt_type='qemu', memory_mb=160, storage_pool=inventory.SHARED_POOL,
                     image=layout.inside(BASE), cmdline=tiny_image.cmdline, shutdown_timeout=5,
                     serial_console=dict(type='tcp', listen='0.0.0.0', port=PORT),
                     **{k: layout.inside(v) for k, v in boot.items()})['cn1']
        assert not made.is_failed and made['guest']['state'] == 'running', dict(made)
        ev.uuid = made['guest']['uuid']
        # as if the operator had it start with its host: libvirtd will try to start it when the host comes back
        _virsh(fleet.host('cn1'), 'autostart', GUEST)
        # fsync: the disk's cache is flushed, so the data survive a host whose power is cut
        ev.shell(fleet.host('cn1'), 'echo %s | dd of=/dev/vda bs=512 seek=100 conv=notrunc,fsync 2>/dev/null'
                 % ev.write_expr)
        ev.assert_data(fleet.host('cn1'))
        # every host recorded: cn1's guest, and the fence hook on all of them
        recorded = ev.play(action='record', target_host='compute')
        assert recorded.rc == 0, recorded.stdout[-4000:] + recorded.stderr[-2000:]
        assert os.path.exists(os.path.join(STATE, 'guests', ev.uuid + '.json'))
        for host in fleet.hosts:
            hook = machines.inside(host, 'cat', HOOK).stdout
            assert "FENCES='%s/fences'" % layout.inside(STATE) in hook, hook
        yield ev
    finally:
        try:
            _remove_guest(fleet)
        finally:
            try:
                fencing.drop_hooks(fleet.hosts)
            finally:
                _clean_files()
        print('fleet evacuate playbook runs: %s' % ', '.join(
            '%s %s' % (action, ' + '.join('%.0f s' % took for took in runs)) for action, runs in TIMES.items()))


def test_a_partition_that_heals_before_any_fence_changes_nothing(fleet_compute, evac):
    fleet = fleet_compute
    cn1 = fleet.host('cn1')
    assert _where(fleet) == {'cn1': 'running'}
    nspawn = machines.nspawn_pid(cn1)
    with fleet.restored('cn1'):
        control.partition('cn1')
        tally.case('faults injected', 'fleet: partition of cn1, healed before any fence')
        # behind the cut the guest runs on: it would still write its disk
        assert _defined(cn1) == {GUEST: 'running'} and _qemu_for(cn1)
        control.heal('cn1')
    # an evacuation now (the fence is configured) asks cn1 first, finds it answering and fences nothing
    refused = evac.play(target_host='cn1')
    assert refused.rc != 0, refused.stdout[-4000:]
    message = _refusal(refused)
    assert_one_sentence(message, 'Host cn1 answers', 'none of its guests is rebuilt', 'evacuate_fence_answering=true')
    assert machines.nspawn_pid(cn1) == nspawn, 'cn1 was powered off'
    assert 'Power the failed host off' not in refused.stdout
    assert _where(fleet) == {'cn1': 'running'}, 'the guest moved or was defined on a peer'
    assert not os.path.exists(evac.fence_file())
    evac.assert_data(cn1)


def test_a_partitioned_host_is_evacuated_only_once_fenced(fleet_compute, evac):
    fleet = fleet_compute
    cn1 = fleet.host('cn1')
    assert _where(fleet) == {'cn1': 'running'}
    with fleet.restored('cn1'):
        control.partition('cn1')
        tally.case('faults injected', 'fleet: partition of cn1, evacuated')
        # no fence: refused in one sentence saying what to do, nothing starts anywhere, cn1 runs on
        unfenced = evac.play(inventory_path=fleet.inventory, target_host='cn1')
        assert unfenced.rc != 0, unfenced.stdout[-4000:]
        message = _refusal(unfenced)
        assert_one_sentence(message, 'Host cn1 is not fenced', 'evacuate_fence_command', 'evacuate_host_fenced=true')
        assert _where(fleet) == {'cn1': 'running'} and _qemu_for(cn1)
        assert control.host_state(cn1) == 'partitioned' and not os.path.exists(evac.fence_file())
        tally.case('bad inputs tried', 'fleet: evacuation of a partitioned host without a fence')

        # the lab's fence: cn1's power is cut (verified off), and only then is the guest rebuilt on a peer
        fenced = evac.play(target_host='cn1')
        assert fenced.rc == 0, fenced.stdout[-5000:] + fenced.stderr[-2000:]
        assert 'powered off by the fence action' in ' '.join(fenced.stdout.split()), fenced.stdout[-3000:]
        assert control.host_state(cn1) == 'off' and not machines.processes(cn1)
        there = _where(fleet)
        assert list(there.values()) == ['running'] and 'cn1' not in there, there
        peer = fleet.host(next(iter(there)))
        evac.assert_data(peer)
        with open(evac.fence_file()) as handle:
            fence = handle.read()
        assert 'from_host=cn1\n' in fence and 'to_host=%s\n' % peer.name in fence, fence

        # cn1 comes back, still cut off: libvirtd's autostart of the stale copy is refused by the hook
        control.poweron('cn1')
        assert control.host_state(cn1) == 'partitioned'
        journal = wait_for(lambda: _refused_in_journal(cn1), 60, "cn1's libvirtd to try to autostart %s" % GUEST)
        assert STALE in journal, journal
        assert _defined(cn1) == {GUEST: 'shut off'} and not _qemu_for(cn1)
        started = _virsh(cn1, 'start', GUEST, check=False)
        assert started.returncode != 0 and STALE in started.stderr, started.stderr
        assert not _qemu_for(cn1)
        control.heal('cn1')
    _cleanup_and_check(fleet, evac, cn1, peer)


def _refused_in_journal(host):
    """The line of libvirtd's journal (this boot) where its autostart of the guest failed, if there is one yet."""
    log = machines.inside(host, 'journalctl', '-b', '-u', 'libvirtd.service', '--no-pager', '-o', 'cat',
                          check=False).stdout
    lines = [line for line in log.splitlines() if 'autostart' in line and GUEST in line]
    return lines[-1] if lines else None


def _cleanup_and_check(fleet, evac, back, peer):
    """`cleanup` on the host that came back: its stale copy is undefined, the shared disk kept, the fence dropped;
    the guest runs on the peer and still reads its data."""
    disks = _virsh(peer, 'domblklist', GUEST).stdout
    root = [line.split()[1] for line in disks.splitlines()[2:] if line.split() and line.split()[0] == 'vda'][0]
    cleaned = evac.play(action='cleanup', target_host=back.name)
    assert cleaned.rc == 0, cleaned.stdout[-4000:] + cleaned.stderr[-2000:]
    assert _defined(back) == {}, 'the stale copy is still defined on %s' % back.name
    assert os.path.exists(layout.outside(root)), 'cleanup removed the shared disk %s' % root
    assert not os.path.exists(evac.fence_file())
    assert _where(fleet) == {peer.name: 'running'}
    evac.assert_data(peer)


def test_a_host_whose_power_was_cut_is_evacuated_and_its_stale_copy_removed(fleet_compute, evac):
    fleet = fleet_compute
    there = _where(fleet)
    assert list(there.values()) == ['running'], there
    source = fleet.host(next(iter(there)))
    _virsh(source, 'autostart', GUEST)
    with fleet.restored(source.name):
        control.kill(source.name)
        tally.case('faults injected', 'fleet: power cut of the host running an evacuated guest')
        evacuated = evac.play(target_host=source.name)
        assert evacuated.rc == 0, evacuated.stdout[-5000:] + evacuated.stderr[-2000:]
        # the verification found it off: no second fence
        assert 'it was off already' in ' '.join(evacuated.stdout.split()), evacuated.stdout[-3000:]
        there = _where(fleet)
        assert list(there.values()) == ['running'] and source.name not in there, there
        peer = fleet.host(next(iter(there)))
        evac.assert_data(peer)

        control.poweron(source.name)
        journal = wait_for(lambda: _refused_in_journal(source), 60,
                           "%s's libvirtd to try to autostart %s" % (source.name, GUEST))
        assert STALE in journal, journal
        assert _defined(source) == {GUEST: 'shut off'} and not _qemu_for(source)
    _cleanup_and_check(fleet, evac, source, peer)
