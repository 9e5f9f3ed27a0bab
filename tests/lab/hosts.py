"""Extra compute "hosts" on this machine: a libvirtd + virtlogd pair per host, each in
its own mount + UTS + cgroup namespace (`unshare -m -u -C --propagation private`).

Each host gets private copies of /run/libvirt, /var/lib/libvirt, /etc/libvirt,
/var/log/libvirt and /var/cache/libvirt bind-mounted from
/var/lib/virtops-lab/hosts/<name>/root/, its own hostname (resolvable through its own
/etc/hosts), host_uuid, TCP port on 127.0.0.1, port ranges (migration, VNC/SPICE,
websocket) and cgroup tree (see lab.hostns). Its pid files live in
/var/lib/virtops-lab/hosts/<name>/, outside the bind mounts. Every host sees
/var/lib/virtops-lab/shared (shared storage for migration).

Host N: name lab-hostN, qemu+tcp://127.0.0.1:(16600+N)/system, migration ports
24000+100N .. +63, VNC/SPICE 25000+1000N .. +499, websockets 25500+1000N .. +499.

Host 6 is a host without UEFI firmware: QEMU's firmware descriptors and OVMF are hidden
under empty mounts in its namespace, as on a host where OVMF was never installed.

A lab host is recognised by its UTS hostname (`lab-hostN`): processes whose UTS
namespace carries that name are the host's own, and only those are ever killed.
"""
import os
import signal
import uuid
from dataclasses import dataclass

from lab import hostns
from lab.daemons import libvirt_answers
from lab.proc import (LAB_ROOT, SHARED_DIR, LabError, cmdline, comm, pid_alive, pid_is, read_pid, run,
                      run_daemon, say, state_drop, state_save, stop_pid, tail, uts_hostname, wait_for)

HOSTS_DIR = os.path.join(LAB_ROOT, 'hosts')
MAX_INDEX = 12
TCP_PORT_BASE = 16600
HOST_PROGRAMS = ('libvirtd', 'virtlogd')
WITHOUT_UEFI_INDEX = 8
FIRMWARE_DIRS = ('/usr/share/qemu/firmware', '/usr/share/OVMF', '/etc/qemu/firmware')


@dataclass
class LabHost:
    name: str
    index: int
    uri: str
    tcp_port: int
    host_uuid: str
    state_dir: str
    migration_ports: tuple
    display_ports: tuple
    websocket_ports: tuple
    libvirtd_pid: int = 0
    virtlogd_pid: int = 0
    started: bool = False          # True when this call started it, False when it was reused
    shared_dir: str = SHARED_DIR
    hidden_dirs: tuple = ()        # directories an empty tmpfs hides in this host's namespace

    @property
    def hostname(self):
        return self.name

    @property
    def log_path(self):
        return os.path.join(self.state_dir, 'root', 'log', 'libvirtd.log')

    def nsenter(self, *cmd):
        """Command that runs cmd inside this host's mount, UTS and cgroup namespaces."""
        return ['nsenter', '-t', str(self.libvirtd_pid), '-m', '-u', '-C', '--'] + list(cmd)


def host_name(index):
    return 'lab-host%d' % index


def _layout(index):
    if not 1 <= index <= MAX_INDEX:
        raise LabError('lab host index must be 1..%d, not %r' % (MAX_INDEX, index))
    name = host_name(index)
    port = TCP_PORT_BASE + index
    return LabHost(
        name=name, index=index, uri='qemu+tcp://127.0.0.1:%d/system' % port, tcp_port=port,
        host_uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, 'virtops-lab/hosts/' + name)),
        state_dir=os.path.join(HOSTS_DIR, name),
        migration_ports=(24000 + 100 * index, 24000 + 100 * index + 63),
        display_ports=(25000 + 1000 * index, 25000 + 1000 * index + 499),
        websocket_ports=(25500 + 1000 * index, 25500 + 1000 * index + 499),
        hidden_dirs=FIRMWARE_DIRS if index == WITHOUT_UEFI_INDEX else ())


def _pidfile(host, program):
    return os.path.join(host.state_dir, program + '.pid')


def _our_pid(host, program):
    """pid of host's `program`, verified: right binary, our pid file on its command line."""
    pid = read_pid(_pidfile(host, program))
    return pid if pid and pid_is(pid, program, _pidfile(host, program)) else 0


def host_processes(name):
    """Every libvirtd / virtlogd / qemu process living in the UTS namespace named `name`."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        args = cmdline(pid)
        prog = os.path.basename(args[0]) if args else comm(pid)
        if (prog in HOST_PROGRAMS or prog.startswith('qemu-system')) and pid_alive(pid):
            if uts_hostname(pid) == name:
                found.append((pid, prog))
    return found


def _kill_leftovers(name, log):
    for pid, prog in host_processes(name):
        log('%s: killing leftover %s (pid %d) of a previous run' % (name, prog, pid))
        stop_pid(pid, '%s %s' % (name, prog), log=log, timeout=10)


def ensure_shared_dir():
    os.makedirs(SHARED_DIR, mode=0o755, exist_ok=True)
    os.chmod(LAB_ROOT, 0o755)
    os.chmod(SHARED_DIR, 0o755)
    return SHARED_DIR


def allow_userfaultfd(log=say):
    """Post-copy migration needs userfaultfd for QEMU (user libvirt-qemu) on the destination; the sysctl
    is machine-wide, so one write serves every lab host."""
    path = '/proc/sys/vm/unprivileged_userfaultfd'
    try:
        with open(path) as handle:
            if handle.read().strip() == '1':
                return
        with open(path, 'w') as handle:
            handle.write('1')
        log('sysctl vm.unprivileged_userfaultfd=1 (post-copy migration)')
    except OSError as exc:
        log('cannot set vm.unprivileged_userfaultfd (%s); post-copy migration will fail' % exc)


# ---------------------------------------------------------------- start / stop

def start_host(index, log=say, timeout=90, keep_state=False):
    """Start lab host number `index` (or reuse it when it already runs and answers).

    keep_state=True starts it with the definitions, hooks and settings it had (a host coming back after
    kill_host), fresh runtime state only; otherwise its private directories are made anew."""
    host = _layout(index)
    ensure_shared_dir()
    allow_userfaultfd(log)
    lv, vl = _our_pid(host, 'libvirtd'), _our_pid(host, 'virtlogd')
    if lv and vl and libvirt_answers(host.uri):
        log('%s already runs (libvirtd pid %d) and answers on %s; reusing it' % (host.name, lv, host.uri))
        host.libvirtd_pid, host.virtlogd_pid = lv, vl
        _record(host)
        return host
    log('starting lab host %s on %s ...' % (host.name, host.uri))
    for program in HOST_PROGRAMS:
        pid = _our_pid(host, program)
        if pid:
            stop_pid(pid, '%s stale %s' % (host.name, program), log=log, timeout=15)
        try:
            os.unlink(_pidfile(host, program))
        except FileNotFoundError:
            pass
    _kill_leftovers(host.name, log)
    if keep_state and os.path.isdir(os.path.join(host.state_dir, 'root', 'etc')):
        hostns.fresh_runtime(host, log)
    else:
        hostns.fresh_state(host, log)
    command = hostns.write_start_scripts(host, _pidfile)
    log('%s: own cgroups, unshare -m -u -C --propagation private: bind mounts, hostname, '
        'virtlogd, libvirtd --listen' % host.name)
    run_daemon(command, os.path.join(host.state_dir, 'start.log'), timeout=60)
    host.virtlogd_pid = wait_for(lambda: _our_pid(host, 'virtlogd'), 15, host.name + ' virtlogd pid file')
    try:
        host.libvirtd_pid = wait_for(lambda: _our_pid(host, 'libvirtd'), 20, host.name + ' libvirtd to start')
        wait_for(lambda: libvirt_answers(host.uri), timeout, '%s to answer on %s' % (host.name, host.uri),
                 interval=0.5)
        got = run(['virsh', '-c', host.uri, 'hostname']).stdout.strip()
        if got != host.name:
            raise LabError('%s answers with hostname %r; its UTS namespace is not its own' % (host.name, got))
    except LabError as exc:
        msg = '%s; its log ends: %s' % (exc, tail(host.log_path, 4))
        log('%s failed to start; stopping what was started' % host.name)
        stop_host(host.index, log=log)
        raise LabError(msg) from None
    host.started = True
    _record(host)
    log('%s up: libvirtd pid %d, virtlogd pid %d, host_uuid %s, migration ports %d-%d'
        % ((host.name, host.libvirtd_pid, host.virtlogd_pid, host.host_uuid) + host.migration_ports))
    return host


def _record(host):
    state_save('host-' + host.name, {'name': host.name, 'index': host.index, 'uri': host.uri,
                                     'libvirtd': host.libvirtd_pid, 'virtlogd': host.virtlogd_pid})


def _destroy_domains(host, log):
    res = run(['virsh', '-c', host.uri, 'list', '--all', '--name'], check=False, timeout=30)
    if res.returncode != 0:
        return False
    for dom in [d for d in res.stdout.split() if d]:
        log('%s: destroying and undefining domain %s' % (host.name, dom))
        run(['virsh', '-c', host.uri, 'destroy', dom], check=False, timeout=60)
        run(['virsh', '-c', host.uri, 'undefine', dom, '--managed-save', '--snapshots-metadata',
             '--checkpoints-metadata', '--nvram'], check=False, timeout=60)
    return True


def stop_host(host_or_index, log=say):
    """Destroy the host's domains, stop its libvirtd then virtlogd, kill what is left."""
    host = _layout(host_or_index if isinstance(host_or_index, int) else host_or_index.index)
    lv, vl = _our_pid(host, 'libvirtd'), _our_pid(host, 'virtlogd')
    if not (lv or vl or host_processes(host.name)):
        hostns.remove_cgroups(host.name)
        state_drop('host-' + host.name)
        return False
    log('stopping lab host %s ...' % host.name)
    if lv and not _destroy_domains(host, log):
        log('%s: libvirtd does not answer; its guests will be killed' % host.name)
    if lv:
        stop_pid(lv, host.name + ' libvirtd', log=log, timeout=30)
    if vl:
        stop_pid(vl, host.name + ' virtlogd', log=log, timeout=15)
    _kill_leftovers(host.name, log)
    _drop_pidfiles(host)
    hostns.remove_cgroups(host.name)
    state_drop('host-' + host.name)
    log('%s stopped' % host.name)
    return True


def _drop_pidfiles(host):
    for program in HOST_PROGRAMS:
        try:
            os.unlink(_pidfile(host, program))
        except FileNotFoundError:
            pass


def kill_host(host_or_index, log=say):
    """A host failure: SIGKILL its libvirtd, virtlogd and every QEMU in its namespace at once, keeping its
    definitions (start_host(..., keep_state=True) brings it back as a rebooted machine would)."""
    host = _layout(host_or_index if isinstance(host_or_index, int) else host_or_index.index)
    victims = host_processes(host.name)
    log('%s: killing %s' % (host.name, ', '.join('%s %d' % (prog, pid) for pid, prog in victims) or 'nothing'))
    for pid, _prog in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid, prog in victims:
        wait_for(lambda p=pid: not pid_alive(p), 10, '%s %s (pid %d) to die' % (host.name, prog, pid))
    _drop_pidfiles(host)
    hostns.remove_cgroups(host.name)
    return [pid for pid, _prog in victims]


def known_indexes():
    """Indexes of every host that has a state directory under /var/lib/virtops-lab/hosts."""
    found = set()
    if os.path.isdir(HOSTS_DIR):
        for name in os.listdir(HOSTS_DIR):
            if name.startswith('lab-host') and name[8:].isdigit():
                found.add(int(name[8:]))
    return sorted(i for i in found if 1 <= i <= MAX_INDEX)


def stop_all(log=say):
    stopped = [i for i in known_indexes() if stop_host(i, log=log)]
    # hosts whose state directory was removed while their processes lived on
    for index in range(1, MAX_INDEX + 1):
        if index not in stopped and host_processes(host_name(index)):
            _kill_leftovers(host_name(index), log)
    return stopped


def host_status():
    lines = []
    for index in known_indexes():
        host = _layout(index)
        lv, vl = _our_pid(host, 'libvirtd'), _our_pid(host, 'virtlogd')
        if lv or vl:
            answers = libvirt_answers(host.uri)
            lines.append('%s: %s, libvirtd pid %s, virtlogd pid %s' % (
                host.name, ('answers on ' + host.uri) if answers else 'DOES NOT ANSWER', lv or '-', vl or '-'))
        else:
            left = host_processes(host.name)
            lines.append('%s: stopped%s' % (host.name, ' (leftover processes: %s)' % left if left else ''))
    return lines


def running_hosts():
    """LabHosts whose libvirtd runs now."""
    return [h for h in (get_host(i) for i in known_indexes()) if h.libvirtd_pid]


def has_own_mount(host, mountpoint):
    """True when something is mounted at `mountpoint` in the host's mount namespace."""
    try:
        with open('/proc/%d/mountinfo' % host.libvirtd_pid) as fh:
            return any(line.split()[4] == mountpoint for line in fh)
    except OSError:
        return False


def get_host(index):
    """The LabHost for a running host (no start)."""
    host = _layout(index)
    host.libvirtd_pid, host.virtlogd_pid = _our_pid(host, 'libvirtd'), _our_pid(host, 'virtlogd')
    return host
