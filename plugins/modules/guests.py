#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: guests
short_description: Many libvirt guests' desired state in one task, with config drives, volumes and waiting
version_added: 0.1.0
description:
  - Converges a list of guests, each item taking the options of M(virtops.compute.guest) (validated the same
    way) plus C(flavor), C(config_drive) metadata, C(volumes), C(wait_for) and C(wait_timeout), in one module run
    over one libvirt connection. This is the path the C(virtops.compute.guest) role takes; a second run over
    converged guests is a fast no-op.
  - "For each item, in order: its volumes are checked (a missing pool or volume fails the item before anything of
    it changes); its config drive is made (when C(config_drive) is a dictionary); the guest is defined; the volumes
    are created (when asked) and attached, before the guest's first start; the guest is brought to its C(state).
    Once every item is done, the waits run, all at once."
  - Every guest is attempted; when some fail, the task fails naming the first failure and the count, and
    RV(guests) tells what happened to each.
  - "Extra item keys. C(flavor) names one of O(flavors); its values fill the options the item leaves out (its
    C(root_size_gb) only for items with an C(image))."
  - "C(config_drive) is either a path (as for M(virtops.compute.guest)) or a dictionary of the metadata options of
    M(virtops.compute.config_drive) (C(format), C(uuid), C(name), C(hostname), C(public_keys), C(admin_pass),
    C(meta), C(user_data), C(vendor_data), C(network_data), C(network_data_from_nics), C(files),
    C(availability_zone), C(launch_index), C(random_seed)). From a dictionary the drive is made as the volume
    C(<name>-config.iso) (C(.img) for vfat) of the guest's C(storage_pool), through libvirt's storage API, and
    attached. C(name) defaults to the guest's name, and the drive's C(uuid) (cloud-init's instance id) to the
    guest's UUID; a new guest is defined with the UUID the drive carries. The drive is compared byte for byte and
    rewritten only when the options change (a running guest reads the new one at its next boot). It is removed
    with the guest (C(state=absent))."
  - "C(volumes) is a list of M(virtops.compute.volume_attachment) specs without C(guest) (C(target), one source of
    C(volume{pool,name}), C(path), C(block), C(iscsi), C(fibre_channel), and C(bus), C(serial), C(readonly),
    C(qos), C(size_gb), C(format), C(swap), C(swap_timeout), C(state)). A C(volume) that does not exist is created
    empty with C(size_gb) GiB (in C(format), qcow2 unless told); an existing one is grown to C(size_gb). Volumes
    are never deleted here; C(state=absent) detaches."
  - "C(wait_for) (C(none), C(agent), C(cloud_init); default O(wait_for)) waits, for an item whose C(state) is
    C(running), until its QEMU guest agent answers C(guest-ping), or until cloud-init has finished (the agent reads
    C(/run/cloud-init/result.json); errors listed there fail the item). C(guest_agent) is turned on for such an
    item. C(wait_timeout) (seconds; default O(wait_timeout)) bounds it; a guest that is not there in time fails
    with a sentence saying what was last seen."
author:
  - virtops.compute contributors (@virtops)
options:
  guests:
    description:
      - The guests, each a dictionary of M(virtops.compute.guest) options (C(name) required) and the extra keys
        described above. Passwords inside (C(password), C(admin_pass), C(chap_password), C(random_seed)) are hidden
        from the output like the guest module hides them.
    type: list
    elements: raw
    required: true
  workers:
    description: How many guests are converged at the same time.
    type: int
    default: 4
  flavors:
    description:
      - Named sizes the items' C(flavor) picks from, each a dictionary of C(vcpus), C(memory_mb), C(root_size_gb),
        C(max_vcpus), C(max_memory_mb) and C(disk_qos).
    type: dict
    default: {}
  wait_for:
    description: What to wait for once a guest runs, for items that do not say; see the description.
    type: str
    choices: [none, agent, cloud_init]
    default: none
  wait_timeout:
    description: How many seconds a wait may take, for items that do not say.
    type: int
    default: 300
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
notes:
  - Check mode reports what would change for each item (the drive and volumes included) and changes nothing; it
    does not wait. A change that needs a restart the item does not allow is reported (C(restart), a warning and
    C(summary.need_allow_restart)) instead of failing the item, so every guest's differences show.
seealso:
  - module: virtops.compute.guest
  - module: virtops.compute.config_drive
  - module: virtops.compute.volume_attachment
'''

EXAMPLES = r'''
- name: The guests listed in an inventory variable, eight at a time
  virtops.compute.guests:
    guests: "{{ tenant_guests }}"
    workers: 8

- name: Two web guests with a config drive and a data volume each, then wait for their agents
  virtops.compute.guests:
    flavors:
      small: {vcpus: 1, memory_mb: 2048, root_size_gb: 20}
    wait_for: agent
    wait_timeout: 600
    guests:
      - name: web1
        flavor: small
        image: /srv/images/debian-12.qcow2
        nics:
          - network: default
        config_drive:
          hostname: web1.example.org
          public_keys:
            ops: "{{ lookup('file', 'ops.pub') }}"
          meta:
            role: web
          user_data: |
            #cloud-config
            packages: [nginx]
        volumes:
          - target: vdb
            volume: {pool: default, name: web1-data.qcow2}
            size_gb: 10
      - name: web2
        flavor: small
        image: /srv/images/debian-12.qcow2
        config_drive:
          hostname: web2.example.org
        volumes:
          - target: vdb
            volume: {pool: default, name: web2-data.qcow2}
            size_gb: 10

- name: Wait for cloud-init on a guest booted earlier, for at most ten minutes
  virtops.compute.guests:
    guests:
      - name: db1
        wait_for: cloud_init
        wait_timeout: 600

- name: Gone, with its config drive (its volumes stay)
  virtops.compute.guests:
    guests:
      - name: old1
        state: absent
'''

RETURN = r'''
guests:
  description:
    - One entry per item, in order; each has C(name), C(changed), and, as M(virtops.compute.guest) returns
      them, C(changes), C(actions) and C(guest), or C(failed) and C(msg).
    - C(changes) also names the drive and volume changes (C(config_drive created), C(config_drive content),
      C(volumes.vdb created), C(volumes.vdb disk), C(volumes.vdb size_gb)...).
    - C(config_drive) (when the item describes one) has C(path), C(volume), C(pool), C(format), C(size_bytes),
      C(sha256), C(uuid) and C(hostname); C(waited) (after a wait) has C(for) and C(seconds).
    - C(restart) and C(shutdown) as M(virtops.compute.guest) returns them; in check mode, C(restart.allowed=false)
      marks a guest whose changes a real run refuses without C(allow_restart).
  returned: always
  type: list
  elements: dict
summary:
  description:
    - Counts of guests in all, changed and failed; in a check run where some guests' changes need a restart that
      their C(allow_restart) does not allow, also C(need_allow_restart), their names (a real run would fail them).
  returned: always
  type: dict
  sample: {total: 10, changed: 10, failed: 0}
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guests.batch import converge_all, validate_items


def _run(module):
    if module.params['workers'] < 1:
        raise VirtopsError('workers must be at least 1, got %d.' % module.params['workers'])
    # the module hides whatever lands in no_log_values, also when validation fails half-way
    items = validate_items(module.params['guests'], module.ansible.no_log_values, module.params['flavors'],
                           dict(wait_for=module.params['wait_for'], wait_timeout=module.params['wait_timeout']))
    return converge_all(module, items, module.params['workers'])


def main():
    module = VirtopsModule(
        argument_spec=dict(
            guests=dict(type='list', elements='raw', required=True),
            workers=dict(type='int', default=4),
            flavors=dict(type='dict', default={}),
            wait_for=dict(type='str', default='none', choices=['none', 'agent', 'cloud_init']),
            wait_timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
    )
    module.run(_run)


if __name__ == '__main__':
    main()
