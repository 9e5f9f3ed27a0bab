#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: guest_info
short_description: Status of libvirt guests
version_added: 0.1.0
description:
  - Reports one guest, or every guest of the host, with its power state, memory, vCPUs, CPU time, disks (with
    their backing chains), interfaces (with the addresses the host's networks reserve or leased, and those the guest
    agent reports, each tagged with its source), consoles, managed-save image, firmware, config drive, host devices,
    and whether it can be live-migrated and why not.
  - A guest that does not exist is reported as an empty list, not as a failure.
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The guest to report; all guests, sorted by name, when omitted.
    type: str
  definition:
    description:
      - Also return each guest's persistent definition (its domain XML) as RV(guests[].definition).
      - Secrets stay out of it (libvirt leaves console passwords out unless asked for them, which this module never does).
    type: bool
    default: false
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes.info_module
seealso:
  - module: virtops.compute.guest
'''

EXAMPLES = r'''
- name: Read one guest
  virtops.compute.guest_info:
    name: web1
  register: web1

- name: Show its VNC endpoint
  ansible.builtin.debug:
    msg: "{{ web1.guests[0].consoles.vnc.host }}:{{ web1.guests[0].consoles.vnc.port }}"

- name: Every guest of the host
  virtops.compute.guest_info:
  register: all_guests
'''

RETURN = r'''
guests:
  description: The guests, each as below.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The guest's name.
      type: str
    uuid:
      description: The guest's UUID.
      type: str
    state:
      description: C(running), C(paused), C(shutdown), C(crashed), C(suspended) (managed save or guest-initiated sleep) or C(nostate).
      type: str
    power_state:
      description: The matching number, 1 running, 3 paused, 4 shutdown, 6 crashed, 7 suspended, 0 nostate.
      type: int
    paused_reason:
      description: Why a paused guest is paused (user, migration, ioerror, ...).
      type: str
      returned: when paused
    stopped_reason:
      description:
        - Why a shut-off guest is off; C(crashed) when its QEMU process died (killed, out of memory), C(shutdown)
          after a clean shutdown, C(destroyed) after a forced stop.
      type: str
      returned: when shut off (not suspended)
    max_mem_kb:
      description: The most memory the guest may have, in KiB.
      type: int
    mem_kb:
      description: The memory the guest has now, in KiB.
      type: int
    vcpus:
      description: Virtual CPUs.
      type: int
    cpu_time_ns:
      description: Cumulative CPU time in nanoseconds.
      type: int
    disks:
      description:
        - Each disk's C(target), C(bus), C(device), C(type), C(source), C(format), C(readonly), C(serial),
          C(error_policy) and C(qos) when limited.
        - C(error) is C(io_error) or C(no_space) when I/O on the disk failed and its error policy paused the guest
          (see O(virtops.compute.volume_attachment#module:error_policy)), else null.
        - C(pool) and C(capacity_bytes) for a disk that is a volume of a storage pool (null otherwise).
        - C(backing_chain), the images under the disk, nearest first, each with its C(path) and C(format), as
          libvirt reports them for a running guest, else as the host's storage pools know (the image of a root
          disk made by M(virtops.compute.guest) is the first entry); empty for a disk without one.
      type: list
      elements: dict
    config_drive:
      description: The path of the config drive attached the way M(virtops.compute.guest) attaches one, null without one.
      type: str
    host_devices:
      description: The host devices passed through to the guest (C(pci 0000:01:00.0), C(usb 0x046d:0xc52b), ...).
      type: list
      elements: str
    migratable:
      description: Whether M(virtops.compute.migrate) can live-migrate the guest now (see RV(guests[].migration_blockers)).
      type: bool
    migration_blockers:
      description:
        - Why the guest cannot be live-migrated now, one phrase each; empty when it can. A host device, a host
          directory or shared memory pins it to the host; a guest that is shut off or saved to disk has nothing
          running to move.
      type: list
      elements: str
    definition:
      description: The persistent definition (domain XML) without secrets.
      type: str
      returned: with O(definition=true)
    interfaces:
      description:
        - Each NIC's C(mac), C(type), C(source), C(model), C(target) and C(addresses) (C(address), C(prefix),
          C(family), C(source)).
        - An address's C(source) is C(static) (a DHCP reservation of the NIC's libvirt network), C(lease) (a lease
          of that network's DHCP server) or C(agent) (what the guest agent reports; the guest decides what that
          says, so do not connect to it without checking it). Only strings that are IP addresses are listed.
      type: list
      elements: dict
    consoles:
      description:
        - C(serial_log) (a path), C(serial) (C(type) with C(host) and C(port), or C(pty)), C(vnc) and C(spice)
          (C(host) and C(port)); a key is absent when the guest has no such console.
      type: dict
    rescued:
      description: Whether the guest runs from its rescue image.
      type: bool
    managed_save:
      description: Whether a managed-save image holds the guest's memory.
      type: bool
    firmware:
      description: C(bios) or C(uefi).
      type: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest


def report(module):
    name = module.params.get('name')
    definition = module.params['definition']
    if name:
        guest = Guest.lookup(module.conn, name)
        return dict(guests=[guest.info(definition=definition)] if guest else [])
    guests = []
    for dom in sorted(module.conn.listAllDomains(0), key=lambda dom: dom.name()):
        try:
            guests.append(Guest(dom).info(definition=definition))
        except libvirt.libvirtError as err:
            # A guest removed while the list is read is simply no longer there.
            if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
    return dict(guests=guests)


def main():
    module = VirtopsModule(argument_spec=dict(name=dict(type='str'), definition=dict(type='bool', default=False)), supports_check_mode=True)
    module.run(report)


if __name__ == '__main__':
    main()
