"""One fleet host: its writable root, its boot under systemd-nspawn, a clean power-off and a power cut.

Root: an overlay mount (lower: the cached root, upper: the host's own layer in its state directory) at
<state>/root, or a full copy where overlayfs cannot be mounted. What makes the host itself (name, address,
machine id, SSH host keys, the lab's authorized key) is written into it before its first boot. The layer
survives power-off and power cut, so a host boots again with what it had (its guests' definitions too).

Boot: `systemd-nspawn -b --register=no --keep-unit --network-veth` (this machine runs no systemd, so
nspawn must not ask one to register the machine or make it a unit). nspawn puts the container's processes
into payload/ and itself into supervisor/ below its own cgroup, so it is started from a cgroup of its own,
virtops-fleet-<name>, in every hierarchy: that keeps hosts apart, and a power cut kills that one cgroup
tree at once (cgroup.kill), QEMU processes included.
"""
import json
import os
import signal
import subprocess
import time
import uuid

from lab import hostns
from lab.cache import mounts_below
from lab.fleet import keys, layout
from lab.proc import LabError, cmdline, pid_alive, read_pid, run, say, wait_for

NSPAWN = 'systemd-nspawn'
NSPAWN_RUN = '/run/systemd/nspawn'
BOOT_MARK = '-- virtops fleet: boot at'        # a line of the host's console log before each boot


def _pidfile(host):
    return os.path.join(layout.RUN_DIR, host.name + '.pid')


def _record_path(host):
    return os.path.join(host.state_dir, 'host.json')


def read_record(host):
    try:
        with open(_record_path(host)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _write(root, relative, text, mode=0o644):
    path = os.path.join(root, relative.lstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.islink(path):
        os.unlink(path)
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)


# ---------------------------------------------------------------- the writable root

def root_mounted(host):
    return host.root in mounts_below(host.state_dir)


def mount_root(host, lower):
    """Mount the host's overlay (or check its copy); the layer must exist (create_root)."""
    if read_record(host).get('layer') == 'copy' or root_mounted(host):
        return
    os.makedirs(host.root, exist_ok=True)
    run(['mount', '-t', 'overlay', 'virtops-' + host.machine, '-o',
         'lowerdir=%s,upperdir=%s,workdir=%s' % (lower, host.upper, host.work), host.root])


def unmount_root(host):
    for point in mounts_below(host.state_dir):
        run(['umount', point], check=False)
        if point in mounts_below(host.state_dir):
            run(['umount', '-l', point])


def create_root(host, lower, root_hash, log=say):
    """A new writable root over `lower`: an overlay when the kernel allows one here, else a copy."""
    remove_root(host)
    for directory in (host.upper, host.work, host.root):
        os.makedirs(directory, mode=0o755)
    layer = 'overlay'
    try:
        mount_root(host, lower)
    except LabError as exc:
        log('%s: overlayfs failed (%s); copying the root instead' % (host.name, exc))
        run(['cp', '-a', '--reflink=auto', lower + '/.', host.root], timeout=600)
        layer = 'copy'
    with open(_record_path(host), 'w') as handle:
        json.dump({'layer': layer, 'root_hash': root_hash}, handle)
    return layer


def remove_root(host):
    unmount_root(host)
    if os.path.isdir(host.state_dir):
        if mounts_below(host.state_dir):
            raise LabError('%s: cannot remove %s, something is still mounted in it' % (host.name, host.state_dir))
        run(['rm', '-rf', '--one-file-system', host.state_dir], timeout=300)


def write_identity(host, authorized_key):
    """Name, address, machine id and SSH host keys of a new host; returns its public host key lines."""
    root = host.root
    _write(root, '/etc/hostname', host.name + '\n')
    _write(root, '/etc/hosts', layout.hosts_file())
    # no DNS server: names come from /etc/hosts, and glibc gives up at once on 127.0.0.1
    _write(root, '/etc/resolv.conf', '# the fleet has no DNS; /etc/hosts names every host\n')
    _write(root, '/etc/machine-id', uuid.uuid5(uuid.NAMESPACE_DNS, host.fqdn).hex + '\n', 0o444)
    _write(root, '/etc/systemd/network/10-fleet.network',
           '[Match]\nName=host0\n\n[Network]\nAddress=%s/%d\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n'
           % (host.address, layout.SUBNET.prefixlen))
    authorize(host, authorized_key)
    return keys.make_host_keys(host)


def authorize(host, authorized_key):
    """The lab's key in root's authorized_keys (again at each boot: the lab may have made a new key)."""
    path = os.path.join(host.root, 'root', '.ssh', 'authorized_keys')
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.chmod(os.path.dirname(path), 0o700)
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        lines = []
    if authorized_key not in lines:
        # lines other hosts' keys left there (the compute_host role's SSH trust) stay
        lines = [line for line in lines if not line.endswith(' virtops-fleet-lab')] + [authorized_key]
        _write(host.root, '/root/.ssh/authorized_keys', '\n'.join(lines) + '\n', 0o600)


# ---------------------------------------------------------------- processes

def nspawn_pid(host):
    """The host's systemd-nspawn process, found by its command line (a pid file may be stale)."""
    pid = read_pid(_pidfile(host))
    if pid and _is_our_nspawn(pid, host):
        return pid
    for entry in os.listdir('/proc'):
        if entry.isdigit() and _is_our_nspawn(int(entry), host):
            return int(entry)
    return 0


def _is_our_nspawn(pid, host):
    args = cmdline(pid)
    return (pid_alive(pid) and bool(args) and os.path.basename(args[0]) == NSPAWN
            and '--machine=' + host.machine in args)


def leader_pid(host):
    """The container's PID 1 (systemd), a child of nspawn; 0 when it is not (yet) there."""
    pid = nspawn_pid(host)
    if not pid:
        return 0
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as handle:
            children = [int(c) for c in handle.read().split()]
    except OSError:
        return 0
    for child in children:
        try:
            with open('/proc/%d/comm' % child) as handle:
                if handle.read().strip() == 'systemd':
                    return child
        except OSError:
            continue
    return 0


def _cgroup_dirs(host):
    return [directory for _m, _t, _o, directory in hostns.host_cgroups(host.machine)]


def processes(host):
    """Every live process of the host: all of its cgroup tree, and everything in its PID namespace."""
    found = set()
    for top in _cgroup_dirs(host):
        for directory, _dirs, files in os.walk(top):
            if 'cgroup.procs' in files:
                try:
                    with open(os.path.join(directory, 'cgroup.procs')) as handle:
                        found.update(int(p) for p in handle.read().split())
                except OSError:
                    continue
    # the recorded namespace only while something of the host lives: the kernel reuses a dead one's number
    pidns = _pidns_of(leader_pid(host)) or (read_record(host).get('pidns') if found else None)
    if pidns:
        for entry in os.listdir('/proc'):
            if entry.isdigit() and _pidns_of(int(entry)) == pidns:
                found.add(int(entry))
    return sorted(pid for pid in found if pid_alive(pid))


def _pidns_of(pid):
    try:
        return os.stat('/proc/%d/ns/pid' % pid).st_ino if pid else None
    except OSError:
        return None


def nsenter(host, *command):
    """A command line that runs `command` inside the host (all its namespaces), as if logged in."""
    leader = leader_pid(host)
    if not leader:
        raise LabError('%s is not running' % host.name)
    return ['nsenter', '-t', str(leader), '-a', '--'] + list(command)


def inside(host, *command, timeout=60, check=True):
    return run(nsenter(host, *command), timeout=timeout, check=check)


# ---------------------------------------------------------------- boot, power off, power cut

def boot(host, log=say):
    """Start the container from the host's own cgroups; returns nspawn's pid (the host is booting)."""
    if nspawn_pid(host):
        raise LabError('%s is already running (systemd-nspawn pid %d)' % (host.name, nspawn_pid(host)))
    os.makedirs(layout.RUN_DIR, exist_ok=True)
    os.makedirs(layout.SHARED_DIR, mode=0o755, exist_ok=True)
    _drop_stale_veth(host)
    try:
        cgroups = hostns.prepare_cgroups(host.machine)
    except OSError as exc:
        raise LabError('cannot create the cgroups of %s: %s' % (host.name, exc)) from None
    command = [NSPAWN, '--quiet', '--directory=' + host.root, '--boot', '--register=no', '--keep-unit',
               '--machine=' + host.machine, '--network-veth', '--console=read-only', '--link-journal=no',
               '--resolv-conf=off', '--timezone=off',
               '--bind=%s:%s' % (layout.SHARED_DIR, layout.HOST_SHARED_DIR), '--bind=/dev/net/tun']
    # sh joins the cgroups, then leaves nspawn running behind it (a child of init, not of this process)
    script = ['set -e'] + ['echo $$ > %s/cgroup.procs' % d for _m, _t, _o, d in cgroups]
    script.append('%s </dev/null >>%s 2>&1 &' % (' '.join("'%s'" % a for a in command), host.log_path))
    script.append('echo $! > %s' % _pidfile(host))
    log('%s: booting %s (systemd-nspawn, machine %s)' % (host.name, host.fqdn, host.machine))
    root = os.stat(host.root)
    _set_record(host, nspawn_lock=os.path.join(NSPAWN_RUN, 'locks', 'inode-%d:%d' % (root.st_dev, root.st_ino)))
    with open(host.log_path, 'a') as handle:
        handle.write('%s %s\n' % (BOOT_MARK, time.strftime('%Y-%m-%d %H:%M:%S')))
    run(['sh', '-c', '\n'.join(script)], timeout=30)
    return wait_for(lambda: nspawn_pid(host), 10, '%s: systemd-nspawn to start' % host.name)


def last_boot_log(host):
    """What the host's console printed since its last boot began (systemd's own messages)."""
    try:
        with open(host.log_path, errors='replace') as handle:
            return handle.read().rsplit(BOOT_MARK, 1)[-1]
    except FileNotFoundError:
        return ''


def system_state(host):
    """`systemctl is-system-running` inside the host, or None when it cannot be asked."""
    if not leader_pid(host):
        return None
    try:
        res = run(nsenter(host, 'systemctl', 'is-system-running'), check=False, timeout=20)
    except LabError:
        return None
    return res.stdout.strip() or None


def failed_units(host):
    res = inside(host, 'systemctl', '--failed', '--plain', '--no-legend', check=False)
    return [line.split()[0] for line in res.stdout.splitlines() if line.strip()]


def _set_record(host, **values):
    record = read_record(host)
    record.update(values)
    with open(_record_path(host), 'w') as handle:
        json.dump(record, handle)


def wait_running(host, timeout=120):
    """Wait until systemd inside says `running`; raise on `degraded`, naming the failed units."""
    def settled():
        state = system_state(host)
        if not nspawn_pid(host):
            raise LabError('%s: systemd-nspawn exited while booting; its log: %s' % (host.name, host.log_path))
        return state if state in ('running', 'degraded') else None
    state = wait_for(settled, timeout, '%s to finish booting (systemctl is-system-running)' % host.name,
                     interval=0.5)
    if state == 'degraded':
        raise LabError('%s booted degraded, failed units: %s' % (host.name, ', '.join(failed_units(host))))
    _set_record(host, pidns=_pidns_of(leader_pid(host)))
    return state


def poweroff(host, timeout=90, log=say):
    """A clean shutdown: `systemctl poweroff` inside, then wait until the container is gone."""
    pid = nspawn_pid(host)
    if not pid:
        return False
    log('%s: systemctl poweroff' % host.name)
    inside(host, 'systemctl', 'poweroff', '--no-block')
    wait_for(lambda: not nspawn_pid(host), timeout, '%s to power off' % host.name, interval=0.5)
    wait_for(lambda: not processes(host), 15, '%s: every process of the host to end' % host.name)
    forget_boot(host)
    return True


def forget_boot(host):
    """Forget what the host's last boot left: cgroups, its PID namespace's number, and nspawn's run files (this
    machine's /run is no tmpfs, and a killed nspawn removes nothing)."""
    hostns.remove_cgroups(host.machine)
    leftovers = [os.path.join(NSPAWN_RUN, 'propagate', host.machine), read_record(host).get('nspawn_lock')]
    for path in filter(None, leftovers):
        subprocess.run(['rm', '-rf', '--one-file-system', path], check=False)
    if os.path.isdir(host.state_dir):
        _set_record(host, pidns=None, nspawn_lock=None)


def power_cut(host, log=say):
    """Kill the host at once: SIGKILL to its whole cgroup tree (nspawn, systemd, libvirtd, every QEMU) and to
    anything left in its PID namespace. Returns the pids that were killed."""
    victims = processes(host)
    if nspawn_pid(host) and nspawn_pid(host) not in victims:
        victims.append(nspawn_pid(host))
    log('%s: power cut (%d processes)' % (host.name, len(victims)))
    for top in _cgroup_dirs(host):
        kill_file = os.path.join(top, 'cgroup.kill')
        if os.path.exists(kill_file):
            with open(kill_file, 'w') as handle:
                handle.write('1')
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not processes(host) and not nspawn_pid(host), 15,
             '%s: every process of the host to die' % host.name)
    forget_boot(host)
    _drop_stale_veth(host)
    return victims


def _drop_stale_veth(host, timeout=15):
    """Remove this machine's end of a dead host's veth (which takes the other end with it). The kernel frees a dead
    host's network namespace, and the veth with it, only once nothing refers to it; TCP connections the host had
    to peers it can no longer reach (a partitioned host's, say) keep retransmitting for minutes, and a boot before
    then fails ("Failed to add new veth interfaces ... File exists"). A power cut takes the cable with it."""
    path = '/sys/class/net/%s' % host.veth
    if os.path.exists(path):
        run(['ip', 'link', 'delete', host.veth], check=False, timeout=30)
    wait_for(lambda: not os.path.exists(path), timeout, '%s: the veth %s of its last boot to go' % (
        host.name, host.veth), interval=0.3)


def qemu_processes(host):
    return [pid for pid in processes(host) if (cmdline(pid) or [''])[0].rsplit('/', 1)[-1].startswith('qemu-system')]


def stray_nspawns():
    """(pid, machine) of every fleet systemd-nspawn alive, whatever host list made it."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        args = cmdline(int(entry))
        if args and os.path.basename(args[0]) == NSPAWN and pid_alive(int(entry)):
            machine = [a.split('=', 1)[1] for a in args if a.startswith('--machine=')]
            if machine and machine[0].startswith(layout.MACHINE_PREFIX):
                found.append((int(entry), machine[0]))
    return found


def kill_process_tree(pid):
    """SIGKILL a stray nspawn and its descendants (a host whose layout is unknown to this checkout)."""
    res = subprocess.run(['ps', '-e', '-o', 'pid=,ppid='], capture_output=True, text=True, check=False)
    children = {}
    for line in res.stdout.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    for victim in tree:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not any(pid_alive(p) for p in tree), 15, 'stray systemd-nspawn %d to die' % pid)
