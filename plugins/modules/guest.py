#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: guest
short_description: One libvirt guest's desired state, from launch to removal
version_added: 0.1.0
description:
  - Launches, changes, pauses, suspends, stops and removes one libvirt/QEMU guest (a domain), idempotently.
  - A guest launched from O(image) gets its own copy-on-write qcow2 root disk in O(storage_pool), backed by the
    image, which is never written. A guest can also boot directly from O(kernel), O(initrd) and O(cmdline).
  - Every guest gets a serial console whose output is logged to a file in O(storage_pool) (readable while the guest
    runs and after), plus the interactive serial console of O(serial_console) and the graphical consoles of O(graphics).
  - Options left out for an existing guest leave that part of it as it is; for a new guest they take the
    defaults their descriptions name.
  - Changes to an existing guest are applied live where libvirt can (O(disk_qos), growing O(root_size_gb));
    other changes of a running guest need O(allow_restart=true), otherwise the module fails naming them and
    leaves the guest as it was.
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The guest's name.
    type: str
    required: true
  uuid:
    description:
      - The UUID for a new guest. For an existing guest, a different UUID is an error rather than a change,
        so two guests of the same name are never confused.
    type: str
  state:
    description:
      - C(running) starts the guest (resuming a paused guest, restoring a suspended one where it left off).
      - C(stopped) shuts it down cleanly and turns it off after O(shutdown_timeout) seconds if it does not stop.
      - C(paused) stops its virtual CPUs; its memory stays.
      - C(suspended) saves its memory to disk with libvirt managed save; it then uses no RAM or CPU and a later
        C(running) resumes it where it left off. A stopped guest is started first.
      - C(absent) turns it off and removes the definition with its managed-save image, NVRAM and snapshot metadata,
        and the root disk and console log this module made; never the base image or attached volumes. For a guest
        that is not defined, it removes a root disk or console log an interrupted run left behind in O(storage_pool).
    type: str
    choices: [running, stopped, paused, suspended, absent]
    default: running
  virt_type:
    description:
      - The libvirt domain type. C(kvm) needs working hardware virtualisation; C(qemu) emulates (TCG).
      - M(virtops.compute.host_info) tells which types really run guests on a host.
      - C(kvm) for a new guest when omitted.
    type: str
    choices: [kvm, qemu]
  vcpus:
    description: Virtual CPUs; 1 for a new guest when omitted.
    type: int
  memory_mb:
    description: Memory in MiB, at most the host's memory; 512 for a new guest when omitted.
    type: int
  machine:
    description: The QEMU machine type, for example C(pc) or C(q35); libvirt's default when omitted.
    type: str
  image:
    description:
      - The base image (qcow2 or raw) the root disk is a copy-on-write overlay of, as a path on the host.
    type: path
  root_size_gb:
    description:
      - The root disk's size in GiB, at least the image's size. Growing an existing guest's root disk is applied
        live; shrinking is refused.
    type: int
  kernel:
    description: A kernel on the host to boot directly.
    type: path
  initrd:
    description: An initramfs on the host to boot with O(kernel).
    type: path
  cmdline:
    description: The kernel command line for O(kernel).
    type: str
  firmware:
    description: C(bios) (SeaBIOS) or C(uefi) (OVMF, which must be installed on the host); C(bios) for a new guest when omitted.
    type: str
    choices: [bios, uefi]
  secure_boot:
    description: Boot UEFI with secure boot (needs O(firmware=uefi)); off for a new guest when omitted.
    type: bool
  guest_agent:
    description: Add the qemu-guest-agent channel; none for a new guest when omitted.
    type: bool
  disk_qos:
    description:
      - I/O limits of the root disk; a change on a running guest is applied live. Omitted keys mean no limit.
    type: dict
    suboptions:
      total_bytes_sec:
        description: Total bytes per second.
        type: int
      read_bytes_sec:
        description: Read bytes per second.
        type: int
      write_bytes_sec:
        description: Write bytes per second.
        type: int
      total_iops_sec:
        description: Total I/O operations per second.
        type: int
      read_iops_sec:
        description: Read I/O operations per second.
        type: int
      write_iops_sec:
        description: Write I/O operations per second.
        type: int
  serial_console:
    description:
      - The interactive serial console; its output is always logged as well. A C(pty) by default.
    type: dict
    suboptions:
      type:
        description: C(pty) (reach it with C(virsh console)) or C(tcp) (a telnet server on O(serial_console.listen)).
        type: str
        choices: [pty, tcp]
        default: pty
      listen:
        description: The address a C(tcp) console listens on.
        type: str
        default: 127.0.0.1
      port:
        description: The port of a C(tcp) console.
        type: int
  graphics:
    description: Graphical consoles.
    type: list
    elements: dict
    suboptions:
      type:
        description: The protocol.
        type: str
        choices: [vnc, spice]
        required: true
      listen:
        description: The address to listen on.
        type: str
        default: 127.0.0.1
      port:
        description: The port; omitted or C(-1) picks a free one.
        type: int
      password:
        description: The console password; libvirt keeps it in the root-only domain configuration.
        type: str
  shutdown_timeout:
    description: Seconds to wait for a clean shutdown before turning the guest off.
    type: int
    default: 120
  allow_restart:
    description: Allow stopping and starting a running guest to apply changes that cannot be made live.
    type: bool
    default: false
  storage_pool:
    description: The directory pool for the guest's root disk and console log; created when missing.
    type: str
    default: virtops-instances
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.connection.check_mode
seealso:
  - module: virtops.compute.guest_info
  - module: virtops.compute.host_info
'''

EXAMPLES = r'''
- name: Launch a guest from a base image
  virtops.compute.guest:
    name: web1
    image: /var/lib/libvirt/images/debian-12.qcow2
    root_size_gb: 10
    vcpus: 2
    memory_mb: 2048
    guest_agent: true
    graphics:
      - type: vnc

- name: Boot a kernel directly, emulated, with a telnet serial console
  virtops.compute.guest:
    name: tiny1
    virt_type: qemu
    kernel: /srv/images/vmlinuz
    initrd: /srv/images/initrd.img
    cmdline: console=ttyS0
    memory_mb: 256
    serial_console:
      type: tcp
      port: 4555

- name: Limit the root disk's I/O, live
  virtops.compute.guest:
    name: web1
    disk_qos:
      total_iops_sec: 500

- name: Suspend to disk
  virtops.compute.guest:
    name: web1
    state: suspended

- name: Remove the guest and its own files
  virtops.compute.guest:
    name: web1
    state: absent
'''

RETURN = r'''
guest:
  description: The guest as M(virtops.compute.guest_info) reports it; null once it is absent.
  returned: always
  type: dict
changes:
  description: The names of the options (and C(state), C(power_state)) that differed and were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: [memory_mb, power_state]
actions:
  description: What the module did, in order.
  returned: when something was done
  type: list
  elements: str
  sample: [stopped to apply memory_mb, redefined with new memory_mb, stopped -> running]
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.guest_lifecycle import GuestConverger


def main():
    module = VirtopsModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            uuid=dict(type='str'),
            state=dict(type='str', default='running', choices=['running', 'stopped', 'paused', 'suspended', 'absent']),
            virt_type=dict(type='str', choices=['kvm', 'qemu']),
            vcpus=dict(type='int'),
            memory_mb=dict(type='int'),
            machine=dict(type='str'),
            image=dict(type='path'),
            root_size_gb=dict(type='int'),
            kernel=dict(type='path'),
            initrd=dict(type='path'),
            cmdline=dict(type='str'),
            firmware=dict(type='str', choices=['bios', 'uefi']),
            secure_boot=dict(type='bool'),
            guest_agent=dict(type='bool'),
            disk_qos=dict(type='dict', options=dict(
                total_bytes_sec=dict(type='int'), read_bytes_sec=dict(type='int'), write_bytes_sec=dict(type='int'),
                total_iops_sec=dict(type='int'), read_iops_sec=dict(type='int'), write_iops_sec=dict(type='int'))),
            serial_console=dict(type='dict', options=dict(
                type=dict(type='str', default='pty', choices=['pty', 'tcp']),
                listen=dict(type='str', default='127.0.0.1'),
                port=dict(type='int'))),
            graphics=dict(type='list', elements='dict', options=dict(
                type=dict(type='str', required=True, choices=['vnc', 'spice']),
                listen=dict(type='str', default='127.0.0.1'),
                port=dict(type='int'),
                password=dict(type='str', no_log=True))),
            shutdown_timeout=dict(type='int', default=120),
            allow_restart=dict(type='bool', default=False),
            storage_pool=dict(type='str', default='virtops-instances'),
        ),
        supports_check_mode=True,
    )
    module.run(lambda vm: GuestConverger(vm).run())


if __name__ == '__main__':
    main()
