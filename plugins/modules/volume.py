#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: volume
short_description: A volume in a libvirt storage pool
version_added: 0.1.0
description:
  - Creates a volume in an active storage pool (empty, as a full copy of a base image, or as a qcow2 overlay
    backed by one), grows it, and deletes it.
  - Everything goes through libvirt's storage API, so this works against a remote O(uri) too, with one exception
    named under O(from_image).
  - A volume is only ever grown; a smaller O(size_gb) is refused. A volume a running guest uses is grown through
    that guest (the O(virtops.compute.volume_attachment#module:size_gb) option of M(virtops.compute.volume_attachment)),
    since the guest has to learn the new size.
  - The format and the backing store of an existing volume are not changed; a different O(format), or a O(from_image)
    that does not match how the volume was made, is refused.
author:
  - virtops.compute contributors (@virtops)
options:
  pool:
    description: The storage pool holding the volume; it must exist and be active.
    type: str
    required: true
  name:
    description: The volume's name, which for a directory pool is its file name.
    type: str
    required: true
  size_gb:
    description:
      - The volume's size in GiB. Needed for a new volume without O(from_image); with it, the image's size when omitted.
      - Larger than the volume's size, the volume grows; smaller, it is refused.
    type: int
  format:
    description: The volume's format.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  from_image:
    description:
      - A base image on the compute host to make a new volume from (for an existing volume it is only compared
        with how the volume was made).
      - An image that an active storage pool holds is copied by libvirt, converting it to O(format) when needed.
      - An image that no pool holds is uploaded byte for byte through a libvirt stream. The module reads that
        file itself, so this needs the module to run on the compute host (a local O(uri)) and the image to be of
        O(format) without a backing file of its own. Against a remote O(uri) such an image is refused; put it in
        a storage pool on the host (a C(dir) pool over its directory) and libvirt copies it there.
    type: path
  from_image_format:
    description:
      - The format of O(from_image). Given, it is taken as said and never guessed from the image's content (a raw
        image whose content a guest wrote can look like a qcow2 header naming a backing file of the host); an image
        that a storage pool holds must be of that format by the pool's own reading.
      - Omitted, the pool's reading is used, else the image's header.
    type: str
    choices: [qcow2, raw]
  backing:
    description:
      - With O(from_image), C(false) makes a full, independent copy of the image; C(true) makes a qcow2 overlay
        that reads the image as its backing store and writes only its own changes (the image is never written).
    type: bool
    default: false
  state:
    description:
      - C(present) creates or grows the volume.
      - C(absent) deletes it, and is refused while a defined guest has a disk on it or another volume uses it as
        its backing store.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
seealso:
  - module: virtops.compute.storage_pool
'''

EXAMPLES = r'''
- name: An empty 10 GiB data disk
  virtops.compute.volume:
    pool: data
    name: db1-data.qcow2
    size_gb: 10

- name: A root disk that is an overlay on a base image
  virtops.compute.volume:
    pool: data
    name: web1-root.qcow2
    from_image: /var/lib/libvirt/images/debian-12.qcow2
    backing: true
    size_gb: 20

- name: A root disk rebuilt as an overlay on a recorded base image, its format stated rather than probed
  virtops.compute.volume:
    pool: instances
    name: web1-root.qcow2
    from_image: /srv/images/debian-12.qcow2
    from_image_format: qcow2
    backing: true

- name: A full raw copy of an image (libvirt converts it when a pool holds the image)
  virtops.compute.volume:
    pool: data
    name: web2-root.img
    from_image: /var/lib/libvirt/images/debian-12.qcow2
    format: raw

- name: Removed
  virtops.compute.volume:
    pool: data
    name: db1-data.qcow2
    state: absent
'''

RETURN = r'''
volume:
  description: The volume after the run (what it would be, in check mode); null when it is absent.
  returned: always
  type: dict
  contains:
    name:
      description: The volume's name.
      type: str
    pool:
      description: The pool holding it.
      type: str
    path:
      description: Its path on the compute host.
      type: str
    format:
      description: C(qcow2) or C(raw).
      type: str
    capacity_bytes:
      description: Its size as guests see it.
      type: int
    allocation_bytes:
      description: The space it takes on the host; null in check mode for a volume about to be made.
      type: int
    backing:
      description: The path of its backing store, null when it has none.
      type: str
changes:
  description: Names of the properties that changed (or would change), among C(state), C(format), C(capacity_bytes) and C(backing).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.storage.volumes import VOLUME_OPTIONS, VolumeConverger


def main():
    module = VirtopsModule(argument_spec=VOLUME_OPTIONS, supports_check_mode=True)
    module.run(lambda module: VolumeConverger(module).run())


if __name__ == '__main__':
    main()
