"""Operating the fleet over SSH, as an operator does, with a few tiny guests shared by the cases in file order:

1. playbooks/provision.yml with provision_placement: three guests in all, each on a host with room (the placement
   filter over each host's host_info, the hosts' own reserved memory and vCPU allocation ratio), not three per
   host; each boots (its marker on its serial log, its uptime read inside it), and a second run places nothing anew;
2. the inventory plugin over the fleet's qemu+ssh URIs: the guests, each with the host it runs on;
3. playbooks/host_maintenance.yml enter on cn1: its guests move live to the peers (uptime carried on, read inside
   each guest), cn1 is marked maintenance, the inventory plugin sees them on their new hosts; exit enables cn1;
4. the host module restarts libvirtd.service under systemd: the guests' QEMUs and uptimes run on.
"""
import os
import re

import pytest
import yaml

from lab import tally
from lab.fleet import keys, layout, machines
from lab.fleet.guests import uptime, where
from lab.inventory_plugin import inventory_list, write_inventory
from lab.proc import wait_for
from lab.runner import REPO_ROOT, run_playbook

PROVISION = os.path.join(REPO_ROOT, 'playbooks', 'provision.yml')
MAINTENANCE = os.path.join(REPO_ROOT, 'playbooks', 'host_maintenance.yml')
NAMES = ['fleet-ops-%d' % i for i in (1, 2, 3)]
MEMORY_MB = 128
# the room the hosts give for this file: cn1 two more one-vCPU guests, cn2 one, cn3 none (all its memory kept back)
ROOM = {'cn1': 2, 'cn2': 1}


def module(fleet_ansible, host, module_name, **args):
    outcome = getattr(fleet_ansible[host], 'virtops.compute.' + module_name)(**args)[host]
    assert not outcome.is_failed, '%s: %s' % (host, dict(outcome))
    return outcome


def sh(fleet_ansible, host, script):
    outcome = fleet_ansible[host].shell(script)[host]
    assert not outcome.is_failed, '%s: %s' % (host, dict(outcome))
    return outcome['stdout'].strip()


def remove_all(fleet_ansible):
    for name, places in where(NAMES).items():
        for host, _state in places:
            module(fleet_ansible, host, 'guest', name=name, state='absent')


def running_on(names=NAMES):
    """guest name -> the one host it is defined on, where it must run."""
    found = where(names)
    for name, places in found.items():
        assert len(places) == 1 and places[0][1] == 'running', (name, found)
    return {name: places[0][0] for name, places in found.items()}


def service_state(fleet_ansible, host):
    return module(fleet_ansible, host, 'host_info', probe=False)['host']['service_state']


@pytest.fixture(scope='module')
def ops(fleet_compute, fleet_ansible, fleet_tiny, tmp_path_factory):
    """Where this file's guests are; none at the start and none left at the end, and every host enabled."""
    remove_all(fleet_ansible)
    for host in fleet_compute.names:
        if service_state(fleet_ansible, host) != 'enabled':
            module(fleet_ansible, host, 'host', state='enabled')
    state = {'dir': tmp_path_factory.mktemp('fleet-ops')}
    yield state
    remove_all(fleet_ansible)
    for host in fleet_compute.names:
        module(fleet_ansible, host, 'host', state='enabled')


def _room_inventory(fleet_ansible, path):
    """Host variables beside the fleet's inventory: each host's vCPU allocation ratio gives it room for exactly
    ROOM[host] more one-vCPU guests over what it runs now; cn3 keeps all its memory back."""
    hosts = {}
    for host, more in ROOM.items():
        cpu = module(fleet_ansible, host, 'host_info', probe=False)['host']['cpu']
        hosts[host] = {'virtops_vcpu_allocation_ratio': (cpu['vcpus_used'] + more) / float(cpu['count'])}
    hosts['cn3'] = {'virtops_reserved_memory_mb': 10 ** 7}
    with open(path, 'w') as handle:
        yaml.safe_dump({'compute': {'hosts': hosts}}, handle)
    return path


def _provision(fleet, fleet_tiny, room):
    guest = dict(state='running', vcpus=1, memory_mb=MEMORY_MB, virt_type='qemu', storage_pool='fleet-shared',
                 guest_agent=True, **fleet_tiny.boot_options())
    extra = {'provision_placement': True, 'provision_guests': [dict(guest, name=name) for name in NAMES]}
    return run_playbook(PROVISION, extra_vars=extra, args=['-i', fleet.inventory, '-i', room], timeout=600)


def _placed(result):
    """{host: [guest names]} from the play's PLACED lines."""
    # the callback may print the message with its quotes escaped: only the names are taken
    return {host: re.findall(r'fleet-ops-\d+', names)
            for host, names in re.findall(r'PLACED (cn\d) \[([^\]]*)\]', result.stdout)}


def test_provision_places_n_guests_where_there_is_room(fleet_compute, fleet_ansible, fleet_tiny, ops):
    room = _room_inventory(fleet_ansible, str(ops['dir'] / 'room.yml'))
    result = _provision(fleet_compute, fleet_tiny, room)
    assert result.rc == 0, result.stdout[-4000:] + result.stderr[-2000:]
    hosts = running_on()
    # three guests in all, where the room was: two on cn1, one on cn2, none on cn3
    assert sorted(hosts.values()) == ['cn1', 'cn1', 'cn2'], hosts
    assert {h: sorted(n) for h, n in _placed(result).items() if n} == \
        {h: sorted(n for n, on in hosts.items() if on == h) for h in ('cn1', 'cn2')}, result.stdout[-3000:]
    # each boots: its marker on its serial log (the shared pool), and it answers inside
    for name in NAMES:
        log = os.path.join(layout.outside(layout.HOST_SHARED_DIR), 'instances', name + '-console.log')
        wait_for(lambda: os.path.exists(log) and fleet_tiny.marker in open(log, errors='replace').read(), 90,
                 'the boot marker of %s in %s' % (name, log), interval=0.5)
    ops['uptime'] = {name: uptime(host, name) for name, host in hosts.items()}
    # a second run finds every guest on its host: nothing placed anew, nothing changed
    again = _provision(fleet_compute, fleet_tiny, room)
    assert again.rc == 0, again.stdout[-4000:]
    assert all(again_recap == 0 for again_recap in (_changed(again, h) for h in fleet_compute.names)), \
        again.stdout[-4000:]
    assert running_on() == hosts
    ops['hosts'] = hosts
    tally.case('placements proven', 'provision.yml with provision_placement: 3 guests across the fleet by room')


def _changed(result, host):
    found = re.search(r'^%s\s*:\s*ok=\d+\s+changed=(\d+)' % host, result.stdout, re.M)
    assert found, result.stdout[-2000:]
    return int(found.group(1))


def _fleet_ssh(directory):
    """An ssh for libvirt's qemu+ssh transport (its `command` parameter) that reaches the fleet hosts by their
    names, with the lab's key and known_hosts, strictly: this machine's resolver does not know *.fleet.test."""
    config = os.path.join(directory, 'ssh_config')
    with open(config, 'w') as handle:
        handle.write('Host *.fleet.test\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n'
                     '  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
                     % (keys.SSH_KEY, keys.KNOWN_HOSTS))
        for host in layout.all_hosts():
            handle.write('Host %s\n  HostName %s\n' % (host.fqdn, host.address))
    wrapper = os.path.join(directory, 'fleet-ssh')
    with open(wrapper, 'w') as handle:
        handle.write('#!/bin/sh\nexec ssh -F %s "$@"\n' % config)
    os.chmod(wrapper, 0o755)
    return wrapper


def _listing(fleet, directory):
    wrapper = _fleet_ssh(str(directory))
    uris = ['%s?command=%s' % (h.peer_uri, wrapper) for h in fleet.hosts]
    path = write_inventory(directory, 'fleet.libvirt.yml', uris=uris)
    return inventory_list(path), dict(zip((h.name for h in fleet.hosts), uris))


def _assert_listed(listing, uris, hosts):
    hostvars = listing['_meta']['hostvars']
    for name, host in hosts.items():
        fqdn = layout.host(host).fqdn
        assert name in listing.get('libvirt_host_' + fqdn.replace('.', '_'), {}).get('hosts', []), listing
        assert hostvars[name]['virtops_compute_host'] == fqdn, hostvars[name]
        assert hostvars[name]['virtops_uri'] == uris[host] and hostvars[name]['virtops_state'] == 'running'
        assert hostvars[name]['virtops_metadata']['managed_by'] == 'virtops.compute'
    assert set(NAMES) <= set(listing.get('libvirt_state_running', {}).get('hosts', []))


def test_inventory_plugin_lists_the_guests_with_their_hosts(fleet_compute, ops):
    if 'hosts' not in ops:
        pytest.skip('no guests provisioned (see test_provision_places_n_guests_where_there_is_room)')
    listing, uris = _listing(fleet_compute, ops['dir'])
    _assert_listed(listing, uris, ops['hosts'])
    tally.case('inventory plugin runs', 'the fleet over qemu+ssh: guests grouped by the host they run on')


def test_maintenance_moves_cn1s_guests_live_and_exit_restores(fleet_compute, fleet_ansible, ops):
    if 'hosts' not in ops:
        pytest.skip('no guests provisioned (see test_provision_places_n_guests_where_there_is_room)')
    on_cn1 = sorted(n for n, h in ops['hosts'].items() if h == 'cn1')
    assert on_cn1
    before = {name: uptime('cn1', name) for name in on_cn1}
    entered = fleet_compute.playbook(MAINTENANCE, extra_vars={'target_host': 'cn1', 'action': 'enter',
                                                              'reason': 'fleet maintenance test'}, timeout=600)
    assert entered.rc == 0, entered.stdout[-4000:] + entered.stderr[-2000:]
    hosts = running_on()
    assert all(hosts[name] in ('cn2', 'cn3') for name in on_cn1), hosts
    # the guest that was on cn2 stayed there
    assert all(hosts[n] == h for n, h in ops['hosts'].items() if h != 'cn1'), hosts
    # live: each guest's own uptime went on (a restarted guest would count from zero)
    after = {name: uptime(hosts[name], name) for name in on_cn1}
    assert all(after[name] > before[name] for name in on_cn1), (before, after)
    assert service_state(fleet_ansible, 'cn1') == 'maintenance'
    listing, uris = _listing(fleet_compute, ops['dir'])
    _assert_listed(listing, uris, hosts)
    left = fleet_compute.playbook(MAINTENANCE, extra_vars={'target_host': 'cn1', 'action': 'exit'}, timeout=300)
    assert left.rc == 0, left.stdout[-3000:]
    assert service_state(fleet_ansible, 'cn1') == 'enabled'
    assert running_on() == hosts
    tally.case('maintenance runs proven', 'host_maintenance.yml enter/exit on fleet host cn1 over SSH')


def test_libvirtd_restarts_under_systemd_and_the_guests_run_on(fleet_compute, fleet_ansible, ops):
    """The host module's service control on a systemd host, over SSH: systemctl restarts libvirtd.service; the
    guests' QEMUs are not touched and the guests carry on."""
    if 'hosts' not in ops:
        pytest.skip('no guests provisioned (see test_provision_places_n_guests_where_there_is_room)')
    hosts = running_on()
    host = hosts[NAMES[0]]
    here = sorted(n for n, h in hosts.items() if h == host)
    main_pid = 'systemctl show -p MainPID --value libvirtd.service'
    pid_before = sh(fleet_ansible, host, main_pid)
    qemu_before = sorted(machines.qemu_processes(fleet_compute.host(host)))
    before = {name: uptime(host, name) for name in here}
    restarted = module(fleet_ansible, host, 'host', service='restarted')
    assert restarted['changed'] and restarted['service']['manager'] == 'systemd', dict(restarted)
    pid_after = sh(fleet_ansible, host, main_pid)
    assert pid_after not in ('0', pid_before), (pid_before, pid_after)
    assert restarted['service']['daemons']['libvirtd']['running'], dict(restarted)
    assert [a for a in restarted['service']['actions'] if a.startswith('systemctl restart') and 'libvirtd' in a], \
        restarted['service']['actions']
    assert sh(fleet_ansible, host, 'systemctl is-active libvirtd.service') == 'active'
    # the guests ran on through it, in the same QEMU processes, and libvirt knows them again
    assert sorted(machines.qemu_processes(fleet_compute.host(host))) == qemu_before
    assert running_on() == hosts
    after = {name: uptime(host, name) for name in here}
    assert all(after[name] > before[name] for name in here), (before, after)
    tally.case('service restarts proven', 'libvirtd.service restarted by the host module on a systemd fleet host')
