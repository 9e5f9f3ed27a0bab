"""Ansible inventories whose hosts are lab hosts, so a play runs its modules ON a lab host.

Each inventory host is a lab host reached with ``ansible_connection=local`` and an
``ansible_python_interpreter`` that enters the host's mount, UTS and cgroup namespaces
before starting Python. Inside, ``qemu:///system`` is that host's libvirtd and
/etc/ansible its own, exactly as on a real compute host.

The interpreter is a small script (<host state dir>/python-inside.sh), not the nsenter
command itself: ansible-core 2.19 quotes ansible_python_interpreter as one word, so
"nsenter -t PID ... python" is looked up as a single program and not found. The script
reads the libvirtd pid file each time (virtlogd's while libvirtd is stopped), so the
inventory stays valid across libvirtd restarts.

Host variables: ``lab_uri`` (the host's qemu+tcp URI, for controllers and peers),
``lab_index``, ``virtops_uri`` (``qemu:///system``, to use as the modules' ``uri``).
"""
import json
import os
import sys

from lab import hosts as lab_hosts

PYTHON = sys.executable
_SCRIPT = """#!/bin/sh
# runs Python inside lab host %(name)s (written by tests/lab/inventory.py)
for file in %(libvirtd)s %(virtlogd)s; do
    pid=$(cat $file 2>/dev/null || true)
    # only a process whose UTS namespace is the host's: a stale pid must never mean this machine itself
    if [ -n "$pid" ] && [ "$(nsenter -t "$pid" -u hostname 2>/dev/null)" = %(name)s ]; then
        exec nsenter -t "$pid" -m -u -C -- %(python)s "$@"
    fi
done
echo "lab host %(name)s runs neither libvirtd nor virtlogd" >&2
exit 1
"""


def interpreter(host):
    """The ansible_python_interpreter (a script path) that runs modules inside lab host `host`."""
    path = os.path.join(host.state_dir, 'python-inside.sh')
    with open(path, 'w') as handle:
        handle.write(_SCRIPT % dict(name=host.name, python=PYTHON,
                                    libvirtd=os.path.join(host.state_dir, 'libvirtd.pid'),
                                    virtlogd=os.path.join(host.state_dir, 'virtlogd.pid')))
    os.chmod(path, 0o755)
    return path


def inventory_data(lab_host_list, group='compute', extra_vars=None):
    """The inventory as a dict (YAML inventory shape): lab hosts under `group`."""
    members = {}
    for host in lab_host_list:
        current = lab_hosts.get_host(host.index)
        if not (current.libvirtd_pid or current.virtlogd_pid):
            raise lab_hosts.LabError('%s does not run, so nothing can run inside it' % host.name)
        members[host.name] = dict(ansible_connection='local', ansible_python_interpreter=interpreter(current),
                                  lab_uri=current.uri, lab_index=current.index, virtops_uri='qemu:///system')
    return {group: dict(hosts=members, vars=dict(extra_vars or {}))}


def write_inventory(path, lab_host_list, group='compute', extra_vars=None):
    """Write the inventory to `path` (JSON, which Ansible's YAML inventory reads) and return the path."""
    with open(path, 'w') as handle:
        json.dump(inventory_data(lab_host_list, group, extra_vars), handle, indent=2)
    os.chmod(path, 0o644)
    return path
