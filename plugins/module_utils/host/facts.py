# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about a compute host, as ``host_info`` reports them.

Everything comes through the libvirt connection so that it works against a
remote URI; only what libvirt cannot tell (the exact uptime, the host's own
address, the service state file) is read from the local machine, and only when
the URI is local.
"""


import fcntl
import json
import socket
import struct
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import is_local_uri, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.host import virt_probe
from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import Capabilities
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB

# Where the ``host`` module keeps a host's service state; Ansible reads it back as local facts.
HOST_STATE_FILE = '/etc/ansible/facts.d/virtops_compute.fact'

_SIOCGIFADDR = 0x8915


def version_string(packed):
    """libvirt packs versions as major * 1000000 + minor * 1000 + micro."""
    return '%d.%d.%d' % (packed // 1000000, (packed // 1000) % 1000, packed % 1000)


def format_uptime_line(uptime_seconds, now=None, load=None):
    """The line ``uptime`` prints, built from its parts."""
    minutes_total = int(uptime_seconds) // 60
    days, minutes_left = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(minutes_left, 60)
    parts = []
    if now is not None:
        parts.append(time.strftime('%H:%M:%S', time.localtime(now)))
    span = ''
    if days:
        span = '%d day%s, ' % (days, '' if days == 1 else 's')
    span += '%d:%02d' % (hours, minutes) if hours else '%d min' % minutes
    parts.append('up ' + span)
    line = ' '.join(parts)
    if load is not None:
        line += ',  load average: %s' % ', '.join('%.2f' % value for value in load)
    return line


def read_local_uptime():
    with open('/proc/uptime') as handle:
        return float(handle.read().split()[0])


def uptime_from_cpu_times(conn):
    """Seconds since boot estimated from the host's cumulative CPU times (remote hosts)."""
    stats = conn.getCPUStats(-1)
    cpus = conn.getInfo()[2] or 1
    return sum(stats.values()) / 1e9 / cpus


def _interface_ipv4(name):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack('256s', name[:15].encode()))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return None
    finally:
        sock.close()


def default_route_interface():
    """The interface carrying the IPv4 default route, read from /proc/net/route."""
    try:
        with open('/proc/net/route') as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 7 and fields[1] == '00000000' and fields[7] == '00000000':
                    return fields[0]
    except OSError:
        pass
    return None


def local_host_ip():
    """The address this host is reached at: its default-route interface's IPv4 address."""
    iface = default_route_interface()
    address = _interface_ipv4(iface) if iface else None
    if address:
        return address
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return '127.0.0.1'


def remote_host_ip(uri):
    """The address of the host a remote URI names."""
    rest = uri.partition('://')[2]
    hostport = rest.split('/', 1)[0].rsplit('@', 1)[-1]
    host = hostport[1:].split(']', 1)[0] if hostport.startswith('[') else hostport.split(':', 1)[0]
    try:
        return socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError):
        return host


def read_service_state(path=HOST_STATE_FILE):
    """``(state, reason)`` from the host state file; a host nobody disabled is enabled."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return 'enabled', None
    if not isinstance(data, dict):
        return 'enabled', None
    return data.get('service_state') or 'enabled', data.get('maintenance_reason', data.get('reason'))


def _guest_counts(conn):
    domains = conn.listAllDomains(0)
    running = sum(1 for dom in domains if dom.isActive())
    return dict(total=len(domains), running=running)


def _vcpus_used(conn):
    """vCPUs of the active guests: what placement counts against the host's CPUs."""
    return sum(dom.info()[3] for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))


def gather(module, probe=True, probe_timeout=10):
    """All host facts for ``host_info``; ``module`` is the running VirtopsModule."""
    conn = module.conn
    uri = module.uri
    local = is_local_uri(uri)
    arch, memory_mb, cpu_count, mhz, numa_nodes, sockets, cores, threads = conn.getInfo()
    caps = Capabilities.from_xml(conn.getCapabilities())

    if local:
        uptime_seconds = read_local_uptime()
        uptime_source = 'proc'
        load = tuple(float(value) for value in open('/proc/loadavg').read().split()[:3])
        uptime_line = format_uptime_line(uptime_seconds, now=time.time(), load=load)
        host_ip = local_host_ip()
        service_state, reason = read_service_state()
    else:
        uptime_seconds = uptime_from_cpu_times(conn)
        uptime_source = 'cpu_times'
        uptime_line = format_uptime_line(uptime_seconds)
        host_ip = remote_host_ip(uri)
        service_state, reason = None, None

    available = caps.domain_types(caps.host_arch)
    if probe:
        probes = virt_probe.probe_virt_types(conn, available, arch=caps.host_arch, timeout=probe_timeout, log=module.log)
        usable = [name for name in available if probes[name]['usable']]
    else:
        probes = {}
        usable = None

    return dict(
        hostname=conn.getHostname(),
        host_uuid=caps.host_uuid,
        uri=uri,
        uptime_seconds=int(uptime_seconds),
        uptime=uptime_line,
        uptime_source=uptime_source,
        host_ip=host_ip,
        hypervisor_type=conn.getType(),
        hypervisor_version=version_string(conn.getVersion()),
        libvirt_version=version_string(conn.getLibVersion()),
        cpu=dict(
            arch=caps.host_arch or arch,
            model=caps.host_cpu_model or arch,
            vendor=caps.host_cpu_vendor,
            count=cpu_count,
            vcpus_used=_vcpus_used(conn),
            mhz=mhz,
            topology=dict(sockets=sockets, cores=cores, threads=threads, numa_nodes=numa_nodes),
        ),
        memory_mb=dict(total=memory_mb, free=conn.getFreeMemory() // MIB),
        virt_types=dict(available=available, usable=usable, probe=probes),
        guests=_guest_counts(conn),
        service_state=service_state,
        maintenance_reason=reason,
    )
