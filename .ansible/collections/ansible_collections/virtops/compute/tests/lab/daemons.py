"""The local libvirtd + virtlogd on qemu:///system, and the `default` network.

If they already answer they are left alone (other people may be using them).
With systemd as PID 1 they are started through systemctl; otherwise `virtlogd -d`
then `libvirtd -d` are started by hand. What the lab started is recorded in
/run/virtops-lab/main.json so that stop_main() stops only that.
"""
import grp
import os
import shutil
import socket
import subprocess
import sys

from lab.proc import (STATE_DIR, LabError, cmdline, find_pids, pid_alive, pid_is, read_pid, run, run_daemon, say,
                      state_load, state_save, state_drop, stop_pid, uts_hostname, wait_for)

MAIN_URI = 'qemu:///system'
VIRTLOGD_SOCK = '/run/libvirt/virtlogd-sock'
KVM_NODE = '/dev/kvm'
MAIN_SOCK = '/run/libvirt/libvirt-sock'
MAIN_TCP_PORT = 16509
MAIN_TCP_URI = 'qemu+tcp://127.0.0.1:%d/system' % MAIN_TCP_PORT
MAIN_TCP_PIDFILE = os.path.join(STATE_DIR, 'main-tcp.pid')
LIBVIRTD_PIDFILE = '/run/libvirtd.pid'
VIRTLOGD_PIDFILE = '/run/virtlogd.pid'
STATE = 'main'
DAEMON_LOG = '/run/virtops-lab/main-daemons.log'


def systemd_is_pid1():
    return os.path.isdir('/run/systemd/system')


def libvirt_answers(uri=MAIN_URI, timeout=15):
    """Does a libvirtd answer on uri? (virsh in a subprocess, so a hung daemon cannot hang us)"""
    try:
        res = run(['virsh', '-c', uri, 'hostname'], check=False, timeout=timeout)
    except LabError:
        return False
    return res.returncode == 0


def unix_socket_answers(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _main_daemon_pid(program, pidfile):
    """pid of the host's own (not a lab host's) daemon `program`, or None."""
    pid = read_pid(pidfile)
    if pid and pid_is(pid, program) and uts_hostname(pid) is None:
        return pid
    for pid in find_pids(program):
        args = ' '.join(cmdline(pid))
        if '-p ' not in args and '--pid-file' not in args and uts_hostname(pid) is None:
            return pid
    return None


def _systemd_start(log):
    started = []
    for unit in ('virtlogd.service', 'libvirtd.service'):
        res = run(['systemctl', 'is-active', unit], check=False)
        if res.stdout.strip() != 'active':
            log('starting %s with systemctl ...' % unit)
            run(['systemctl', 'start', unit], timeout=120)
            started.append(unit)
    return started


def ensure_kvm_node(log=say):
    """Give /dev/kvm the owner and mode udev gives it on Debian (root:kvm 0660).

    Without udev it stays root:root 0600. libvirt's QEMU probe then sees KVM, but its
    access check for the libvirt-qemu user fails ("KVM was enabled when probing, but it
    is not available now"), so libvirt throws its capabilities cache away and probes
    QEMU again on every lookup: each domain define/start takes 40-50 s. Returns True
    when it changed the node (the old owner and mode are kept for stop_main)."""
    if not os.path.exists(KVM_NODE):
        return False
    try:
        kvm_gid = grp.getgrnam('kvm').gr_gid
    except KeyError:
        return False
    st = os.stat(KVM_NODE)
    if st.st_gid == kvm_gid and st.st_mode & 0o060 == 0o060:
        return False
    log('udev is absent: %s is %o %d:%d, so libvirt re-probes QEMU on every call; '
        'setting root:kvm 0660 as udev would' % (KVM_NODE, st.st_mode & 0o7777, st.st_uid, st.st_gid))
    state = state_load(STATE)
    state.setdefault('kvm_node', {'mode': st.st_mode & 0o7777, 'gid': st.st_gid})
    state_save(STATE, state)
    os.chown(KVM_NODE, -1, kvm_gid)
    os.chmod(KVM_NODE, (st.st_mode & 0o7777) | 0o060)
    return True


def restore_kvm_node(log=say):
    state = state_load(STATE)
    old = state.pop('kvm_node', None)
    if not old or not os.path.exists(KVM_NODE):
        return False
    log('restoring %s to mode %o gid %d (as the lab found it)' % (KVM_NODE, old['mode'], old['gid']))
    os.chown(KVM_NODE, -1, old['gid'])
    os.chmod(KVM_NODE, old['mode'])
    state_save(STATE, state)
    return True


def ensure_main(log=say, timeout=90):
    """Make qemu:///system answer, with a virtlogd behind it. Returns what was started
    or changed (names usable as stop_main(only=...))."""
    started = ['kvm_node'] if ensure_kvm_node(log) else []
    state = state_load(STATE)
    if libvirt_answers() and unix_socket_answers(VIRTLOGD_SOCK):
        log('libvirtd and virtlogd already answer on %s; leaving them as they are' % MAIN_URI)
        return started
    if systemd_is_pid1():
        units = _systemd_start(log)
        state.setdefault('systemd_units', []).extend(u for u in units if u not in state.get('systemd_units', []))
        started.extend(units)
    else:
        if not unix_socket_answers(VIRTLOGD_SOCK):
            pid = _main_daemon_pid('virtlogd', VIRTLOGD_PIDFILE)
            if pid:
                log('virtlogd (pid %d) runs but %s does not answer; waiting for it' % (pid, VIRTLOGD_SOCK))
            else:
                log('starting virtlogd -d ...')
                run_daemon(['virtlogd', '-d'], DAEMON_LOG)
                pid = wait_for(lambda: _main_daemon_pid('virtlogd', VIRTLOGD_PIDFILE), 15,
                               'virtlogd to write %s' % VIRTLOGD_PIDFILE)
                state['virtlogd'] = pid
                started.append('virtlogd')
            wait_for(lambda: unix_socket_answers(VIRTLOGD_SOCK), 20, 'virtlogd to answer on ' + VIRTLOGD_SOCK)
            log('virtlogd answers (pid %d)' % pid)
        if not libvirt_answers():
            pid = _main_daemon_pid('libvirtd', LIBVIRTD_PIDFILE)
            if pid:
                log('libvirtd (pid %d) runs but does not answer yet; waiting for it' % pid)
            else:
                log('starting libvirtd -d ...')
                run_daemon(['libvirtd', '-d'], DAEMON_LOG)
                pid = wait_for(lambda: _main_daemon_pid('libvirtd', LIBVIRTD_PIDFILE), 15,
                               'libvirtd to write %s' % LIBVIRTD_PIDFILE)
                state['libvirtd'] = pid
                started.append('libvirtd')
    state_save(STATE, state)
    log('waiting (up to %ss) for libvirtd to answer on %s ...' % (timeout, MAIN_URI))
    wait_for(libvirt_answers, timeout, 'libvirtd to answer on ' + MAIN_URI, interval=0.5)
    log('libvirtd answers on %s' % MAIN_URI)
    return started


def ensure_default_network(uri=MAIN_URI, log=say):
    """Start libvirt's `default` network (NAT, dnsmasq) if it is defined and inactive."""
    res = run(['virsh', '-c', uri, 'net-info', 'default'], check=False)
    if res.returncode != 0:
        raise LabError('libvirt network "default" is not defined on %s: %s' % (uri, res.stderr.strip()))
    if any(line.split()[:2] == ['Active:', 'yes'] for line in res.stdout.splitlines()):
        log('network "default" already active')
        return False
    if not shutil.which('dnsmasq'):
        raise LabError('network "default" needs dnsmasq (Debian package dnsmasq-base)')
    log('starting libvirt network "default" ...')
    run(['virsh', '-c', uri, 'net-start', 'default'], timeout=60)
    state = state_load(STATE)
    state['default_network'] = True
    state_save(STATE, state)
    return True


def stop_default_network(uri=MAIN_URI, log=say):
    state = state_load(STATE)
    if not state.pop('default_network', False):
        return False
    log('stopping libvirt network "default" (the lab started it) ...')
    run(['virsh', '-c', uri, 'net-destroy', 'default'], check=False, timeout=60)
    state_save(STATE, state)
    return True


def stop_main(log=say, only=None):
    """Stop what ensure_main() started (all of it, or the names in `only`)."""
    state = state_load(STATE)
    if state.get('default_network') and (only is None or 'default_network' in only):
        stop_default_network(log=log)
        state = state_load(STATE)
    for unit in list(reversed(state.get('systemd_units', []))):
        if only is None or unit in only:
            log('stopping %s with systemctl (the lab started it) ...' % unit)
            run(['systemctl', 'stop', unit], check=False, timeout=120)
            state['systemd_units'].remove(unit)
    for program in ('libvirtd', 'virtlogd'):
        pid = state.get(program)
        if not pid or (only is not None and program not in only):
            continue
        if pid_is(pid, program) and uts_hostname(pid) is None:
            stop_pid(pid, program + ' (started by the lab)', log=log, timeout=30)
        else:
            log('%s pid %d recorded by the lab is gone or not ours any more; nothing to stop' % (program, pid))
        del state[program]
    if only is None or 'kvm_node' in only:
        state_save(STATE, state)
        restore_kvm_node(log=log)
        state = state_load(STATE)
    if any(state.get(k) for k in ('libvirtd', 'virtlogd', 'systemd_units', 'default_network', 'kvm_node')):
        state_save(STATE, state)
    else:
        state_drop(STATE)


def _proxy_pid():
    pid = read_pid(MAIN_TCP_PIDFILE)
    args = ' '.join(cmdline(pid)) if pid and pid_alive(pid) else ''
    return pid if 'lab.tcpproxy' in args and MAIN_TCP_PIDFILE in args else 0


def main_tcp_running():
    """Is the lab's forwarder for qemu+tcp://127.0.0.1:16509/system up?"""
    return bool(_proxy_pid())


def ensure_main_tcp(log=say):
    """Make the main host answer on qemu+tcp://127.0.0.1:16509/system (for migrations
    back from lab hosts) through lab.tcpproxy, leaving its libvirtd untouched."""
    if _proxy_pid() and libvirt_answers(MAIN_TCP_URI):
        log('main host already answers on %s' % MAIN_TCP_URI)
        return MAIN_TCP_URI
    if libvirt_answers(MAIN_TCP_URI, timeout=5):
        log('a libvirtd already listens on %s; using it' % MAIN_TCP_URI)
        return MAIN_TCP_URI
    log('forwarding 127.0.0.1:%d to %s so the main host answers on %s ...'
        % (MAIN_TCP_PORT, MAIN_SOCK, MAIN_TCP_URI))
    os.makedirs(STATE_DIR, exist_ok=True)
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=tests_dir)
    with open(os.path.join(STATE_DIR, 'main-tcp.log'), 'ab') as out:
        subprocess.Popen([sys.executable, '-m', 'lab.tcpproxy', '127.0.0.1:%d' % MAIN_TCP_PORT, MAIN_SOCK,
                          '--pidfile', MAIN_TCP_PIDFILE], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True, cwd='/', env=env)
    pid = wait_for(_proxy_pid, 10, 'lab.tcpproxy to write ' + MAIN_TCP_PIDFILE)
    wait_for(lambda: libvirt_answers(MAIN_TCP_URI), 15, 'the main host to answer on ' + MAIN_TCP_URI)
    log('main host answers on %s (forwarder pid %d)' % (MAIN_TCP_URI, pid))
    return MAIN_TCP_URI


def stop_main_tcp(log=say):
    pid = _proxy_pid()
    if pid:
        stop_pid(pid, 'the main host TCP forwarder', log=log, timeout=5)
    return bool(pid)


def main_status():
    state = state_load(STATE)
    lines = ['%s: %s' % (MAIN_URI, 'answers' if libvirt_answers() else 'DOES NOT ANSWER'),
             'virtlogd socket: %s' % ('answers' if unix_socket_answers(VIRTLOGD_SOCK) else 'absent')]
    for program in ('libvirtd', 'virtlogd'):
        pid = state.get(program)
        if pid:
            alive = 'running' if pid_alive(pid) else 'gone'
            lines.append('%s pid %d started by the lab (%s)' % (program, pid, alive))
    if state.get('systemd_units'):
        lines.append('systemd units started by the lab: ' + ', '.join(state['systemd_units']))
    if state.get('default_network'):
        lines.append('network "default" started by the lab')
    if _proxy_pid():
        lines.append('%s: forwarded to %s (pid %d)' % (MAIN_TCP_URI, MAIN_SOCK, _proxy_pid()))
    if state.get('kvm_node'):
        lines.append('%s: owner/mode changed by the lab (was mode %o gid %d)' % (
            KVM_NODE, state['kvm_node']['mode'], state['kvm_node']['gid']))
    return lines
