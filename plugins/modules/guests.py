#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: guests
short_description: Many libvirt guests' desired state in one task
version_added: 0.1.0
description:
  - Converges a list of guests, each item taking the options of M(virtops.compute.guest) (validated the same
    way), in one module run over one libvirt connection. This is the path the C(virtops.compute.guest) role
    takes; a second run over converged guests is a fast no-op.
  - Every guest is attempted; when some fail, the task fails naming the first failure and the count, and
    RV(guests) tells what happened to each.
author:
  - virtops.compute contributors (@virtops)
options:
  guests:
    description:
      - The guests, each a dictionary of M(virtops.compute.guest) options (C(name) required). Passwords inside
        are hidden from the output like the guest module hides them.
    type: list
    elements: raw
    required: true
  workers:
    description: How many guests are converged at the same time.
    type: int
    default: 4
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.connection.check_mode
seealso:
  - module: virtops.compute.guest
'''

EXAMPLES = r'''
- name: The guests listed in an inventory variable, eight at a time
  virtops.compute.guests:
    guests: "{{ tenant_guests }}"
    workers: 8

- name: Two guests, spelled out
  virtops.compute.guests:
    guests:
      - name: db1
        image: /srv/images/debian-12.qcow2
        vcpus: 4
        memory_mb: 8192
      - name: old1
        state: absent
'''

RETURN = r'''
guests:
  description:
    - One entry per item, in order; each has C(name), C(changed), and, as M(virtops.compute.guest) returns
      them, C(changes), C(actions) and C(guest), or C(failed) and C(msg).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts of guests in all, changed and failed.
  returned: always
  type: dict
  sample: {total: 10, changed: 10, failed: 0}
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest_batch import converge_all, validate_items


def _run(vm):
    if vm.params['workers'] < 1:
        raise VirtopsError('workers must be at least 1, got %d.' % vm.params['workers'])
    # the module hides whatever lands in no_log_values, also when validation fails half-way
    items = validate_items(vm.params['guests'], vm.ansible.no_log_values)
    return converge_all(vm, items, vm.params['workers'])


def main():
    module = VirtopsModule(
        argument_spec=dict(
            guests=dict(type='list', elements='raw', required=True),
            workers=dict(type='int', default=4),
        ),
        supports_check_mode=True,
    )
    module.run(_run)


if __name__ == '__main__':
    main()
