"""The fleet's network on this machine: the bridge, the apt repository's HTTP server on it, and partitions.

Every host's veth (this machine's end: ve-fleet-<name>) is a port of bridge vfleet0 (198.51.100.1/24). A
partition sets that bridge port to the `disabled` state: the host's link stays up on both ends (nothing in
the host notices, as when a switch port or an uplink fails), but no frame passes in either direction, so the
host reaches neither its peers, nor this machine, nor the repository, and no one reaches it.
"""
import os
import socket
import subprocess
import sys
import time

from lab.fleet import layout
from lab.proc import LabError, cmdline, pid_alive, read_pid, run, say, stop_pid, wait_for

HTTP_PIDFILE = os.path.join(layout.RUN_DIR, 'repo-http.pid')
HTTP_LOG = os.path.join(layout.RUN_DIR, 'repo-http.log')
PORT_FORWARDING, PORT_DISABLED = 'forwarding', 'disabled'


def link_exists(name):
    return os.path.exists('/sys/class/net/%s' % name)


def ensure_bridge(log=say):
    if not link_exists(layout.BRIDGE):
        log('creating bridge %s (%s/%d)' % (layout.BRIDGE, layout.GATEWAY, layout.SUBNET.prefixlen))
        run(['ip', 'link', 'add', layout.BRIDGE, 'type', 'bridge', 'stp_state', '0'])
    res = run(['ip', '-o', '-4', 'addr', 'show', 'dev', layout.BRIDGE])
    if ' %s/' % layout.GATEWAY not in res.stdout:
        run(['ip', 'addr', 'add', '%s/%d' % (layout.GATEWAY, layout.SUBNET.prefixlen), 'dev', layout.BRIDGE])
    run(['ip', 'link', 'set', layout.BRIDGE, 'up'])


def remove_bridge(log=say):
    if link_exists(layout.BRIDGE):
        log('removing bridge %s' % layout.BRIDGE)
        run(['ip', 'link', 'del', layout.BRIDGE])


def carrier(name):
    try:
        with open('/sys/class/net/%s/carrier' % name) as handle:
            return handle.read().strip() == '1'
    except OSError:          # no such link, or it is down
        return False


def attach(host, partitioned=False, timeout=120):
    """Put the host's veth on the bridge (a new veth each boot), cut off when the host is partitioned. Waits
    for the link to come up (the host's networkd brings up its end): only a port with carrier keeps the
    state set by hand, since the bridge makes a port forwarding when its carrier comes."""
    wait_for(lambda: link_exists(host.veth), 30, '%s to appear on this machine' % host.veth)
    run(['ip', 'link', 'set', host.veth, 'master', layout.BRIDGE])
    run(['ip', 'link', 'set', host.veth, 'up'])
    wait_for(lambda: carrier(host.veth), timeout, '%s: its network link to come up' % host.name, interval=0.3)
    set_port(host, PORT_DISABLED if partitioned else PORT_FORWARDING)


def port_state(host):
    """'forwarding', 'disabled', ... for the host's bridge port; None when its veth is gone (host off)."""
    try:
        with open('/sys/class/net/%s/brport/state' % host.veth) as handle:
            number = int(handle.read())
    except (OSError, ValueError):
        return None
    return {0: PORT_DISABLED, 1: 'listening', 2: 'learning', 3: PORT_FORWARDING, 4: 'blocking'}.get(number, '?')


def set_port(host, state):
    # the bridge runs no STP, so the kernel lets the port state be set by hand and keeps it
    run(['bridge', 'link', 'set', 'dev', host.veth, 'state', {PORT_DISABLED: '0', PORT_FORWARDING: '3'}[state]])
    wait_for(lambda: port_state(host) == state, 5, '%s to be %s' % (host.veth, state))
    if state == PORT_FORWARDING:
        # forget a neighbour entry that failed while the port was cut, so that the next packet asks again
        run(['ip', 'neigh', 'flush', 'dev', layout.BRIDGE, 'to', host.address], check=False)


def tcp_answers(address, port, timeout=2.0):
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64) or True
    except OSError:
        return False


def ssh_answers(host):
    banner = tcp_answers(host.address, 22)
    return bool(banner) and (banner is True or banner.startswith(b'SSH-'))


# ---------------------------------------------------------------- the apt repository's HTTP server

def _http_pid():
    pid = read_pid(HTTP_PIDFILE)
    args = ' '.join(cmdline(pid)) if pid and pid_alive(pid) else ''
    return pid if 'http.server' in args and '--bind %s' % layout.GATEWAY in args else 0


def repo_served():
    return bool(_http_pid()) and bool(tcp_url_answers())


def tcp_url_answers():
    try:
        with socket.create_connection((layout.GATEWAY, layout.REPO_PORT), timeout=2) as sock:
            sock.sendall(b'GET /Release HTTP/1.0\r\n\r\n')
            return sock.recv(16).startswith(b'HTTP/1.0 200')
    except OSError:
        return False


def start_repo_server(repo_dir, log=say):
    """python -m http.server on 198.51.100.1 only, serving the cached repository."""
    if _http_pid() and tcp_url_answers():
        return _http_pid()
    stop_repo_server(log)
    if tcp_answers(layout.GATEWAY, layout.REPO_PORT, timeout=1):
        raise LabError('something else listens on %s:%d; the fleet repository needs that port'
                       % (layout.GATEWAY, layout.REPO_PORT))
    os.makedirs(layout.RUN_DIR, exist_ok=True)
    log('serving the fleet apt repository on http://%s:%d/' % (layout.GATEWAY, layout.REPO_PORT))
    with open(HTTP_LOG, 'ab') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'http.server', '--bind', layout.GATEWAY,
                                 '--directory', repo_dir, str(layout.REPO_PORT)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd='/')
    with open(HTTP_PIDFILE, 'w') as handle:
        handle.write('%d\n' % proc.pid)
    deadline = time.monotonic() + 15
    while not tcp_url_answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LabError('the fleet repository server did not answer on %s:%d; its log: %s'
                           % (layout.GATEWAY, layout.REPO_PORT, HTTP_LOG))
        time.sleep(0.1)
    return proc.pid


def stop_repo_server(log=say):
    pid = _http_pid()
    if pid:
        stop_pid(pid, 'the fleet repository server', log=log, timeout=5)
    try:
        os.unlink(HTTP_PIDFILE)
    except FileNotFoundError:
        pass
    return bool(pid)
