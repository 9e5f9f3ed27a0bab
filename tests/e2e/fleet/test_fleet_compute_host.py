"""The compute_host role on the fleet, over SSH, as an operator runs it: playbooks/compute_host.yml with the
fleet inventory's settings turns bare Debian hosts into compute hosts (packages from the lab's repository,
systemd units, the TLS listener with tls_allowed_dn_list, virtlockd as the lock manager, SSH trust between
the hosts, cgroup_controllers for containers). What it did is checked on the hosts and by using it: a TLS
client inside and outside the allowed subjects, qemu+ssh from host to host, a guest booted through the guest
module, and a second copy of a disk refused by the lock manager.
"""
import hashlib
import json
import os
import subprocess

import pytest

from lab import tally
from lab.checks import assert_one_sentence
from lab.fleet import inventory, keys, layout, machines
from lab.fleet.fixtures import COMPUTE_HOST_PLAYBOOK, TIMINGS
from lab.runner import bad_inputs_play
from lab.proc import cmdline, run, wait_for

ROLE_PACKAGES = ('libvirt-daemon-system', 'qemu-system-x86', 'python3-libvirt', 'python3-lxml', 'ovmf')
UNITS = ('libvirtd.service', 'virtlogd.service', 'virtlockd.service', 'libvirtd.socket', 'libvirtd-ro.socket',
         'virtlogd.socket', 'virtlockd.socket', 'libvirtd-tls.socket')
WATCHED = ('/etc/libvirt/libvirtd.conf', '/etc/libvirt/qemu.conf', '/etc/libvirt/qemu-lockd.conf',
           '/etc/default/libvirtd', '/root/.ssh/authorized_keys', '/root/.ssh/known_hosts')


def contacted(result, host):
    """One host's module result from a pytest-ansible run, which must have succeeded."""
    return succeeded(result[host], host)


def succeeded(outcome, host):
    assert not outcome.is_failed, '%s: %s' % (host, dict(outcome))
    return outcome


def shell(fleet_ansible, host, script):
    return contacted(fleet_ansible[host].shell(script), host)['stdout']


def uses_tcg(args):
    """Does this QEMU command line emulate (TCG) rather than use KVM?"""
    return any(a == 'tcg' or a.startswith('tcg,') or 'accel=tcg' in a for a in args)


def fingerprint(fleet_ansible, host):
    """What a role run could change on a host: its settings files and libvirtd's process."""
    return shell(fleet_ansible, host, 'sha256sum %s; systemctl show -p MainPID --value libvirtd.service'
                 % ' '.join(WATCHED))


def test_the_role_made_compute_hosts(fleet_compute, fleet_ansible):
    for host in fleet_compute.hosts:
        installed = shell(fleet_ansible, host.name, "dpkg-query -W -f='${Status}\\n' %s" % ' '.join(ROLE_PACKAGES))
        assert installed.splitlines() == ['install ok installed'] * len(ROLE_PACKAGES), installed
        states = shell(fleet_ansible, host.name, 'systemctl is-active %s; systemctl is-enabled %s'
                       % (' '.join(UNITS), ' '.join(u for u in UNITS if u != 'virtlogd.service'
                                                    and u != 'virtlockd.service')))
        assert set(states.split()) == {'active', 'enabled'}, states
        # libvirtd is systemd's, and stays: no idle --timeout
        main_pid = shell(fleet_ansible, host.name, 'systemctl show -p MainPID --value libvirtd.service')
        assert shell(fleet_ansible, host.name, 'cat /proc/%s/cmdline | tr "\\0" " "' % main_pid).strip() == \
            '/usr/sbin/libvirtd'
        settings = shell(fleet_ansible, host.name, 'grep -h -E "^(lock_manager|cgroup_controllers|auto_disk_leases|'
                         'require_lease_for_disks|file_lockspace_dir|tls_allowed_dn_list|listen_tls|host_uuid_source)'
                         ' =" /etc/libvirt/qemu.conf /etc/libvirt/qemu-lockd.conf /etc/libvirt/libvirtd.conf')
        allowed = ', '.join('"%s"' % keys.client_dn(h) for h in fleet_compute.hosts)
        for line in ('lock_manager = "lockd"', 'cgroup_controllers = []', 'auto_disk_leases = 1',
                     'require_lease_for_disks = 1', 'file_lockspace_dir = "%s"' % inventory.LOCKSPACE_DIR,
                     'tls_allowed_dn_list = [%s]' % allowed, 'listen_tls = 1', 'host_uuid_source = "machine-id"'):
            assert line in settings.splitlines(), (line, settings)
        # the TLS listener is on the host's own address only
        listening = shell(fleet_ansible, host.name, 'ss -H -ltn sport = :16514')
        assert listening.split()[3] == '%s:16514' % host.address and len(listening.splitlines()) == 1, listening


def test_a_second_run_changes_nothing(fleet_compute, fleet_ansible):
    before = {h: fingerprint(fleet_ansible, h) for h in fleet_compute.names}
    again = fleet_compute.playbook(COMPUTE_HOST_PLAYBOOK)
    assert again.rc == 0, again.stdout[-4000:]
    for host in fleet_compute.names:
        assert again.recap(host)['changed'] == 0, again.stdout[-4000:]
    assert 'RUNNING HANDLER' not in again.stdout
    assert {h: fingerprint(fleet_ansible, h) for h in fleet_compute.names} == before
    TIMINGS['compute_host second run'] = again.took


def test_check_and_diff_show_a_change_and_make_none(fleet_compute, fleet_ansible):
    before = {h: fingerprint(fleet_ansible, h) for h in fleet_compute.names}
    wanted = {'compute_host_lockd_conf': {'lvm_lockspace_dir': '/var/lib/libvirt/shared/lvm'},
              'compute_host_libvirtd_idle_timeout': 600, 'compute_host_tls_allowed_dn_list': ['O=ops,CN=*']}
    check = fleet_compute.playbook(COMPUTE_HOST_PLAYBOOK, extra_vars=wanted, check=True, diff=True, limit='cn1')
    assert check.rc == 0, check.stdout[-4000:]
    assert check.recap('cn1')['changed'] >= 2
    for line in ('+lvm_lockspace_dir = "/var/lib/libvirt/shared/lvm"', '+LIBVIRTD_ARGS="--timeout 600"',
                 '+tls_allowed_dn_list = ["O=ops,CN=*"]'):
        assert line in check.stdout, line
    assert {h: fingerprint(fleet_ansible, h) for h in fleet_compute.names} == before
    tally.case('check-mode changes compared', 'compute_host on a set-up fleet host: lock manager, idle timeout, TLS subjects')


BAD = [
    ({'compute_host_lock_manager': 'lockd', 'compute_host_lockd_lockspace_dir': 'shared/lockspace'},
     ['compute_host_lockd_lockspace_dir', 'shared/lockspace', 'cn1']),
    ({'compute_host_lock_manager': 'lockd', 'compute_host_service_manager': 'direct'},
     ["'lockd'", 'systemd', 'cn1']),
    ({'compute_host_lock_manager': 'lockd', 'compute_host_lockd_lockspace_dir': ''},
     ['compute_host_lockd_lockspace_dir', 'absolute path', 'cn1']),
]


def test_bad_variables_fail_in_one_sentence_before_anything_changes(fleet_compute, fleet_ansible, tmp_path):
    cases = [extra for extra, _names in BAD] + [{'compute_host_lock_manager': 'sanlock'},
                                                {'compute_host_libvirtd_idle_timeout': 'soon'}]
    before = fingerprint(fleet_ansible, 'cn1')
    out = str(tmp_path / 'failures.json')
    result = fleet_compute.playbook(bad_inputs_play('virtops.compute.compute_host', cases, out), limit='cn1')
    assert result.rc == 0, result.stdout[-4000:]
    with open(out) as handle:
        messages = json.load(handle)
    assert len(messages) == len(cases), messages
    for message, (_extra, names) in zip(messages, BAD):
        assert_one_sentence(message, *names)
    # the argument spec refuses a lock manager it does not know and a timeout that is no number
    assert 'compute_host_lock_manager' in messages[-2] and 'sanlock' in messages[-2], messages[-2]
    assert 'compute_host_libvirtd_idle_timeout' in messages[-1], messages[-1]
    assert fingerprint(fleet_ansible, 'cn1') == before
    for case in cases:
        tally.case('bad inputs tried', 'compute_host on a fleet host: %s' % sorted(case.items()))


def _client_pki(directory, dn_name):
    """A pkipath directory for virsh: the fleet CA and a client certificate with subject `dn_name`."""
    os.makedirs(directory)
    keys.issue(os.path.join(directory, 'clientcert.pem'), os.path.join(directory, 'clientkey.pem'), dn_name)
    with open(keys.CA_CERT) as src, open(os.path.join(directory, 'cacert.pem'), 'w') as dst:
        dst.write(src.read())
    return directory


def _virsh_tls(host, pki, *command):
    uri = 'qemu+tls://%s/system?pkipath=%s' % (host.address, pki)
    return subprocess.run(['virsh', '-c', uri] + list(command), capture_output=True, text=True, timeout=60,
                          check=False)


def test_tls_listener_lets_in_only_the_allowed_subjects(fleet_compute, fleet_ansible, tmp_path):
    cn1 = fleet_compute.host('cn1')
    # a peer's subject gets in; the same CA's certificate for another subject does not
    peer = _client_pki(str(tmp_path / 'peer'), keys.subject(fleet_compute.host('cn2').fqdn))
    stranger = _client_pki(str(tmp_path / 'stranger'), keys.subject('intruder.fleet.test'))
    allowed = _virsh_tls(cn1, peer, 'hostname')
    assert allowed.returncode == 0 and allowed.stdout.strip() == cn1.fqdn, allowed.stderr
    since = machines.inside(cn1, 'date', '+%s').stdout.strip()
    refused = _virsh_tls(cn1, stranger, 'hostname')
    assert refused.returncode != 0 and refused.stdout.strip() != cn1.fqdn
    # refused for its subject, not for its certificate (libvirtd says why in its journal)
    log = machines.inside(cn1, 'journalctl', '-u', 'libvirtd.service', '--no-pager', '--since', '@' + since).stdout
    assert "Client's Distinguished Name is not on the list of allowed clients" in log, log
    # the hosts themselves, with the client certificates the role installed, reach each other over TLS
    for source, target in (('cn2', 'cn1'), ('cn3', 'cn2')):
        name = shell(fleet_ansible, source, 'virsh -c qemu+tls://%s/system hostname' % layout.host(target).fqdn)
        assert name.strip() == layout.host(target).fqdn


def test_hosts_trust_each_other_over_ssh(fleet_compute, fleet_ansible):
    for host in fleet_compute.hosts:
        for peer in fleet_compute.hosts:
            if peer == host:
                continue
            name = shell(fleet_ansible, host.name, 'virsh -c %s hostname' % peer.peer_uri)
            assert name.strip() == peer.fqdn
    # the known_hosts entries are what makes it work: without them a strict client refuses the peer
    strict = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes %s root@cn2.fleet.test true'
    assert contacted(fleet_ansible['cn1'].shell(strict % ''), 'cn1')['rc'] == 0
    unknown = fleet_ansible['cn1'].shell(strict % '-o UserKnownHostsFile=/dev/null')['cn1']
    assert unknown['rc'] != 0 and 'Host key verification failed' in unknown['stderr'], dict(unknown)


def test_a_tiny_guest_boots_through_the_guest_module_over_ssh(fleet_compute, fleet_ansible, fleet_tiny):
    name = 'fleet-ch-boot'
    guest = getattr(fleet_ansible['cn2'], 'virtops.compute.guest')
    try:
        booted = contacted(guest(name=name, virt_type='qemu', memory_mb=192, storage_pool='fleet-shared',
                                 **fleet_tiny.boot_options()), 'cn2')
        assert booted['changed'] and booted['guest']['state'] == 'running'
        serial = layout.outside(booted['guest']['consoles']['serial_log'])
        wait_for(lambda: fleet_tiny.marker in open(serial, errors='replace').read(), 90,
                 'the boot marker on %s' % serial, interval=0.5)
        # it runs in cn2 (its QEMU in cn2's PID namespace), under TCG
        qemu = machines.qemu_processes(fleet_compute.host('cn2'))
        assert [p for p in qemu if 'guest=%s,' % name in ' '.join(cmdline(p)) and uses_tcg(cmdline(p))], \
            [cmdline(p) for p in qemu]
    finally:
        contacted(guest(name=name, state='absent'), 'cn2')


@pytest.fixture
def shared_lun(fleet_compute, fleet_ansible):
    """A block device every host sees at /dev/fleet-lun0, as a shared LUN: a loop device of this machine with
    a device node of its own in each host. Each host's node is a distinct file, so QEMU's image locks (taken on
    that file) never see the other hosts; only the lock manager's lease, named after the disk's path, can."""
    backing = os.path.join(layout.SHARED_DIR, 'lun0.img')
    run(['truncate', '-s', '16M', backing])
    loop = run(['losetup', '--find', '--show', backing]).stdout.strip()
    minor = os.minor(os.stat(loop).st_rdev)
    path = '/dev/fleet-lun0'
    try:
        for host in ('cn1', 'cn2'):
            shell(fleet_ansible, host, 'rm -f {0}; mknod -m 0660 {0} b 7 {1}'.format(path, minor))
        yield path
    finally:
        for host in ('cn1', 'cn2'):
            fleet_ansible[host].shell('rm -f %s' % path)
        run(['losetup', '-d', loop], check=False)
        os.unlink(backing)


def test_the_lock_manager_refuses_a_second_writer_on_another_host(fleet_compute, fleet_ansible, fleet_tiny,
                                                                  shared_lun):
    first, second = 'fleet-lock-a', 'fleet-lock-b'
    on = {'cn1': first, 'cn2': second}

    def module(host, module_name, **args):
        return getattr(fleet_ansible[host], 'virtops.compute.' + module_name)(**args)[host]

    try:
        for host, name in on.items():
            succeeded(module(host, 'guest', name=name, virt_type='qemu', memory_mb=192, state='stopped',
                             storage_pool='fleet-shared', **fleet_tiny.boot_options()), host)
            succeeded(module(host, 'volume_attachment', guest=name, target='vdb', block=shared_lun), host)
        succeeded(module('cn1', 'guest', name=first, state='running'), 'cn1')
        lease = os.path.join(layout.outside(inventory.LOCKSPACE_DIR), hashlib.sha256(shared_lun.encode()).hexdigest())
        assert os.path.exists(lease)
        # the same disk in a guest on another host: libvirt refuses to start it
        refused = module('cn2', 'guest', name=second, state='running')
        assert refused.is_failed, dict(refused)
        assert 'resource busy' in refused['msg'] and os.path.basename(lease) in refused['msg'], refused['msg']
        assert shell(fleet_ansible, 'cn2', 'virsh domstate %s' % second).strip() == 'shut off'
        assert shell(fleet_ansible, 'cn1', 'virsh domstate %s' % first).strip() == 'running'
        # once the first copy stops, the lease is free and the other host may start it
        succeeded(module('cn1', 'guest', name=first, state='stopped', shutdown_timeout=5), 'cn1')
        succeeded(module('cn2', 'guest', name=second, state='running'), 'cn2')
        assert shell(fleet_ansible, 'cn2', 'virsh domstate %s' % second).strip() == 'running'
    finally:
        for host, name in on.items():
            module(host, 'guest', name=name, state='absent')
