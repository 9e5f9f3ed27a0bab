#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: volume_attachment
short_description: One disk on one libvirt guest, attached live
version_added: 0.1.0
description:
  - Attaches a disk to a guest at O(target), detaches it, moves it to a new source, changes its I/O limits and
    grows it. A running guest gets each change live and in its persistent definition; a guest that is off gets
    it in its definition.
  - Sources are a pool volume, a file, a host block device, an iSCSI LUN reached by QEMU's own initiator (CHAP
    through a libvirt secret, so the password never appears in the domain XML, results or logs), or a fibre
    channel LUN found through the host's C(/dev/disk/by-path) links.
  - A different source at a target that is already attached is a swap, done only with O(swap=true). On a running
    guest the data is copied to the new source while the guest keeps running (block copy), the guest is switched
    to the copy once it has caught up, and the old source is let go; on failure the copy is cancelled and the
    guest stays on the old source. On a guest that is off, the disk is pointed at the new source.
  - Detaching from a running guest needs the guest to release the disk; the module asks a bounded number of
    times, then fails saying the disk is still attached.
author:
  - virtops.compute contributors (@virtops)
options:
  guest:
    description: The guest's name.
    type: str
    required: true
  target:
    description: The disk's device name in the guest definition, for example C(vdb) (virtio) or C(sdb) (SCSI).
    type: str
    required: true
  state:
    description: C(present) attaches (or changes) the disk, C(absent) detaches it. The source itself is never deleted.
    type: str
    choices: [present, absent]
    default: present
  volume:
    description: A storage-pool volume as the source.
    type: dict
    suboptions:
      pool:
        description: The pool.
        type: str
        required: true
      name:
        description: The volume.
        type: str
        required: true
  path:
    description: A disk image file on the host as the source.
    type: path
  format:
    description:
      - The format of O(path) or O(volume); looked up through libvirt when the file is in a pool, else C(raw).
      - libvirt's pools read a file's format from its content, which for a disk a guest has used is the guest's to
        write (a qcow2 header naming any host file as backing file included). A qcow2 format read that way is
        believed only when its backing chain stays in the host's storage pools; give V(raw) for a raw disk, or
        V(qcow2) to vouch for an image's header yourself.
    type: str
    choices: [raw, qcow2]
  block:
    description: A block device on the host as the source.
    type: path
  iscsi:
    description: An iSCSI LUN, reached by QEMU's own iSCSI initiator.
    type: dict
    suboptions:
      portal:
        description: The target portal, C(host:port).
        type: str
        required: true
      iqn:
        description: The target's iSCSI name.
        type: str
        required: true
      lun:
        description: The logical unit number.
        type: int
        default: 0
      chap_username:
        description: The CHAP user name.
        type: str
      chap_password:
        description:
          - The CHAP password; stored in a libvirt secret of usage iscsi named C(virtops-chap:<iqn>:<user>), which
            the module creates or updates. Never shown.
        type: str
      chap_secret:
        description: The usage name of an existing libvirt iSCSI secret holding the password (instead of O(iscsi.chap_password)).
        type: str
  fibre_channel:
    description:
      - A fibre channel LUN, attached as the host block device C(/dev/disk/by-path/*-fc-0x<wwn>-lun-<lun>).
      - Looked up on the host the module runs on, so the O(uri) must be local.
    type: dict
    suboptions:
      target_wwn:
        description: The target port's world wide name, 16 hexadecimal digits (C(0x) and colons allowed).
        type: str
        required: true
      lun:
        description: The logical unit number.
        type: int
        required: true
  bus:
    description: The bus the disk is on in the guest.
    type: str
    choices: [virtio, scsi, sata, usb]
    default: virtio
  serial:
    description: The disk's serial number as the guest sees it.
    type: str
  readonly:
    description: Attach read-only.
    type: bool
    default: false
  error_policy:
    description:
      - What QEMU does when a write to the disk fails (a lost iSCSI LUN, a full file system). C(stop) pauses the
        guest (M(virtops.compute.guest_info) then reports C(paused_reason=ioerror) and the disk's C(error)) until
        it is resumed, which retries the I/O; C(report) passes the error to the guest; C(enospace) pauses only
        when the host has no space left; C(ignore) drops the error.
      - Omitted, the hypervisor's default (C(report)). Changing it on an attached disk needs the disk detached
        first.
    type: str
    choices: [stop, report, ignore, enospace]
  size_gb:
    description:
      - Grow the O(volume) or O(path) source to this size in GiB; a running guest is told of the new size at once.
        Shrinking is refused.
    type: int
  swap:
    description: Allow moving an attached target to a different source (see the description).
    type: bool
    default: false
  swap_timeout:
    description: Seconds a swap's copy may take before it is cancelled.
    type: int
    default: 3600
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
  - virtops.compute.disk_qos.attached_disk
seealso:
  - module: virtops.compute.volume
  - module: virtops.compute.secret
'''

EXAMPLES = r'''
- name: Attach a pool volume to a running guest
  virtops.compute.volume_attachment:
    guest: web1
    target: vdb
    volume: {pool: data, name: web1-data}
    serial: web1-data

- name: An iSCSI LUN with CHAP
  virtops.compute.volume_attachment:
    guest: web1
    target: vdc
    iscsi:
      portal: 192.0.2.10:3260
      iqn: iqn.2026-11.com.example:array1
      lun: 1
      chap_username: web1
      chap_password: "{{ vault_chap_password }}"

- name: Move vdb to a new volume while the guest runs
  virtops.compute.volume_attachment:
    guest: web1
    target: vdb
    volume: {pool: fast, name: web1-data}
    swap: true

- name: Grow it and limit its I/O
  virtops.compute.volume_attachment:
    guest: web1
    target: vdb
    volume: {pool: fast, name: web1-data}
    size_gb: 50
    qos: {total_iops_sec: 1000}

- name: Detach
  virtops.compute.volume_attachment:
    guest: web1
    target: vdb
    state: absent
'''

RETURN = r'''
attachment:
  description: The disk as the guest has it now (live for a running guest); null once detached.
  returned: always
  type: dict
  sample: {guest: web1, target: vdb, bus: virtio, source: /var/lib/libvirt/images/web1-data.qcow2, type: file,
           format: qcow2, serial: web1-data, readonly: false, qos: {}, live: true, error_policy: null, error: null}
changes:
  description: What differed (C(disk), C(source), C(qos), C(size_gb), C(chap_secret)).
  returned: always
  type: list
  elements: str
actions:
  description: What the module did, in order.
  returned: when something was done
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.storage.attachment_options import ATTACHMENT_OPTIONS
from ansible_collections.virtops.compute.plugins.module_utils.storage.attachments import AttachmentConverger


def main():
    module = VirtopsModule(
        argument_spec=dict(ATTACHMENT_OPTIONS, guest=dict(type='str', required=True)),
        supports_check_mode=True,
    )
    module.run(lambda module: AttachmentConverger(module).run())


if __name__ == '__main__':
    main()
