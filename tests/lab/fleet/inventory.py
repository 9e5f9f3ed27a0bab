"""The fleet's Ansible inventory, .build/fleet/inventory.yml: group `compute` reached over SSH as root with the
lab's key and known_hosts, each host's `virtops_peer_uri`, and the compute_host role's settings for these
hosts (TLS listener with the lab's PKI, the lock manager on the shared storage, SSH trust between the hosts,
and the container quirk `cgroup_controllers = [ ]`).
"""
import os

import yaml

from lab.fleet import keys, layout

LOCKSPACE_DIR = layout.HOST_SHARED_DIR + '/lockspace'
INSTANCES_DIR = layout.HOST_SHARED_DIR + '/instances'
SHARED_POOL = 'fleet-shared'


def group_vars():
    return {
        'ansible_user': 'root',
        'ansible_ssh_private_key_file': keys.SSH_KEY,
        # the lab wrote each host's keys when it made the host: check them strictly, never trust on first use
        # and notice a cut link within seconds: a multiplexed connection to a partitioned host would otherwise
        # wait for TCP to give up (many minutes)
        'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null '
                                   '-o StrictHostKeyChecking=yes -o ServerAliveInterval=3 -o ServerAliveCountMax=3'
                                   % keys.KNOWN_HOSTS,
        'ansible_python_interpreter': '/usr/bin/python3',
        # one SSH round trip per task instead of three (root needs no tty for sudo)
        'ansible_pipelining': True,
        'virtops_fleet_shared_dir': layout.HOST_SHARED_DIR,
        'virtops_fleet_shared_pool': SHARED_POOL,
        # the compute_host role, as an operator would set it for these hosts
        'compute_host_migration_listener': 'tls',
        'compute_host_tls_ca_cert': keys.CA_CERT,
        'compute_host_lock_manager': 'lockd',
        'compute_host_lockd_lockspace_dir': LOCKSPACE_DIR,
        'compute_host_ssh_trust': True,
        'compute_host_storage_pools': [{'name': SHARED_POOL, 'path': INSTANCES_DIR}],
        # the container quirk: libvirt cannot make cgroups for QEMU where the cgroup tree is read-only
        'compute_host_cgroup_controllers': [],
        # the hosts share this machine's hardware and it shows no SMBIOS (libvirt would make up a UUID at every
        # start): each host's libvirt UUID comes from its own machine id, stable and distinct per host
        'compute_host_libvirtd_conf': {'host_uuid_source': 'machine-id'},
    }


def host_vars(host):
    tls = keys.host_tls_files(host)
    return {
        'ansible_host': host.address,
        'virtops_peer_uri': host.peer_uri,
        'virtops_fleet_fqdn': host.fqdn,
        'compute_host_tls_server_cert': tls['server_cert'],
        'compute_host_tls_server_key': tls['server_key'],
        'compute_host_tls_client_cert': tls['client_cert'],
        'compute_host_tls_client_key': tls['client_key'],
    }


def inventory_data(hosts):
    return {'all': {'children': {'compute': {'hosts': {h.name: host_vars(h) for h in hosts},
                                             'vars': group_vars()}}}}


def write_inventory(hosts, path=layout.INVENTORY):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    header = ('# The fleet lab (python -m lab.cli fleet up; tests/lab/fleet). Written anew by every `fleet up`.\n'
              '#   ansible -i %s compute -m ping\n'
              '#   ansible-playbook -i %s playbooks/compute_host.yml\n' % (path, path))
    with open(path + '.tmp', 'w') as handle:
        handle.write(header)
        yaml.safe_dump(inventory_data(hosts), handle, default_flow_style=False, sort_keys=False, width=110)
    os.replace(path + '.tmp', path)
    return path


def remove_inventory(path=layout.INVENTORY):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
