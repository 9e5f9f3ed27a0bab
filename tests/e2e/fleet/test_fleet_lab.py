"""The fleet lab itself: three Debian hosts under systemd, reached over SSH, and the failures it makes.

Each host is checked from outside (its container's PID 1, its processes, its link on the bridge) and from
inside over SSH through pytest-ansible; each failure (partition, clean power-off, power cut) is checked for
what it must do and for what it must leave alone, and every test gives its host back running.
"""
import os
import re

import pytest
from pytest_ansible.errors import AnsibleConnectionFailure

from lab.fleet import control, layout, machines, network
from lab.proc import cmdline, wait_for

GUEST = 'fleet-lab-cut'


def contacted(result, host):
    """One host's module result from a pytest-ansible run, which must have succeeded."""
    outcome = result[host]
    assert not outcome.is_failed, '%s: %s' % (host, dict(outcome))
    return outcome


def test_every_host_runs_systemd_and_answers_over_ssh(fleet, fleet_ansible):
    facts = fleet_ansible.all.command('sh -c "cat /proc/1/comm; systemctl is-system-running; hostname; '
                                      'hostname --fqdn; ip -4 -o addr show dev host0"')
    for host in fleet.hosts:
        # from outside: the container's first process is systemd, a child of the host's systemd-nspawn
        assert machines.leader_pid(host), '%s has no systemd under its systemd-nspawn' % host.name
        assert '--machine=%s' % host.machine in cmdline(machines.nspawn_pid(host))
        comm, state, name, fqdn, address = contacted(facts, host.name)['stdout'].splitlines()
        assert (comm, state, name, fqdn) == ('systemd', 'running', host.name, host.fqdn)
        assert ' %s/24 ' % host.address in address
    # over SSH, as root with the lab's key, and no host is this machine
    assert len({contacted(facts, h.name)['stdout'] for h in fleet.hosts}) == len(fleet.hosts)
    pong = fleet_ansible.all.ping()
    assert all(contacted(pong, h.name)['ping'] == 'pong' for h in fleet.hosts)


def test_hosts_know_each_other_by_name_and_reach_only_the_bridge(fleet, fleet_ansible):
    names = ' '.join(h.fqdn for h in fleet.hosts)
    looked_up = fleet_ansible['cn1'].command('getent ahostsv4 %s' % names)
    lines = contacted(looked_up, 'cn1')['stdout']
    for host in fleet.hosts:
        assert re.search(r'^%s\s+STREAM %s$' % (re.escape(host.address), re.escape(host.fqdn)), lines, re.M), lines
    # no route leads off the bridge, and apt knows only the lab's repository on it
    routes = contacted(fleet_ansible['cn2'].command('ip -4 route'), 'cn2')['stdout']
    assert [line.split()[:3] for line in routes.splitlines()] == [[str(layout.SUBNET), 'dev', 'host0']], routes
    sources = contacted(fleet_ansible['cn2'].shell(
        'cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -E "^(URIs:|deb )"',), 'cn2')['stdout']
    assert sources.splitlines() == ['URIs: http://%s:%d/' % (layout.GATEWAY, layout.REPO_PORT)], sources


def _reaches(fleet_host, address, port=22):
    """Can the host open a TCP connection to address:port (asked inside it, through nsenter)?"""
    probe = machines.inside(fleet_host, 'timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/%s/%d' % (address, port),
                            check=False)
    return probe.returncode == 0


def test_partition_cuts_the_host_off_and_heal_restores_it(fleet_compute, fleet_ansible):
    cn2, cn3 = fleet_compute.host('cn2'), fleet_compute.host('cn3')
    assert _reaches(cn2, cn3.address) and network.ssh_answers(cn2)
    with fleet_compute.restored('cn2'):
        control.partition('cn2')
        assert control.host_state(cn2) == 'partitioned'
        with pytest.raises(AnsibleConnectionFailure):
            fleet_ansible['cn2'].ping()
        # the host lives on behind the cut: systemd running, its libvirtd answering inside, its link up
        assert machines.system_state(cn2) == 'running'
        inside = machines.inside(cn2, 'virsh', '-c', 'qemu:///system', 'hostname')
        assert inside.stdout.strip() == cn2.fqdn
        assert machines.inside(cn2, 'cat', '/sys/class/net/host0/operstate').stdout.strip() == 'up'
        # and it reaches nobody: neither a peer nor this machine
        assert not _reaches(cn2, cn3.address)
        assert not _reaches(cn2, layout.GATEWAY, layout.REPO_PORT)
        # the others are untouched
        assert contacted(fleet_ansible['cn3'].ping(), 'cn3')['ping'] == 'pong'
        control.heal('cn2')
        assert contacted(fleet_ansible['cn2'].ping(), 'cn2')['ping'] == 'pong'
        assert _reaches(cn2, cn3.address)


def test_clean_power_off_then_power_on(fleet, fleet_ansible):
    cn3 = fleet.host('cn3')
    with fleet.restored('cn3'):
        boot_id = contacted(fleet_ansible['cn3'].command('cat /proc/sys/kernel/random/boot_id'), 'cn3')['stdout']
        marker = '/root/written-before-poweroff'
        contacted(fleet_ansible['cn3'].copy(dest=marker, content=boot_id + '\n'), 'cn3')
        control.poweroff('cn3')
        assert control.host_state(cn3) == 'off' and not machines.processes(cn3)
        assert not network.link_exists(cn3.veth)
        # systemd took the system down itself
        assert 'Powering off.' in machines.last_boot_log(cn3)
        with pytest.raises(AnsibleConnectionFailure):
            fleet_ansible['cn3'].ping()
        control.poweron('cn3')
        assert machines.system_state(cn3) == 'running'
        again = contacted(fleet_ansible['cn3'].command('cat %s /proc/sys/kernel/random/boot_id' % marker), 'cn3')
        kept, new_boot = again['stdout'].split()
        # the same writable root, a new boot
        assert kept == boot_id and new_boot != boot_id


def test_power_cut_kills_the_host_and_its_guests_at_once(fleet_compute, fleet_ansible, fleet_tiny):
    cn3 = fleet_compute.host('cn3')
    guest = getattr(fleet_ansible['cn3'], 'virtops.compute.guest')
    try:
        with fleet_compute.restored('cn3'):
            booted = guest(name=GUEST, virt_type='qemu', memory_mb=192, storage_pool='fleet-shared',
                           **fleet_tiny.boot_options())
            assert contacted(booted, 'cn3')['guest']['state'] == 'running'
            qemu = wait_for(lambda: machines.qemu_processes(cn3), 30, 'the guest QEMU on cn3')
            assert 'guest=%s,' % GUEST in ' '.join(cmdline(qemu[0]))
            victims = control.kill('cn3')
            assert qemu[0] in victims
            # nothing of the host is left: no nspawn, no process in its cgroups or PID namespace, no QEMU anywhere
            assert control.host_state(cn3) == 'off' and not machines.processes(cn3)
            assert not [pid for pid in map(int, filter(str.isdigit, os.listdir('/proc')))
                        if 'guest=%s,' % GUEST in ' '.join(cmdline(pid))]
            # no clean shutdown ran: the console of that boot ends without systemd powering off
            assert 'Powering off.' not in machines.last_boot_log(cn3)
            control.poweron('cn3')
            # its definitions survived on its own root; the guest is off, as after any power loss
            state = contacted(fleet_ansible['cn3'].command('virsh domstate %s' % GUEST), 'cn3')['stdout']
            assert state.strip() == 'shut off'
    finally:
        contacted(guest(name=GUEST, state='absent'), 'cn3')
