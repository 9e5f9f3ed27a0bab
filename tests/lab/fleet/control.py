"""The fleet as a whole, and the failures it is for. Every command returns once its effect is true, and raises
LabError when it is not within its time.

up         reuse a healthy fleet, or clean what an earlier (maybe crashed) run left, then build (cached) and
           boot every host, and write the inventory
down       power every host off (cutting the power of one that will not go), unmount and remove the hosts'
           layers, stop the repository server, remove the bridge and the inventory
status     each host: running / partitioned / off, address, systemd's state
partition  cut a host's link (it keeps running, unreachable and unable to reach anyone); heal: restore it
poweroff   `systemctl poweroff` inside; kill: a power cut; poweron: boot again from the same layer
is_off     nothing of the host runs (the evacuate role's fence verification, `lab.cli fleet is-off HOST`)
"""
import contextlib
import fcntl
import os
import time

from lab.fleet import build, inventory, keys, layout, machines, network
from lab.proc import LabError, say, state_drop, state_load, state_save, wait_for

BOOT_TIMEOUT = 180


@contextlib.contextmanager
def fleet_lock():
    """One fleet command at a time (a test session and a hand-typed command must not interleave)."""
    os.makedirs(os.path.dirname(layout.LOCK_FILE), exist_ok=True)
    with open(layout.LOCK_FILE, 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class FleetUse:
    """Held (shared) by every test session that uses the fleet, so that `fleet down` by hand waits for them."""

    def __init__(self):
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(layout.USE_LOCK_FILE), exist_ok=True)
        self.handle = open(layout.USE_LOCK_FILE, 'a')
        fcntl.flock(self.handle, fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc):
        self.handle.close()


def in_use():
    """Does a test session use the fleet now?"""
    if not os.path.exists(layout.USE_LOCK_FILE):
        return False
    with open(layout.USE_LOCK_FILE) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def _state():
    return state_load(layout.STATE)


def _partitioned(host):
    return bool(_state().get('hosts', {}).get(host.name, {}).get('partitioned'))


def _set_partitioned(host, value):
    state = _state()
    state.setdefault('hosts', {}).setdefault(host.name, {})['partitioned'] = value
    state_save(layout.STATE, state)


def host_state(host):
    """'running', 'partitioned', 'booting' or 'off'."""
    if not machines.nspawn_pid(host):
        return 'off'
    if network.port_state(host) == network.PORT_DISABLED:
        return 'partitioned'
    return 'running' if machines.system_state(host) == 'running' else 'booting'


def healthy(log=say):
    """Is the fleet up as `up` would leave it: every host running and answering SSH on the current root?"""
    state = _state()
    if not state or state.get('root_hash') != build.root_digest():
        return False
    for host in layout.all_hosts():
        if host_state(host) != 'running' or not network.ssh_answers(host):
            return False
    if not network.repo_served():
        network.start_repo_server(build.ensure_repo(log), log)
    return True


def clean(log=say):
    """Stop and remove whatever an earlier run left: hosts (known or stray), mounts, cgroups, server, bridge."""
    for host in layout.all_hosts():
        if machines.nspawn_pid(host) or machines.processes(host):
            log('%s: left running by an earlier run; cutting its power' % host.name)
            machines.power_cut(host, log=log)
        machines.forget_boot(host)
        machines.remove_root(host)
    for pid, machine in machines.stray_nspawns():
        log('killing a stray fleet container %s (systemd-nspawn pid %d)' % (machine, pid))
        machines.kill_process_tree(pid)
    network.stop_repo_server(log)
    network.remove_bridge(log)
    inventory.remove_inventory()
    state_drop(layout.STATE)


def _wait_answering(host, timeout=60):
    wait_for(lambda: network.ssh_answers(host), timeout, '%s: sshd to answer on %s:22' % (host.name, host.address),
             interval=0.3)


def up(log=say):
    """The fleet running; returns the inventory path."""
    with fleet_lock():
        started = time.monotonic()
        hosts = layout.all_hosts()
        if healthy(log):
            log('fleet: %s already run and answer; reusing them' % ', '.join(h.name for h in hosts))
            return inventory.write_inventory(hosts)
        clean(log)
        lower = build.ensure_root(log)
        repo = build.ensure_repo(log)
        network.ensure_bridge(log)
        network.start_repo_server(repo, log)
        public_key = keys.ensure_ssh_key()
        host_keys = []
        for host in hosts:
            layer = machines.create_root(host, lower, build.root_digest(), log)
            host_keys.append((host, machines.write_identity(host, public_key)))
            log('%s: writable root (%s) at %s' % (host.name, layer, host.root))
        keys.write_known_hosts(host_keys)
        state_save(layout.STATE, {'root_hash': build.root_digest(),
                                  'hosts': {h.name: {'partitioned': False} for h in hosts}})
        for host in hosts:             # all boot at once; each is waited for below
            machines.boot(host, log)
        for host in hosts:
            network.attach(host)
        for host in hosts:
            machines.wait_running(host, BOOT_TIMEOUT)
            _wait_answering(host)
        path = inventory.write_inventory(hosts)
        log('fleet up in %.0f s: %s; inventory %s' % (
            time.monotonic() - started, ', '.join('%s %s' % (h.fqdn, h.address) for h in hosts), path))
        return path


def down(log=say):
    with fleet_lock():
        hosts = [h for h in layout.all_hosts() if machines.nspawn_pid(h)]
        for host in hosts:
            try:
                machines.inside(host, 'systemctl', 'poweroff', '--no-block', timeout=20)
            except LabError as exc:
                log('%s: %s' % (host.name, exc))
        for host in hosts:
            try:
                wait_for(lambda h=host: not machines.nspawn_pid(h), 45, '%s to power off' % host.name, interval=0.5)
            except LabError:
                log('%s did not power off in time; cutting its power' % host.name)
        clean(log)
        leftovers = [h.name for h in layout.all_hosts() if machines.processes(h)] + [
            m for _p, m in machines.stray_nspawns()]
        if leftovers or network.link_exists(layout.BRIDGE):
            raise LabError('fleet down left %s running' % ', '.join(leftovers or [layout.BRIDGE]))
        log('fleet down: no fleet host, container, mount, bridge or server left')


def status(log=print):
    log('== fleet (bridge %s %s, repository %s)' % (
        layout.BRIDGE, 'up' if network.link_exists(layout.BRIDGE) else 'absent',
        'served on %s' % build.REPO_URL if network.repo_served() else 'not served'))
    for host in layout.all_hosts():
        state = host_state(host)
        line = '%s (%s, %s): %s' % (host.name, host.fqdn, host.address, state)
        if state != 'off':
            line += ', systemd %s, systemd-nspawn pid %d' % (machines.system_state(host), machines.nspawn_pid(host))
        log('  ' + line)
    if os.path.exists(layout.INVENTORY):
        log('  inventory: %s' % layout.INVENTORY)
    return 0


def _running(host):
    if not machines.nspawn_pid(host):
        raise LabError('%s is off' % host.name)


def partition(name, log=say):
    host = layout.host(name)
    with fleet_lock():
        _running(host)
        log('%s: cutting its link (%s disabled on %s)' % (host.name, host.veth, layout.BRIDGE))
        network.set_port(host, network.PORT_DISABLED)
        _set_partitioned(host, True)
        wait_for(lambda: not network.ssh_answers(host), 15, '%s to stop answering' % host.name)


def heal(name, log=say):
    host = layout.host(name)
    with fleet_lock():
        _running(host)
        log('%s: restoring its link' % host.name)
        network.set_port(host, network.PORT_FORWARDING)
        _set_partitioned(host, False)
        _wait_answering(host)


def poweroff(name, log=say):
    host = layout.host(name)
    with fleet_lock():
        if not machines.poweroff(host, log=log):
            log('%s is already off' % host.name)


def kill(name, log=say):
    host = layout.host(name)
    with fleet_lock():
        _running(host)
        return machines.power_cut(host, log=log)


def is_off(name, log=say):
    """Is nothing of host `name` running: no systemd-nspawn, no process in its cgroups or PID namespace?"""
    host = layout.host(name)
    left = machines.processes(host)
    off = not machines.nspawn_pid(host) and not left
    log('%s: %s' % (host.name, 'off' if off else 'on (%d process(es))' % max(len(left), 1)))
    return off


def poweron(name, log=say):
    """Boot a host that is off from the layer it had; a partitioned host stays partitioned (its cable is cut)."""
    host = layout.host(name)
    with fleet_lock():
        if machines.nspawn_pid(host):
            log('%s is already on' % host.name)
            return
        if not machines.read_record(host):
            raise LabError('%s has no writable root; run `fleet up` first' % host.name)
        machines.mount_root(host, build.ensure_root(log))
        machines.authorize(host, keys.ensure_ssh_key())
        machines.boot(host, log)
        partitioned = _partitioned(host)
        network.attach(host, partitioned=partitioned)
        machines.wait_running(host, BOOT_TIMEOUT)
        if partitioned:
            log('%s is on, and still partitioned' % host.name)
        else:
            _wait_answering(host)
