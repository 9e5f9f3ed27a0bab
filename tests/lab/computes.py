"""Lab hosts 4, 5 and 6 as an inventory group `compute` for the maintenance and evacuate roles' tests:
each runs its modules inside its own namespaces (lab.inventory), and peers reach it on its qemu+tcp URI."""
import json
import os

from lab import fixtures, hosts
from lab.inventory import inventory_data

SOURCE, PEERS = 4, (5, 6)
MIGRATION_ADDRESS = 'tcp://127.0.0.1'


def lab_computes():
    """Generator for a fixture: start (or reuse) lab hosts 4, 5, 6; yields them; stops what it started."""
    for index in (SOURCE,) + PEERS:
        running = hosts.get_host(index)
        if running.libvirtd_pid and not hosts.has_own_mount(running, '/etc/ansible'):
            # started before lab hosts had their own /etc/ansible: the host module would write the machine's
            hosts.stop_host(running)
    gens = [fixtures._lab_host(i) for i in (SOURCE,) + PEERS]       # pylint: disable=protected-access
    started = []
    try:
        for gen in gens:
            started.append(next(gen))       # pylint: disable=stop-iteration-return
        yield started
    finally:
        for gen in gens[:len(started)]:
            next(gen, None)


def write_inventory(path, host_list, reserved=None, extra_vars=None, vcpu_ratio=None):
    """JSON inventory of `host_list` in group compute; `reserved` maps host name -> virtops_reserved_memory_mb and
    `vcpu_ratio` host name -> virtops_vcpu_allocation_ratio."""
    data = inventory_data([hosts.get_host(h.index) for h in host_list], extra_vars=extra_vars)
    for name, hostvars in data['compute']['hosts'].items():
        hostvars['virtops_peer_uri'] = hostvars['lab_uri']
        # no systemd in a lab host: the host module finds its libvirtd through this pid file (e.g. to reload it)
        hostvars['virtops_libvirtd_pid_file'] = os.path.join(hosts.get_host(hostvars['lab_index']).state_dir, 'libvirtd.pid')
        hostvars['virtops_reserved_memory_mb'] = (reserved or {}).get(name, 0)
        if name in (vcpu_ratio or {}):
            hostvars['virtops_vcpu_allocation_ratio'] = vcpu_ratio[name]
    with open(path, 'w') as handle:
        json.dump(data, handle, indent=2)
    os.chmod(path, 0o644)
    return path


def fact_path(host):
    """The host's /etc/ansible/facts.d/virtops_compute.fact as seen from outside its namespace."""
    return os.path.join(host.state_dir, 'root', 'ansible', 'facts.d', 'virtops_compute.fact')


def forget_state(host):
    """Remove the host's state file and its directory: a host nobody ever disabled."""
    path = fact_path(host)
    if os.path.exists(path):
        os.unlink(path)
    if os.path.isdir(os.path.dirname(path)) and not os.listdir(os.path.dirname(path)):
        os.rmdir(os.path.dirname(path))


def fact_state(host):
    """The service state the host module keeps in `host`'s own /etc/ansible (enabled without the file)."""
    try:
        with open(fact_path(host)) as handle:
            return json.load(handle).get('service_state') or 'enabled'
    except FileNotFoundError:
        return 'enabled'
