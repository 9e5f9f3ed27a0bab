"""The maintenance role on lab host 4 with peers 5 and 6: four tiny guests live-migrate away two at a time, the
host is marked maintenance and `exit` enables it; when the peers' room (reserved memory, vCPU allocation ratio)
does not fit them all, the role stops, lists what moved and what did not, and the host stays disabled with the
rest running."""
import os
import re
import time

import libvirt
import pytest

from lab import guests
from lab.checks import libvirt_snapshot
from lab.computes import MIGRATION_ADDRESS, fact_state, forget_state, lab_computes, write_inventory
from lab.runner import REPO_ROOT, run_module, run_playbook

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'host_maintenance.yml')
# what each guest asks for: the placement counts it against a peer's free memory and reserved memory
MEMORY_MIB = 1024
NAMES = ['lab-mnt-%d' % i for i in range(1, 5)]


@pytest.fixture(scope='module')
def computes(lab_libvirt):
    yield from lab_computes()


@pytest.fixture
def source_guests(computes, tiny_image):
    """The four guests running on the source; every host starts and ends enabled, whatever a failed test left."""
    for host in computes:
        forget_state(host)
    conns = [libvirt.open(h.uri) for h in computes]
    for conn in conns:
        for name in NAMES:
            guests.remove_guest(conn, name)
    started = [guests.start_guest(conns[0], name, tiny_image, memory_mib=MEMORY_MIB) for name in NAMES]
    for guest in started:
        guest.wait_for_serial(guest.marker)
    yield conns
    for conn in conns:
        for name in NAMES:
            guests.remove_guest(conn, name)
        conn.close()
    for name in NAMES:
        guests.remove_guest_files(name)
    for host in computes:
        forget_state(host)


def _where(conns, hosts_list):
    """guest name -> (host name, state) of every lab-mnt guest defined somewhere."""
    found = {}
    for conn, host in zip(conns, hosts_list):
        for dom in conn.listAllDomains(0):
            if dom.name() in NAMES:
                assert dom.name() not in found, '%s is defined on two hosts' % dom.name()
                found[dom.name()] = (host.name, dom.state()[0])
    return found


def _flat(text):
    """Output with every run of white space as one space (the YAML callback folds long messages)."""
    return ' '.join(text.split())


def _play(inventory, **extra):
    extra = dict({'target_host': 'lab-host4', 'migration_address': MIGRATION_ADDRESS, 'allow_unsafe': True}, **extra)
    return run_playbook(PLAYBOOK, extra_vars=extra, args=('-i', inventory), timeout=600)


def test_enter_moves_every_guest_and_exit_restores(computes, source_guests, tmp_path):
    source, peer5, peer6 = computes
    inventory = write_inventory(str(tmp_path / 'inventory.json'), computes)
    start = time.monotonic()
    entered = _play(inventory, action='enter', concurrency=2, reason='e2e maintenance')
    took = time.monotonic() - start
    assert entered.rc == 0, entered.stdout[-4000:] + entered.stderr[-2000:]
    where = _where(source_guests, computes)
    assert sorted(where) == NAMES, where
    assert all(host != source.name and state == libvirt.VIR_DOMAIN_RUNNING for host, state in where.values()), where
    assert {host for host, _state in where.values()} == {peer5.name, peer6.name}, 'both peers take guests: %s' % where
    assert fact_state(source) == 'maintenance'
    # four migrations two at a time: two batches, each started as async jobs before any is waited for
    assert entered.stdout.count('TASK [virtops.compute.maintenance : Start live migrations, batch') == 2
    assert re.search(r'moved so far .*lab-mnt-\d', _flat(entered.stdout))
    print('enter took %.1f s' % took)

    again = _play(inventory, action='enter')
    assert again.rc == 0, again.stdout[-3000:]
    assert fact_state(source) == 'maintenance'

    left = _play(inventory, action='exit')
    assert left.rc == 0, left.stdout[-3000:]
    assert fact_state(source) == 'enabled'
    assert sorted(_where(source_guests, computes)) == NAMES


def test_enter_stops_when_not_all_fit(computes, source_guests, tmp_path):
    source, peer5, peer6 = computes
    cpus = run_module('host_info', uri=peer6.uri, probe=False)['host']['cpu']['count']
    # Peer 5 keeps all its memory for itself; peer 6 takes two one-vCPU guests, not three, through its vCPU
    # allocation ratio. Its free memory would not do: the lab hosts share this machine's, which the other lane's
    # guests move by a GiB while the test runs.
    inventory = write_inventory(str(tmp_path / 'inventory.json'), computes, reserved={peer5.name: 10 ** 7},
                                vcpu_ratio={peer6.name: 2.0 / cpus})
    result = _play(inventory, action='enter', concurrency=2)
    assert result.rc != 0, result.stdout[-3000:]
    where = _where(source_guests, computes)
    on_peer6 = sorted(n for n, (h, _s) in where.items() if h == peer6.name)
    still_here = sorted(n for n, (h, s) in where.items() if h == source.name and s == libvirt.VIR_DOMAIN_RUNNING)
    assert len(on_peer6) == 2 and len(still_here) == 2, '%s\n%s' % (where, result.stdout[-4000:])
    assert not any(h == peer5.name for h, _s in where.values()), where
    assert fact_state(source) == 'disabled'
    summary = result.stdout[result.stdout.index('TASK [virtops.compute.maintenance : Summary]'):]
    for name in on_peer6 + still_here:
        assert name in summary, summary[:2000]
    assert 'host_state: disabled' in summary, summary[:2000]
    assert 'stays disabled, not in maintenance' in _flat(result.stdout)
    restored = _play(inventory, action='exit')
    assert restored.rc == 0 and fact_state(source) == 'enabled', restored.stdout[-2000:]


def test_enter_refuses_guests_that_cannot_migrate(computes, source_guests, tmp_path):
    source = computes[0]
    source_guests[0].lookupByName(NAMES[3]).managedSave(0)
    inventory = write_inventory(str(tmp_path / 'inventory.json'), computes)
    result = _play(inventory, action='enter', unmigratable='refuse')
    assert result.rc != 0
    assert 'guest(s) %s cannot live-migrate' % NAMES[3] in _flat(result.stdout), result.stdout[-3000:]
    assert fact_state(source) == 'enabled'
    where = _where(source_guests, computes)
    assert all(host == source.name for host, _state in where.values()), where


@pytest.mark.parametrize('playbook', ['host_maintenance.yml', 'evacuate.yml'])
def test_unknown_target_host_is_refused(computes, tmp_path, playbook):
    inventory = write_inventory(str(tmp_path / 'inventory.json'), computes)
    conns = [libvirt.open(host.uri) for host in computes]
    before = [libvirt_snapshot(conn) for conn in conns]
    result = run_playbook(os.path.join(os.path.dirname(PLAYBOOK), playbook),
                          extra_vars={'target_host': 'lab-host-nobody'}, args=('-i', inventory), timeout=120)
    assert result.rc != 0
    assert "target_host 'lab-host-nobody' is not a host or group of this inventory." in _flat(result.stdout)
    assert [libvirt_snapshot(conn) for conn in conns] == before
    for conn in conns:
        conn.close()
