"""The maintenance role on lab host 4 with peers 5 and 6: four tiny guests live-migrate away two at a time (each
guest's uptime, read inside it, carries on; the migration jobs polled on the source host overlap two at a time and
never three), the host is marked maintenance and `exit` enables it; when the peers' room (reserved memory, vCPU
allocation ratio) does not fit them all, the role stops, lists what moved and what did not, and the host stays
disabled with the rest running. Over TLS (lab hosts 10 and 11), the migration stream is encrypted.

The peers' room is set by their own inventory variables only (a vCPU allocation ratio that gives each exactly two
vCPUs, or reserved memory above what they have), never by this machine's free memory, which other tests move."""
import json
import os
import threading
import time

import libvirt
import pytest

from lab import guests
from lab.checks import libvirt_snapshot
from lab.computes import MIGRATION_ADDRESS, fact_state, forget_state, lab_computes, write_inventory
from lab.runner import REPO_ROOT, run_module, run_playbook
from test_migrate import find, uptime
# the TLS lab hosts, used by name
from test_migrate_tls import tls_hosts  # noqa: F401  pylint: disable=unused-import
from test_migrate_tls import _tls_uri as tls_uri

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'host_maintenance.yml')
# small guests: what decides where they go is the peers' vCPU ratio and reserved memory, not memory pressure
MEMORY_MIB = 128
NAMES = ['lab-mnt-%d' % i for i in range(1, 5)]
# each migration capped so that it lasts seconds: a batch's two jobs are seen running side by side on the host
BANDWIDTH_MIB = 8


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


class JobWatch:
    """Polls the source host's migration jobs while a play runs (libvirt's job info, as on the host itself)."""

    def __init__(self, uri, names, interval=0.2):
        self.uri, self.names, self.interval = uri, names, interval
        self.samples = []           # (seconds, {guest names migrating at that moment})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        conn = libvirt.open(self.uri)
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                migrating = set()
                for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                    try:
                        if dom.name() in self.names and dom.jobStats(0).get('operation') == \
                                libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
                            migrating.add(dom.name())
                    except libvirt.libvirtError:
                        pass        # gone from the source meanwhile: it has moved
                self.samples.append((time.monotonic() - start, migrating))
                self._stop.wait(self.interval)
        finally:
            conn.close()

    def most_at_once(self):
        return max((len(names) for _t, names in self.samples), default=0)

    def seen(self):
        return set().union(*(names for _t, names in self.samples)) if self.samples else set()


def _uptimes(conns, hosts_list):
    """guest name -> uptime in seconds, read inside each guest wherever it runs."""
    found = {}
    for conn, _host in zip(conns, hosts_list):
        for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if dom.name() in NAMES:
                found[dom.name()] = uptime(conn, dom.name())
    return found


def _play(inventory, **extra):
    extra = dict({'target_host': 'lab-host4', 'migration_address': MIGRATION_ADDRESS, 'allow_unsafe': True}, **extra)
    return run_playbook(PLAYBOOK, extra_vars=extra, args=('-i', inventory), timeout=600)


def test_enter_moves_every_guest_and_exit_restores(computes, source_guests, tmp_path):
    source, peer5, peer6 = computes
    cpus = run_module('host_info', uri=peer5.uri, probe=False)['host']['cpu']['count']
    # each peer takes exactly two one-vCPU guests
    inventory = write_inventory(str(tmp_path / 'inventory.json'), computes,
                                vcpu_ratio={peer5.name: 2.0 / cpus, peer6.name: 2.0 / cpus})
    before = _uptimes(source_guests, computes)
    assert sorted(before) == NAMES
    start = time.monotonic()
    with JobWatch(source.uri, NAMES) as jobs:
        entered = _play(inventory, action='enter', concurrency=2, reason='e2e maintenance',
                        maintenance_bandwidth_mib=BANDWIDTH_MIB)
    took = time.monotonic() - start
    assert entered.rc == 0, entered.stdout[-4000:] + entered.stderr[-2000:]
    where = _where(source_guests, computes)
    assert sorted(where) == NAMES, where
    assert all(host != source.name and state == libvirt.VIR_DOMAIN_RUNNING for host, state in where.values()), where
    assert sorted(host for host, _state in where.values()) == sorted([peer5.name] * 2 + [peer6.name] * 2), where
    assert fact_state(source) == 'maintenance'
    # live: every guest's own uptime went on through the move (a restarted guest would start again from zero)
    after = _uptimes(source_guests, computes)
    assert all(after[name] > before[name] for name in NAMES), (before, after)
    # two at a time, as the host saw it: every guest's migration job ran, two of them at once, never three
    assert jobs.seen() == set(NAMES), jobs.samples
    assert jobs.most_at_once() == 2, 'at most %d migration(s) ran at once' % jobs.most_at_once()
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


def test_enter_over_tls_encrypts_the_migration(tls_hosts, tiny_image, tmp_path):
    """maintenance_tls (the playbook's tls): the peer is reached over qemu+tls:// and QEMU's stream is TLS too."""
    (source, peer), pki = tls_hosts
    name = 'lab-mnt-tls'
    inventory = write_inventory(str(tmp_path / 'inventory.json'), [source, peer])
    with open(inventory) as handle:
        data = json.load(handle)
    data['compute']['hosts'][peer.name]['virtops_peer_uri'] = tls_uri(peer, pki)
    with open(inventory, 'w') as handle:
        json.dump(data, handle)
    for host in (source, peer):
        forget_state(host)
    src, dst = libvirt.open(source.uri), libvirt.open(peer.uri)
    try:
        guests.start_guest(src, name, tiny_image, memory_mib=MEMORY_MIB)
        up = uptime(src, name, 240)
        log_start = os.path.getsize(peer.log_path)
        entered = run_playbook(PLAYBOOK, extra_vars={'target_host': source.name, 'migration_address': MIGRATION_ADDRESS,
                                                     'tls': True}, args=('-i', inventory), timeout=600)
        assert entered.rc == 0, entered.stdout[-4000:] + entered.stderr[-2000:]
        assert find(src, name) is None and find(dst, name).isActive()
        assert uptime(dst, name, 240) > up, 'the guest was restarted instead of moved'
        assert fact_state(source) == 'maintenance'
        with open(peer.log_path, errors='replace') as handle:
            handle.seek(log_start)
            log = handle.read()
        assert '"tls-creds":"objlibvirt_migrate_tls0"' in log, 'the incoming migration did not use TLS'
        left = run_playbook(PLAYBOOK, extra_vars={'target_host': source.name, 'action': 'exit'}, args=('-i', inventory),
                            timeout=300)
        assert left.rc == 0 and fact_state(source) == 'enabled', left.stdout[-2000:]
    finally:
        for conn in (src, dst):
            guests.remove_guest(conn, name)
            conn.close()
        guests.remove_guest_files(name)
        for host in (source, peer):
            forget_state(host)
