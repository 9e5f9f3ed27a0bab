"""Running the collection's inventory plugin (virtops.compute.libvirt) the way a user does: ansible-inventory on an
inventory file."""
import json
import os
import subprocess

import yaml

from lab.runner import VENV_BIN, _env


def ansible_inventory(path, *args, env=None):
    return subprocess.run([os.path.join(VENV_BIN, 'ansible-inventory'), '-i', str(path)] + list(args),
                          capture_output=True, text=True, env=_env(env), timeout=120, check=False)


def plain(value):
    """The listing with the unsafe markers ansible-inventory puts on what came from libvirt taken off."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inventory_list(path, *args, raw=False):
    """``ansible-inventory --list`` of the file, parsed (unsafe markers kept with ``raw``)."""
    # a source that fails to parse is only a warning by default: make it fail the run
    proc = ansible_inventory(path, '--list', *args, env={'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true'})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    listing = json.loads(proc.stdout)
    return listing if raw else plain(listing)


def write_inventory(directory, name, **options):
    path = directory / name
    path.write_text(yaml.safe_dump(dict(plugin='virtops.compute.libvirt') | options))
    return path
