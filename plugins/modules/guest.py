#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


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
  - Changes to an existing guest are applied live where libvirt can (O(disk_qos), growing O(root_size_gb),
    adding and removing O(nics), O(vcpus) and O(memory_mb) below their maxima); other changes of a running
    guest need O(allow_restart=true), otherwise the module fails naming them and leaves the guest as it was.
  - Runs that change the same guest on the same host take turns, so that one run's restart or roll-back never
    undoes another's half-way (two playbooks, or an AWX job beside a hand-run one). A run waits up to 900 seconds
    for the one before it, logging every few seconds, then fails in one sentence without touching the guest. The
    turn is kept in a root-only lock file on the machine that runs the module (under C(/run/virtops-compute)), so
    runs against one host meet when the module runs on that host, as the collection's roles do. Check mode does not
    wait. M(virtops.compute.guest_action)'s reboots, rebuilds and cold moves take the same turns.
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
        C(running) resumes it where it left off. Only a running or paused guest has memory to save, so a stopped
        guest, or one that does not exist yet, is refused with one sentence and left as it is.
      - C(rescued) boots the guest from O(rescue_image) with its own root disk attached as the next free virtio
        disk (C(vdb) unless taken), keeping its name, UUID, MACs and volumes; any other state from C(rescued)
        first puts back exactly the definition it had before.
      - C(absent) turns it off and removes the definition with its managed-save image, NVRAM and snapshot metadata,
        and the root disk and console log this module made; never the base image or attached volumes. For a guest
        that is not defined, it removes a root disk or console log an interrupted run left behind in O(storage_pool).
        With O(keep_disks=true) only the definition goes.
    type: str
    choices: [running, stopped, paused, suspended, rescued, absent]
    default: running
  virt_type:
    description:
      - The libvirt domain type. C(kvm) needs working hardware virtualisation; C(qemu) emulates (TCG), which
        works everywhere but is many times slower.
      - When omitted for a new guest, the best type the host really runs, C(kvm) where it boots a guest, else
        C(qemu). libvirt lists C(kvm) wherever QEMU supports it, also where C(/dev/kvm) cannot run guests, so the
        module boots a 512-byte probe guest under each listed type (the probe of M(virtops.compute.host_info),
        a few seconds, longer when a type hangs), and keeps the answer in a root-only file on the machine that
        runs the module (C(/var/cache/virtops-compute/virt-types/HOST-UUID.json)) until the host reboots or its
        QEMU or libvirt changes. The result's RV(actions) says which type was chosen, and a warning says so when
        C(kvm) is listed but cannot run guests.
      - A type the host does not run (not listed, or listed but failing the probe) is refused in one sentence
        naming what it does run, before anything changes.
    type: str
    choices: [kvm, qemu]
  vcpus:
    description:
      - Virtual CPUs; 1 for a new guest when omitted.
      - Up to O(max_vcpus), a change of a running guest is applied live (CPU hot-plug; removing CPUs needs the
        guest's consent).
    type: int
  max_vcpus:
    description:
      - The most vCPUs the guest can have without a restart; O(vcpus) when omitted for a new guest.
      - Set it above O(vcpus) when creating a guest whose vCPUs should grow live later; changing it needs a restart.
    type: int
  memory_mb:
    description:
      - Memory in MiB (a whole number; C(2048) is 2 GiB), at most the host's memory; 512 for a new guest when omitted.
      - Up to O(max_memory_mb), a change of a running guest is applied live through the memory balloon (the
        guest needs a virtio balloon driver to give memory back).
    type: int
  max_memory_mb:
    description:
      - The most memory (MiB) the guest can have without a restart; O(memory_mb) when omitted for a new guest.
      - Set it above O(memory_mb) when creating a guest whose memory should grow live later; changing it needs a
        restart.
    type: int
  machine:
    description: The QEMU machine type, for example C(pc) or C(q35); libvirt's default when omitted.
    type: str
  image:
    description:
      - The base image (qcow2 or raw) the root disk is a copy-on-write overlay of, as a path on the host.
    type: path
  rescue_image:
    description:
      - The image (qcow2 or raw, on the host) a rescued guest boots from; its own copy-on-write overlay is made
        for the rescue and removed on unrescue. Needed with O(state=rescued).
    type: path
  root_size_gb:
    description:
      - The root disk's size in GiB (a whole number), at least the image's size. Growing an existing guest's root disk is applied
        live; shrinking is refused.
    type: int
  auto_disk_config:
    description:
      - When the root disk is made larger than O(image), or grown later, also grow the root partition and its
        file system to fill it, offline with libguestfs before the guest boots, so the guest needs no growpart.
      - Growing the root disk of a running guest this way needs O(allow_restart=true).
      - Runs on the compute host itself (a local O(uri)); libguestfs takes 10-20 s per disk.
      - An appliance that makes no progress for 5 minutes is stopped and the growth starts once more on a fresh
        one; one stopped while it resized the file system fails the task and says to check the file system.
    type: bool
    default: false
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
  config_drive:
    description:
      - A config drive image on the host (see M(virtops.compute.config_drive)), attached read-only; an ISO 9660
        image as a CD-ROM, anything else (vfat) as a virtio disk. An empty string removes it.
      - Changing it on a running guest needs a restart.
    type: path
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
  nics:
    description:
      - The guest's network interfaces, in order. Each takes exactly one of O(nics[].network), O(nics[].bridge),
        O(nics[].ovs_bridge) or O(nics[].user).
      - On a running guest, NICs added to the list are hot-plugged and NICs removed from it are unplugged (the
        guest must release them; the module asks a bounded number of times, then fails saying so); a changed
        VLAN, port group or filter is changed in place.
      - NICs with a O(nics[].mac) are matched by it; the others by their order. Omit the option to leave the
        guest's NICs as they are; an empty list removes them all.
    type: list
    elements: dict
    suboptions:
      network:
        description: A libvirt network to join (see M(virtops.compute.network)).
        type: str
      bridge:
        description: An existing Linux bridge on the host to join.
        type: str
      ovs_bridge:
        description: An existing Open vSwitch bridge on the host to join.
        type: str
      user:
        description: QEMU user-mode networking (no host setup; the guest reaches out through NAT, nothing reaches in).
        type: bool
      mac:
        description: The MAC address, a unicast one; libvirt picks one in 52:54:00 when omitted.
        type: str
      model:
        description: The NIC model QEMU emulates.
        type: str
        default: virtio
      vlan:
        description: The VLAN tag (1-4094) of the port, with O(nics[].ovs_bridge) or an Open vSwitch O(nics[].network).
        type: int
      portgroup:
        description: A port group of O(nics[].network), which may carry a VLAN and bandwidth settings.
        type: str
      filter:
        description: An nwfilter (a security group, see M(virtops.compute.nwfilter)) applied to the NIC's traffic.
        type: str
      filter_params:
        description: "Parameters of O(nics[].filter), for example C({IP: 192.0.2.10})."
        type: dict
  shutdown_timeout:
    description:
      - Seconds to wait for a clean shutdown (O(state=stopped), or a restart for a change) before turning the guest
        off. The guest is asked through its guest agent when one is connected, else through ACPI, which a guest
        without an ACPI daemon ignores; then the whole timeout passes before it is turned off.
      - While it waits the module writes a progress line to the host's log every 10 seconds; RV(shutdown) says how
        long it waited and why it ended.
    type: int
    default: 120
  allow_restart:
    description:
      - Allow stopping and starting a running guest to apply changes that cannot be made live.
      - Without it such a change fails naming the options, and the guest is left as it was; in check mode it is
        reported instead (RV(restart) and a warning), so a check run shows every difference.
    type: bool
    default: false
  storage_pool:
    description: The directory pool for the guest's root disk and console log; created when missing.
    type: str
    default: virtops-instances
  keep_disks:
    description:
      - With O(state=absent), remove only the definition (with its managed-save image, NVRAM and snapshot
        metadata) and keep every file of the guest, the root disk and console log this module made included.
      - For a stale copy of a guest that runs on another host from the same shared storage (the evacuate role's
        C(cleanup)), whose disks are the other copy's.
    type: bool
    default: false
  definition:
    description:
      - Define the guest from this domain XML, a definition recorded on another host (the evacuate role's rebuild),
        instead of building it from options; O(state) then applies as usual. A guest of that name that exists
        already must have the definition's UUID and is left as it is.
      - The definition is untrusted. It is rebuilt through the collection's model from what a guest may carry to
        another host and refused, with one sentence naming the part, when it holds QEMU command-line passthrough,
        a host device, directory or shared memory, a static security label, or a host path (disk, kernel, console
        log, socket) that does not lie, symbolic links resolved, in one of O(allowed_pools). The emulator and UEFI
        firmware files are this host's own; console passwords are never taken from it (see O(graphics)).
      - When its root disk is missing on this host (storage not shared with the host it was recorded on), it is
        made again as a copy-on-write overlay of O(image), of O(image_format), at least O(root_size_gb) large; so
        the guest restarts from its image, without what it wrote since.
      - Only O(name), O(state), O(image), O(image_format), O(root_size_gb), O(allowed_pools), O(graphics) (for
        C(password) only, set on the definition's console of that type), O(storage_pool), O(shutdown_timeout) and
        O(allow_restart) apply with it. The module must run on the host (a local O(uri)), whose files it checks.
    type: str
  allowed_pools:
    description:
      - With O(definition), the storage pools whose directories the guest's files and O(image) may lie in;
        every active pool of the host when omitted.
    type: list
    elements: str
  image_format:
    description:
      - With O(definition), the format of O(image), which is never guessed from the content of an image on
        shared storage. Required with O(image) there.
    type: str
    choices: [qcow2, raw]
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
  - virtops.compute.disk_qos.root_disk
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
    nics:
      - network: default
      - ovs_bridge: br-int
        vlan: 20
        filter: web

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

- name: Remove a stale copy's definition, keeping the disks another host's copy runs from
  virtops.compute.guest:
    name: web1
    state: absent
    keep_disks: true

- name: Define a recorded guest on this host (checked against the pools it may use) and start it
  virtops.compute.guest:
    name: web1
    definition: "{{ recorded_definition }}"
    allowed_pools: [instances]
    image: /var/lib/libvirt/virtops/instances/debian-12.qcow2
    image_format: qcow2
    graphics:
      - type: vnc
        password: "{{ vault_web1_vnc_password }}"
  no_log: true
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
  description: What the module did, in order (including the virt type it chose for a new guest).
  returned: when something was done
  type: list
  elements: str
  sample: [stopped to apply memory_mb, redefined with new memory_mb, stopped -> running]
restart:
  description:
    - The changes of a running guest that need a restart (C(needed_for)), and whether O(allow_restart) allows it
      (C(allowed)). In check mode with C(allowed=false), a real run would fail on them.
  returned: when a change needs a restart of the running guest
  type: dict
  sample: {needed_for: [vcpus, memory_mb], allowed: false}
shutdown:
  description:
    - How a shutdown went, when the module stopped the guest; C(clean) (false when it was turned off), C(seconds)
      (how long the module waited), C(timeout) (O(shutdown_timeout)) and C(how), a sentence saying why the wait ended.
  returned: when the module shut the guest down
  type: dict
  sample: {clean: false, seconds: 120.4, timeout: 120, how: "turned off: the guest ignored the ACPI shutdown request for shutdown_timeout (120 s)"}
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
from ansible_collections.virtops.compute.plugins.module_utils.guest.options import GUEST_OPTIONS


def main():
    module = VirtopsModule(
        argument_spec=dict(
            GUEST_OPTIONS,
            keep_disks=dict(type='bool', default=False),
            definition=dict(type='str'),
            allowed_pools=dict(type='list', elements='str'),
            image_format=dict(type='str', choices=['qcow2', 'raw']),
        ),
        supports_check_mode=True,
    )
    module.run(lambda module: GuestConverger(module).run())


if __name__ == '__main__':
    main()
