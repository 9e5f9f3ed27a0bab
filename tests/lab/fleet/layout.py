"""Names, addresses and paths of the fleet lab, in one place.

None of them meets the namespace lab's (lab.hosts: lab-hostN on 127.0.0.1, bridge vopsbr0, 10.77.x.0/24 in
test namespaces, /var/lib/virtops-lab/{hosts,shared}) nor this machine's own network (192.0.2.0/24).
"""
import ipaddress
import os
from dataclasses import dataclass

from lab.proc import LAB_ROOT, STATE_DIR

DOMAIN = 'fleet.test'
HOST_NAMES = ('cn1', 'cn2', 'cn3')
SUBNET = ipaddress.ip_network('198.51.100.0/24')       # TEST-NET-2
GATEWAY = '198.51.100.1'                                # this machine on the fleet bridge
FIRST_HOST_OCTET = 11                                   # cn1 .11, cn2 .12, ...
BRIDGE = 'vfleet0'
REPO_PORT = 18631                                       # the apt repository's HTTP server, on GATEWAY only

FLEET_DIR = os.path.join(LAB_ROOT, 'fleet')             # persistent: hosts' writable roots, keys, PKI
HOSTS_DIR = os.path.join(FLEET_DIR, 'hosts')
SHARED_DIR = os.path.join(FLEET_DIR, 'shared')          # this machine's side of the shared storage
SSH_DIR = os.path.join(FLEET_DIR, 'ssh')
PKI_DIR = os.path.join(FLEET_DIR, 'pki')
CACHE = os.environ.get('VIRTOPS_FLEET_CACHE', '/var/cache/virtops-lab/fleet')
RUN_DIR = os.path.join(STATE_DIR, 'fleet')              # pid files and logs of what runs now
STATE = 'fleet'                                         # lab.proc state file /run/virtops-lab/fleet.json
LOCK_FILE = os.path.join(STATE_DIR, 'fleet.lock')              # one fleet command at a time
USE_LOCK_FILE = os.path.join(STATE_DIR, 'fleet-use.lock')      # shared by the test sessions using the fleet

HOST_SHARED_DIR = '/var/lib/libvirt/shared'             # the shared storage inside every host
CGROUP_PREFIX = 'virtops-fleet-'
MACHINE_PREFIX = 'fleet-'

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.path.join(REPO_ROOT, '.build', 'fleet')
INVENTORY = os.path.join(BUILD_DIR, 'inventory.yml')


@dataclass(frozen=True)
class HostLayout:
    name: str            # as the inventory names it: cn1
    index: int           # 1-based

    @property
    def fqdn(self):
        return '%s.%s' % (self.name, DOMAIN)

    @property
    def address(self):
        return str(SUBNET.network_address + FIRST_HOST_OCTET - 1 + self.index)

    @property
    def machine(self):
        """systemd-nspawn's machine name; this machine's end of the host's veth is ve-<machine>."""
        return MACHINE_PREFIX + self.name

    @property
    def veth(self):
        return 've-' + self.machine

    @property
    def cgroup(self):
        return CGROUP_PREFIX + self.name

    @property
    def state_dir(self):
        return os.path.join(HOSTS_DIR, self.name)

    @property
    def root(self):
        """The host's file system as it boots (an overlay mount, or a copy)."""
        return os.path.join(self.state_dir, 'root')

    @property
    def upper(self):
        return os.path.join(self.state_dir, 'upper')

    @property
    def work(self):
        return os.path.join(self.state_dir, 'work')

    @property
    def log_path(self):
        return os.path.join(RUN_DIR, self.name + '.log')

    @property
    def peer_uri(self):
        return 'qemu+ssh://root@%s/system' % self.fqdn


def host(name):
    if name not in HOST_NAMES:
        raise KeyError('%r is not a fleet host (the fleet has %s)' % (name, ', '.join(HOST_NAMES)))
    return HostLayout(name=name, index=HOST_NAMES.index(name) + 1)


def all_hosts():
    return [host(name) for name in HOST_NAMES]


def inside(path):
    """Where a file of this machine's shared directory is inside every host."""
    relative = os.path.relpath(path, SHARED_DIR)
    if relative.startswith('..'):
        raise ValueError('%s is not in the fleet\'s shared directory %s' % (path, SHARED_DIR))
    return os.path.join(HOST_SHARED_DIR, relative)


def outside(path):
    """Where a file of the hosts' shared directory is on this machine."""
    relative = os.path.relpath(path, HOST_SHARED_DIR)
    if relative.startswith('..'):
        raise ValueError('%s is not in the hosts\' shared directory %s' % (path, HOST_SHARED_DIR))
    return os.path.join(SHARED_DIR, relative)


def hosts_file():
    """/etc/hosts of every fleet host: each host's name resolves on every host without DNS."""
    lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback',
             '%s gateway.%s gateway' % (GATEWAY, DOMAIN)]
    lines += ['%s %s %s' % (h.address, h.fqdn, h.name) for h in all_hosts()]
    return '\n'.join(lines) + '\n'
