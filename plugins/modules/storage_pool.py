#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: storage_pool
short_description: A libvirt directory storage pool
version_added: 0.1.0
description:
  - Defines a libvirt C(dir) storage pool, creates its directory (libvirt's pool build), starts it and sets
    whether it starts with libvirtd; stops and removes it again.
  - The directory is created and deleted by libvirt on the compute host, so this works against a remote O(uri) too.
  - The path of a defined pool is never changed; a different O(path) is refused, naming both paths.
    To move a pool, remove it with O(state=absent) and define it again.
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The pool's name.
    type: str
    required: true
  type:
    description: The pool type; only directory pools are managed, and a pool of another type is refused.
    type: str
    choices: [dir]
    default: dir
  path:
    description:
      - The pool's directory on the compute host, an absolute path. Needed to define a new pool.
      - For an existing pool it may be omitted; when given it must be the pool's path.
    type: path
  state:
    description:
      - C(present) and C(active) are the same state; the pool is defined, its directory created and the pool started.
      - C(inactive) defines the pool and creates its directory, and stops the pool when it runs.
      - C(absent) stops the pool and removes its definition. Its directory and the volumes in it stay unless
        O(delete_path=true).
    type: str
    choices: [present, active, inactive, absent]
    default: present
  autostart:
    description:
      - Whether libvirtd starts the pool when it starts.
      - When omitted, an existing pool keeps its setting and a new pool gets C(true), or C(false) for O(state=inactive).
    type: bool
  delete_path:
    description:
      - With O(state=absent), also delete the pool's directory.
      - Refused, naming the volumes, while the pool holds volumes; remove them with M(virtops.compute.volume) first.
      - Other files in the directory make the deletion fail, and the pool is then left as it was.
    type: bool
    default: false
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
notes:
  - To see the volumes of an inactive pool libvirt has to start it, so O(state=absent) with O(delete_path=true)
    starts an inactive pool for a moment to check that it is empty; a check run cannot do that and assumes it is.
seealso:
  - module: virtops.compute.volume
'''

EXAMPLES = r'''
- name: A pool for data volumes, started now and with libvirtd
  virtops.compute.storage_pool:
    name: data
    path: /var/lib/libvirt/data

- name: Defined but stopped
  virtops.compute.storage_pool:
    name: data
    path: /var/lib/libvirt/data
    state: inactive

- name: Removed with its (empty) directory
  virtops.compute.storage_pool:
    name: data
    state: absent
    delete_path: true
'''

RETURN = r'''
pool:
  description: The pool after the run (what it would be, in check mode); null when it is absent.
  returned: always
  type: dict
  contains:
    name:
      description: The pool's name.
      type: str
    type:
      description: The pool type, C(dir).
      type: str
    path:
      description: The pool's directory.
      type: str
    state:
      description: C(active) or C(inactive).
      type: str
    autostart:
      description: Whether libvirtd starts the pool.
      type: bool
    capacity_bytes:
      description: Size of the file system holding the directory; null while the pool is inactive.
      type: int
    allocation_bytes:
      description: Space used on it; null while the pool is inactive.
      type: int
    available_bytes:
      description: Space free on it; null while the pool is inactive.
      type: int
    volumes:
      description: Names of the pool's volumes, sorted; empty while the pool is inactive.
      type: list
      elements: str
changes:
  description: Names of the properties that changed (or would change), among C(state), C(type), C(path), C(autostart) and C(directory).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.storage.pools import POOL_OPTIONS, PoolConverger


def main():
    module = VirtopsModule(argument_spec=POOL_OPTIONS, supports_check_mode=True)
    module.run(lambda module: PoolConverger(module).run())


if __name__ == '__main__':
    main()
