"""The fleet's fencing as an operator would set it up for the evacuate role, shared by the fleet tests and benchmarks.

- ``fenced_inventory``: the fleet inventory with each host's fence command and its check: the lab's power switch
  (``lab.cli fleet kill HOST`` and ``lab.cli fleet is-off HOST``);
- ``drop_hooks``: removes the evacuate role's fence hook from the hosts afterwards. The hook fails closed once its
  fence records are gone, so without this no later test or benchmark could start a guest on those hosts."""
import os
import sys

import yaml

from lab.fleet import machines

FLEET_CLI = [sys.executable, '-m', 'lab.cli', 'fleet']
HOOK = '/etc/libvirt/hooks/qemu.d/virtops-evacuation-fence'


def fenced_inventory(inventory_path, path):
    """Write to ``path`` the inventory at ``inventory_path`` with each compute host's fence; returns ``path``."""
    with open(inventory_path) as handle:
        data = yaml.safe_load(handle)
    for name, host_vars in data['all']['children']['compute']['hosts'].items():
        host_vars.update(virtops_fence_command=FLEET_CLI + ['kill', name],
                         virtops_fence_verify_command=FLEET_CLI + ['is-off', name])
    with open(path, 'w') as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False)
    return path


def drop_hooks(hosts):
    """The fence hook off every host of ``hosts``: removed and libvirtd reloaded on a running host, removed from the
    root of a host that is off (before it boots again)."""
    for host in hosts:
        if machines.nspawn_pid(host):
            machines.inside(host, 'rm', '-f', HOOK)
            machines.inside(host, 'systemctl', 'reload', 'libvirtd.service', check=False)
        elif machines.root_mounted(host) and os.path.exists(os.path.join(host.root, HOOK.lstrip('/'))):
            os.unlink(os.path.join(host.root, HOOK.lstrip('/')))
