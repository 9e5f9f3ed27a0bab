"""What the fleet benchmark rows (bench/fleet.py, bench/fleet_evacuate.py) share: the fleet brought up and set up,
the controller's own libvirt connections to its hosts, tiny guests booted and removed, and the wait until guests
answer.

Guests are booted through the `guests` module over SSH (one ansible-playbook run on the host, waiting until every
guest agent answers); that is set-up, never timed. They are removed with virsh inside the hosts (entered from
outside, so it works on a host whose links or hooks are in the way), with their console logs on the shared pool.

The controller reaches each host's libvirt over qemu+ssh, as the peers do, through an ssh wrapper holding the lab's
key and known_hosts (this machine's resolver does not know *.fleet.test): the floors' one Python process uses these
connections, opened before any clock starts, and so does the wait until every guest answers its agent, for ours and
the floor alike.
"""
import glob
import json
import os
import tempfile
import time

import libvirt
import libvirt_qemu

from lab.fleet import control, fencing, inventory, keys, layout, machines
from lab.guests import readable_boot_files
from lab.runner import REPO_ROOT, run_playbook

COMPUTE_HOST_PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'compute_host.yml')
PREFIX = 'fleet-bench-'
MEMORY_MB = 128
BOOT_TIMEOUT = 240
ANSWER_TIMEOUT = 240
POOL_DIR = layout.outside(inventory.INSTANCES_DIR)     # the pool fleet-shared, seen from the controller

BOOT_PLAY = """- hosts: "{{ bench_host }}"
  gather_facts: false
  tasks:
    - name: Boot the benchmark's tiny guests, up to their guest agent
      virtops.compute.guests:
        guests: "{{ bench_guests }}"
        wait_for: agent
        wait_timeout: %d
""" % BOOT_TIMEOUT


class FleetLab:
    """The fleet, up and set up by compute_host, with the controller's connections to each host."""

    def __init__(self, log, tiny):
        self.log = log
        self.tmp = tempfile.TemporaryDirectory(prefix='bench-fleet-')
        self.use = control.FleetUse().__enter__()
        was_up = control.healthy(log=log)
        started = time.monotonic()
        self.inventory = control.up(log=log)
        if not was_up:
            log('fleet: up in %.0f s' % (time.monotonic() - started))
        self.hosts = layout.all_hosts()
        self._setup_hosts()
        # in the shared pool, like the guests' console logs: an evacuation defines a guest again only from files
        # in its peer's storage pools
        files = readable_boot_files(tiny, POOL_DIR, prefix=PREFIX + 'boot-')
        self.boot_options = dict(kernel=layout.inside(files['kernel']), initrd=layout.inside(files['initrd']),
                                 cmdline=tiny.cmdline)
        self.wrapper = self._ssh_wrapper()
        self.conns = {}

    def _setup_hosts(self):
        started = time.monotonic()
        result = self.playbook(COMPUTE_HOST_PLAYBOOK, timeout=1800)
        if result.rc != 0:
            raise RuntimeError('compute_host.yml failed on the fleet: %s' % _tail(result))
        self.log('fleet: compute_host.yml applied in %.0f s' % (time.monotonic() - started))

    def _ssh_wrapper(self):
        config = os.path.join(self.tmp.name, 'ssh_config')
        with open(config, 'w') as handle:
            handle.write('Host *.fleet.test\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n'
                         '  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
                         '  ServerAliveInterval 3\n  ServerAliveCountMax 3\n' % (keys.SSH_KEY, keys.KNOWN_HOSTS))
            for host in self.hosts:
                handle.write('Host %s\n  HostName %s\n' % (host.fqdn, host.address))
        wrapper = os.path.join(self.tmp.name, 'fleet-ssh')
        with open(wrapper, 'w') as handle:
            handle.write('#!/bin/sh\nexec ssh -F %s "$@"\n' % config)
        os.chmod(wrapper, 0o755)
        return wrapper

    def uri(self, name):
        """The controller's libvirt URI of fleet host `name` (qemu+ssh, as its peers reach it)."""
        return '%s?command=%s' % (layout.host(name).peer_uri, self.wrapper)

    def conn(self, name):
        """A connection of the controller to host `name`'s libvirt, opened once (again after the host was off)."""
        conn = self.conns.get(name)
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
            self.drop(name)
        conn = self.conns[name] = libvirt.open(self.uri(name))
        return conn

    def drop(self, name):
        conn = self.conns.pop(name, None)
        if conn is not None:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    def playbook(self, playbook, extra_vars=None, inventory_path=None, timeout=1200, fresh_ssh=False):
        """ansible-playbook over SSH against the fleet; `fresh_ssh`: with SSH control sockets of its own, so that no
        master connection left by an earlier play (to a host since killed) is reused."""
        env = None
        if fresh_ssh:
            env = dict(ANSIBLE_SSH_CONTROL_PATH_DIR=tempfile.mkdtemp(prefix='cp-', dir=self.tmp.name))
        return run_playbook(playbook, extra_vars=extra_vars, args=('-i', inventory_path or self.inventory),
                            timeout=timeout, env=env)

    # ------------------------------------------------------------ guests

    def boot(self, host_name, names):
        """`names` running on `host_name` (defined nowhere else), each guest agent answering."""
        self.remove(names)
        items = [dict(name=name, state='running', virt_type='qemu', vcpus=1, memory_mb=MEMORY_MB,
                      storage_pool=inventory.SHARED_POOL, guest_agent=True, **self.boot_options) for name in names]
        path = os.path.join(self.tmp.name, 'boot.yml')
        with open(path, 'w') as handle:
            handle.write(BOOT_PLAY)
        result = self.playbook(path, extra_vars=dict(bench_host=host_name, bench_guests=items), timeout=900)
        if result.rc != 0:
            raise RuntimeError('booting %d tiny guests on %s failed: %s' % (len(names), host_name, _tail(result)))

    def remove(self, names):
        """`names` destroyed and undefined on every running host, their console logs gone from the shared pool."""
        for host in self.hosts:
            if not machines.nspawn_pid(host):
                continue
            defined = machines.inside(host, 'virsh', '-c', 'qemu:///system', 'list', '--all', '--name',
                                      check=False).stdout.split()
            for name in set(defined) & set(names):
                machines.inside(host, 'virsh', '-c', 'qemu:///system', 'destroy', name, check=False)
                machines.inside(host, 'virsh', '-c', 'qemu:///system', 'undefine', name, '--nvram', check=False)
        for name in names:
            for path in glob.glob(os.path.join(POOL_DIR, name + '-*')):
                os.unlink(path)
        for host in self.hosts:
            if machines.nspawn_pid(host):
                machines.inside(host, 'virsh', '-c', 'qemu:///system', 'pool-refresh', inventory.SHARED_POOL,
                                check=False)

    def placement(self, names, source):
        """guest name -> the host (other than `source`) where it runs; a guest left behind or down is an error."""
        found = {}
        for host in self.hosts:
            if host.name == source:
                continue
            for dom in self.conn(host.name).listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING):
                if dom.name() in names:
                    found[dom.name()] = host.name
        missing = sorted(set(names) - set(found))
        if missing:
            raise RuntimeError('guest(s) %s did not end up running on a peer of %s' % (', '.join(missing), source))
        return found

    def wait_answering(self, placement, timeout=ANSWER_TIMEOUT):
        """Until each guest answers guest-ping through its agent on the host `placement` names."""
        deadline = time.monotonic() + timeout
        waiting = dict(placement)
        ping = json.dumps({'execute': 'guest-ping'})
        last = {}
        while waiting:
            for name, host_name in list(waiting.items()):
                try:
                    dom = self.conn(host_name).lookupByName(name)
                    libvirt_qemu.qemuAgentCommand(dom, ping, 2, 0)
                    del waiting[name]
                except libvirt.libvirtError as err:
                    last[name] = str(err)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError('guest(s) %s did not answer within %ds: %s' % (
                    ', '.join(sorted(waiting)), timeout, '; '.join(last.get(n, '') for n in sorted(waiting))[:500]))
            if waiting:
                time.sleep(0.2)

    # ------------------------------------------------------------ the fence hook and host state

    def power_on(self, name):
        """Host `name` running and answering again (after a power cut), its libvirt reachable."""
        self.drop(name)
        if not machines.nspawn_pid(layout.host(name)):
            control.poweron(name, log=self.log)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.conn(name)
                return
            except libvirt.libvirtError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def close(self, names):
        try:
            for host in self.hosts:
                if not machines.nspawn_pid(host):
                    control.poweron(host.name, log=self.log)
            fencing.drop_hooks(self.hosts)
            self.remove(names)
        finally:
            for name in list(self.conns):
                self.drop(name)
            self.use.__exit__(None, None, None)
            self.tmp.cleanup()


def _tail(result):
    return ' '.join((result.stdout[-1500:] + ' ' + result.stderr[-500:]).split())
