"""Userspace Open vSwitch for the lab: ovsdb-server (database under
/var/lib/virtops-lab/ovs/) + ovs-vswitchd, and bridge `vopsbr0` with
datapath_type=netdev (this kernel has no openvswitch datapath module).

Sockets and pid files stay in the standard /var/run/openvswitch, so ovs-vsctl,
ovs-appctl and libvirt's <virtualport type='openvswitch'/> find them unchanged.

Test ports: a veth pair per port, one end inside a network namespace `vops-<name>`
with an IP address, the other end on the bridge as an access port with `tag=N`.
"""
import os
import shutil
import socket
import sys
from dataclasses import dataclass

from lab.proc import (LAB_ROOT, LabError, pid_is, read_pid, run, run_daemon, say, state_drop, state_load,
                      state_save, stop_pid, wait_for)

BRIDGE = 'vopsbr0'
OVS_DIR = os.path.join(LAB_ROOT, 'ovs')
DB = os.path.join(OVS_DIR, 'conf.db')
RUN_DIR = '/var/run/openvswitch'
DB_SOCK = os.path.join(RUN_DIR, 'db.sock')
SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
PIDFILES = {'ovsdb-server': os.path.join(RUN_DIR, 'ovsdb-server.pid'),
            'ovs-vswitchd': os.path.join(RUN_DIR, 'ovs-vswitchd.pid')}
NS_PREFIX = 'vops-'


@dataclass
class OvsBridge:
    name: str
    datapath_type: str = 'netdev'
    db_sock: str = DB_SOCK


def _vsctl(*args, check=True, timeout=20):
    return run(['ovs-vsctl', '--db=unix:' + DB_SOCK, '--timeout=%d' % timeout] + list(args),
               check=check, timeout=timeout + 5)


def _our(program):
    """pid of the lab's ovsdb-server / ovs-vswitchd (checked against its command line)."""
    pid = read_pid(PIDFILES[program])
    needle = DB if program == 'ovsdb-server' else OVS_DIR
    return pid if pid and pid_is(pid, program, needle) else 0


def running():
    """Are the lab's own ovsdb-server and ovs-vswitchd up?"""
    return bool(_our('ovsdb-server') and _our('ovs-vswitchd'))


def _sock_connects():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2)
        sock.connect(DB_SOCK)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _db_answers():
    """Does an initialised Open vSwitch database answer on DB_SOCK? (a quick connect first:
    ovs-vsctl retries a stale socket, or waits for a database without its root row,
    until its timeout)"""
    return _sock_connects() and _vsctl('show', check=False, timeout=5).returncode == 0


def ensure_ovs(log=say):
    """ovsdb-server + ovs-vswitchd running, bridge vopsbr0 (netdev datapath) present."""
    os.makedirs(OVS_DIR, mode=0o755, exist_ok=True)
    os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
    state = state_load('ovs')
    db_pid = _our('ovsdb-server')
    if db_pid and _db_answers():
        log('ovsdb-server (pid %d) of the lab already runs; reusing it' % db_pid)
    elif not db_pid and _db_answers():
        log('an Open vSwitch not started by the lab answers on %s; using it as it is' % DB_SOCK)
        state['foreign'] = True
    else:
        if db_pid:
            stop_pid(db_pid, 'unresponsive ovsdb-server', log=log, timeout=5)
        vs = _our('ovs-vswitchd')
        if vs:
            stop_pid(vs, 'stale ovs-vswitchd', log=log, timeout=5)
        log('starting ovsdb-server with a fresh database %s ...' % DB)
        for path in (DB, os.path.join(OVS_DIR, '.conf.db.~lock~')):
            if os.path.exists(path):
                os.unlink(path)
        run(['ovsdb-tool', 'create', DB, SCHEMA])
        run_daemon(['ovsdb-server', DB, '--remote=punix:' + DB_SOCK,
                    '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
                    '--pidfile=' + PIDFILES['ovsdb-server'], '--detach',
                    '--log-file=' + os.path.join(OVS_DIR, 'ovsdb-server.log')],
                   os.path.join(OVS_DIR, 'ovsdb-server.out'))
        db_pid = wait_for(lambda: _our('ovsdb-server'), 15, 'ovsdb-server pid file')
        wait_for(_sock_connects, 15, 'ovsdb-server to listen on ' + DB_SOCK)
        _vsctl('--no-wait', 'init')
        state = {'ovsdb-server': db_pid}
    if not state.get('foreign'):
        vs_pid = _our('ovs-vswitchd')
        if not vs_pid:
            log('starting ovs-vswitchd (userspace datapath) ...')
            run_daemon(['ovs-vswitchd', 'unix:' + DB_SOCK, '--pidfile=' + PIDFILES['ovs-vswitchd'],
                        '--detach', '--log-file=' + os.path.join(OVS_DIR, 'ovs-vswitchd.log')],
                       os.path.join(OVS_DIR, 'ovs-vswitchd.out'))
            vs_pid = wait_for(lambda: _our('ovs-vswitchd'), 15, 'ovs-vswitchd pid file')
        state['ovs-vswitchd'] = vs_pid
    state_save('ovs', state)
    log('ensuring bridge %s (datapath_type=netdev) ...' % BRIDGE)
    _vsctl('--may-exist', 'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev')
    wait_for(lambda: run(['ip', 'link', 'show', BRIDGE], check=False).returncode == 0, 15,
             'the %s device to appear' % BRIDGE)
    return OvsBridge(name=BRIDGE)


def stop_ovs(log=say):
    """Remove the lab's test ports and namespaces, then stop the daemons the lab started."""
    state = state_load('ovs')
    remove_all_ports(log=log)
    if state.get('foreign'):
        if _db_answers():
            _vsctl('--if-exists', 'del-br', BRIDGE, check=False)
        state_drop('ovs')
        return False
    stopped = False
    if _our('ovsdb-server') and _db_answers():
        _vsctl('--if-exists', 'del-br', BRIDGE, check=False)
    for program in ('ovs-vswitchd', 'ovsdb-server'):
        pid = _our(program)
        if not pid:
            continue
        log('stopping %s (pid %d) ...' % (program, pid))
        run(['ovs-appctl', '-t', '%s/%s.%d.ctl' % (RUN_DIR, program, pid), 'exit'], check=False, timeout=20)
        try:
            wait_for(lambda: not pid_is(pid, program), 10, program + ' to exit')
        except LabError:
            stop_pid(pid, program, log=log, timeout=5)
        stopped = True
    state_drop('ovs')
    return stopped


def ovs_status():
    lines = []
    for program in ('ovsdb-server', 'ovs-vswitchd'):
        pid = _our(program)
        lines.append('%s: %s' % (program, ('pid %d' % pid) if pid else 'not running (for the lab)'))
    if _db_answers():
        res = _vsctl('list-ports', BRIDGE, check=False)
        if res.returncode == 0:
            lines.append('bridge %s: %s' % (BRIDGE, ', '.join(res.stdout.split()) or 'no ports'))
        else:
            lines.append('bridge %s: absent' % BRIDGE)
    return lines


# ---------------------------------------------------------------- namespace test ports

@dataclass
class NsPort:
    name: str
    bridge: str
    tag: int
    address: str        # CIDR inside the namespace, e.g. 10.77.0.1/24

    @property
    def netns(self):
        return NS_PREFIX + self.name

    @property
    def host_if(self):
        return 'vh-' + self.name

    @property
    def ns_if(self):
        return 'vg-' + self.name

    @property
    def ip(self):
        return self.address.split('/')[0]

    def set_tag(self, tag):
        _vsctl('set', 'port', self.host_if, 'tag=%d' % tag)
        self.tag = tag

    def ping(self, ip, count=2, timeout=2):
        """ICMP echo from inside this port's namespace; True when a reply came back."""
        return ns_ping(self.netns, ip, count=count, timeout=timeout)


def add_vlan_port(bridge, name, tag, address, log=say):
    """veth pair: `vg-<name>` with `address` in netns `vops-<name>`, `vh-<name>` on `bridge` tag=N."""
    bridge = getattr(bridge, 'name', bridge)
    if len('vh-' + name) > 15:
        raise LabError('port name %r is too long for an interface name' % name)
    port = NsPort(name=name, bridge=bridge, tag=tag, address=address)
    remove_port(port, log=lambda m: None)
    log('adding test port %s (netns %s, %s) to %s with tag=%d' % (port.host_if, port.netns, address, bridge, tag))
    run(['ip', 'netns', 'add', port.netns])
    run(['ip', 'link', 'add', port.host_if, 'type', 'veth', 'peer', 'name', port.ns_if])
    run(['ip', 'link', 'set', port.ns_if, 'netns', port.netns])
    run(['ip', '-n', port.netns, 'addr', 'add', address, 'dev', port.ns_if])
    run(['ip', '-n', port.netns, 'link', 'set', 'lo', 'up'])
    run(['ip', '-n', port.netns, 'link', 'set', port.ns_if, 'up'])
    run(['ip', 'link', 'set', port.host_if, 'up'])
    _vsctl('--may-exist', 'add-port', bridge, port.host_if, 'tag=%d' % tag)
    return port


def remove_port(port, log=say):
    name = port.name if isinstance(port, NsPort) else port
    host_if, netns = 'vh-' + name, NS_PREFIX + name
    if os.path.exists(DB_SOCK):
        _vsctl('--if-exists', 'del-port', host_if, check=False, timeout=5)
    if run(['ip', 'link', 'show', host_if], check=False).returncode == 0:
        log('removing test port %s' % host_if)
        run(['ip', 'link', 'del', host_if], check=False)
    if os.path.exists('/run/netns/' + netns):
        run(['ip', 'netns', 'del', netns], check=False)


def remove_all_ports(log=say):
    names = set()
    if os.path.isdir('/run/netns'):
        names |= {n[len(NS_PREFIX):] for n in os.listdir('/run/netns') if n.startswith(NS_PREFIX)}
    links = run(['ip', '-o', 'link', 'show'], check=False).stdout
    for line in links.splitlines():
        ifname = line.split(':')[1].strip().split('@')[0] if ':' in line else ''
        if ifname.startswith('vh-'):
            names.add(ifname[3:])
    for name in sorted(names):
        remove_port(name, log=log)


_PY_PING = r'''
import os, socket, struct, sys, time
dst, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(timeout)
ident = os.getpid() & 0xffff
for seq in range(count):
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'virtops-lab-ping'
    pkt = hdr[:2] + struct.pack('!H', csum(hdr)) + hdr[4:]
    sock.sendto(pkt, (dst, 0))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            data, addr = sock.recvfrom(2048)
        except socket.timeout:
            break
        icmp = data[(data[0] & 0xf) * 4:]
        if addr[0] == dst and icmp[0] == 0 and struct.unpack('!H', icmp[4:6])[0] == ident:
            sys.exit(0)
sys.exit(1)
'''


def ns_ping(netns, ip, count=2, timeout=2):
    """ping (iputils or busybox) from netns; a raw-socket Python ping when neither exists."""
    if shutil.which('ping'):
        cmd = ['ping', '-c', str(count), '-W', str(timeout), ip]
    elif shutil.which('busybox'):
        cmd = ['busybox', 'ping', '-c', str(count), '-W', str(timeout), ip]
    else:
        cmd = [sys.executable, '-c', _PY_PING, ip, str(count), str(timeout)]
    res = run(['ip', 'netns', 'exec', netns] + cmd, check=False, timeout=count * (timeout + 1) + 10)
    return res.returncode == 0
