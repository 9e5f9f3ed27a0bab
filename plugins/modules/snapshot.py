#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: snapshot
short_description: Save a guest's disk as a standalone image a new guest can boot from
version_added: 0.1.0
description:
  - Writes the guest's root disk (or O(disk)) to O(dest) as one image with no backing chain, which
    M(virtops.compute.guest) can use as its O(virtops.compute.guest#module:image).
  - C(live) copies the disk of a running guest without pausing it (QEMU mirrors the disk into the new image and
    the copy is cut once it has caught up); with O(quiesce=true) the guest's filesystems are frozen through the
    guest agent for the instant of the cut, so the image needs no journal replay.
  - C(cold) copies the disk of a stopped guest; asked for on a running guest, it saves the guest with managed
    save, copies, and restores it as it was.
  - C(auto) is C(live) for a running or paused guest, C(cold) otherwise.
  - The image is written under a temporary name and renamed into place when complete; a failed or cancelled
    run leaves nothing at O(dest). An existing O(dest) is left as it is (C(changed=false)) unless O(force=true).
  - Progress is logged while the copy runs; the result tells how long it took and how long the guest was paused.
author:
  - virtops.compute contributors (@virtops)
options:
  guest:
    description: The guest's name.
    type: str
    required: true
  dest:
    description: The image to write, an absolute path on the compute host; its directory must exist.
    type: path
    required: true
  format:
    description: The image format.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  mode:
    description: How to copy (see the description).
    type: str
    choices: [auto, live, cold]
    default: auto
  quiesce:
    description: Freeze the guest's filesystems through the guest agent around a live cut.
    type: bool
    default: false
  disk:
    description: The disk to save, by its target name.
    type: str
    default: vda
  force:
    description: Replace an existing O(dest).
    type: bool
    default: false
  timeout:
    description: Seconds a live copy may take to catch up before it is cancelled.
    type: int
    default: 3600
  agent_timeout:
    description:
      - Seconds each guest-agent call of O(quiesce=true) (freeze, thaw) may wait for an answer; a hung agent
        fails the snapshot (its filesystems thawed, the copy cancelled) instead of blocking it without limit.
    type: int
    default: 30
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
seealso:
  - module: virtops.compute.guest
'''

EXAMPLES = r'''
- name: Image of a running guest, filesystems frozen for the cut
  virtops.compute.snapshot:
    guest: web1
    dest: /var/lib/libvirt/images/web1-2026-11-25.qcow2
    quiesce: true

- name: Boot a new guest from it
  virtops.compute.guest:
    name: web1-copy
    image: /var/lib/libvirt/images/web1-2026-11-25.qcow2
'''

RETURN = r'''
snapshot:
  description: What was written.
  returned: always
  type: dict
  sample: {dest: /var/lib/libvirt/images/web1.qcow2, mode: live, format: qcow2, size_bytes: 1073741824,
           duration_seconds: 12.4, guest_paused_seconds: 0.0, frozen_seconds: 0.08}
  contains:
    dest:
      description: The image path.
      type: str
    mode:
      description: How the disk was copied, C(live) or C(cold) (C(auto) resolved).
      type: str
    format:
      description: The image format.
      type: str
    size_bytes:
      description: Space the image takes on the host (null when it cannot be read).
      returned: unless in check mode
      type: int
    duration_seconds:
      description: How long the copy took, from start to the image in place.
      returned: when an image was written
      type: float
    guest_paused_seconds:
      description:
        - How long the guest did not run because of the snapshot. Always C(0) for C(live); for C(cold) of a
          running guest, the time from managed save to restore.
      returned: when an image was written
      type: float
    frozen_seconds:
      description:
        - How long the guest's filesystems were frozen through the guest agent (O(quiesce=true) with C(live)),
          from the freeze request to the thaw; writers in the guest block for that long while the guest keeps
          running. C(0) without quiesce.
      returned: when an image was written
      type: float
actions:
  description: What the module did, ending with a summary.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.storage.snapshots import Snapshotter


def main():
    module = VirtopsModule(
        argument_spec=dict(
            guest=dict(type='str', required=True),
            dest=dict(type='path', required=True),
            format=dict(type='str', default='qcow2', choices=['qcow2', 'raw']),
            mode=dict(type='str', default='auto', choices=['auto', 'live', 'cold']),
            quiesce=dict(type='bool', default=False),
            disk=dict(type='str', default='vda'),
            force=dict(type='bool', default=False),
            timeout=dict(type='int', default=3600),
            agent_timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    module.run(lambda module: Snapshotter(module).run())


if __name__ == '__main__':
    main()
