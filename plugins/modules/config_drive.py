#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: config_drive
short_description: A config drive image (OpenStack metadata, volume label config-2) for a guest's first boot
version_added: 0.2.0
description:
  - Writes a config drive image that cloud-init's ConfigDrive datasource (and cloudbase-init and other
    OpenStack-aware guests) reads at boot, the way Nova lays it out; volume label C(config-2);
    C(openstack/<version>/) for each dated metadata version (2012-08-10 to 2018-08-27) and C(latest), each with
    C(meta_data.json) (uuid, name, hostname, public_keys, keys, admin_pass, meta, files, launch_index,
    availability_zone, random_seed from 2013-04-04, devices from 2016-06-30) and C(user_data);
    C(vendor_data.json) from 2013-10-17, C(network_data.json) from 2015-10-15, C(vendor_data2.json) from
    2016-10-06; injected files under C(openstack/content/) (named by C(content_path) in C(meta_data.json)); and
    C(ec2/2009-04-04/meta-data.json) and C(ec2/latest/).
  - Both formats are written in Python on the host, without external tools; C(iso9660) with Joliet and Rock Ridge
    through the pycdlib library, C(vfat) as a FAT16 file system with long names.
  - Reproducible; every date in the image is one constant and entries are sorted, so the same options give the
    same bytes and a second run reports no change. A change of any option rewrites the whole image, through a
    temporary file in the same directory that is then renamed over O(dest), so a guest never sees half a drive.
  - The image is a file on the compute host; the module writes it where it runs, so run it on the compute host
    (delegate it there when the play runs elsewhere); O(uri) is not used for O(dest). With O(pool), the image goes
    through libvirt's storage API instead (a volume upload stream), which works against a remote O(uri).
  - Attach it with the O(virtops.compute.guest#module:config_drive) option of M(virtops.compute.guest); cloud-init
    reads it on the guest's first boot (a new O(uuid) counts as a new first boot).
  - To set the admin password, use O(admin_pass) for the first boot, M(virtops.compute.disk_inject) for an image
    before it boots, and M(virtops.compute.guest_action) C(set_password) for a running guest with an agent.
author:
  - virtops.compute contributors (@virtops)
options:
  dest:
    description:
      - Path of the image file on the host that runs the module. Its directory must exist. Written with mode 0600.
      - An existing file there is replaced only when it is a config drive this module wrote (see O(force)); a
        symbolic link, a device or a directory is refused.
      - Required unless O(pool) is given.
    type: path
  pool:
    description:
      - Instead of O(dest), keep the image as the volume O(volume) of this active libvirt storage pool, uploaded
        through a libvirt stream (so it works against a remote O(uri) too). The volume is recreated when its size
        changes.
    type: str
  volume:
    description: The volume name in O(pool); required with O(pool).
    type: str
  format:
    description: C(iso9660) (read by every OpenStack-aware guest; attached as a CD-ROM) or C(vfat) (a FAT16 disk).
    type: str
    choices: [iso9660, vfat]
    default: iso9660
  uuid:
    description:
      - The instance UUID the guest sees (cloud-init's instance id; a new one makes cloud-init run first-boot
        modules again). Pass the guest's libvirt UUID when known.
      - Omitted, a UUID derived from O(name) (or O(hostname)), the same on every run.
    type: str
  name:
    description: The guest's name in the metadata; O(hostname) when omitted. One of O(name), O(hostname), O(uuid) is needed.
    type: str
  hostname:
    description: The host name the guest sets; O(name) when omitted.
    type: str
  public_keys:
    description: SSH public keys by key name; cloud-init puts them in the default user's authorized_keys.
    type: dict
  admin_pass:
    description:
      - The admin password. C(admin_pass) in C(meta_data.json), which cloudbase-init and other agents read; and,
        for cloud-init, which does not, a cloud-config in C(vendor_data2.json) (key C(cloud-init)) that sets root's
        password to a SHA-512 hash of it (cloud-init 22.3 or later; user data can turn vendor data off).
      - Never shown in results or diffs.
    type: str
  meta:
    description: Free-form key/value metadata (C(meta) in C(meta_data.json)); values become strings.
    type: dict
  user_data:
    description:
      - User data (a cloud-config document, a shell script, a MIME multipart); at most 65536 bytes.
      - Kept out of logs and results like a password (no_log), since it often holds credentials; Ansible then masks
        the same text wherever else it shows up in the task's output.
    type: str
  vendor_data:
    description: Static vendor data (C(vendor_data.json), and under C(static) in C(vendor_data2.json)).
    type: dict
  network_data:
    description:
      - C(network_data.json) in OpenStack's schema; C(links) (C(id), C(type), C(ethernet_mac_address), C(mtu),
        C(vlan_link), C(vlan_id), C(bond_links)), C(networks) (C(id), C(link) naming a link, C(type) C(ipv4),
        C(ipv6), C(ipv4_dhcp), C(ipv6_dhcp), C(ipv6_slaac), C(ipv6_dhcpv6-stateful), C(ipv6_dhcpv6-stateless);
        static ones with C(ip_address), C(netmask) and C(routes) of C(network), C(netmask), C(gateway)), and
        C(services) (C(type=dns), C(address)). It is checked; an unknown link or a bad address is refused.
      - Mutually exclusive with O(network_data_from_nics).
    type: dict
  network_data_from_nics:
    description:
      - A short way to write O(network_data), one entry per guest NIC.
    type: list
    elements: dict
    suboptions:
      mac:
        description: The NIC's MAC address (as in the guest module's C(nics)).
        type: str
        required: true
      address:
        description: A static address with its prefix length (C(10.0.0.5/24)); DHCP when omitted.
        type: str
      gateway:
        description: The default gateway through this NIC.
        type: str
      dns:
        description: DNS servers.
        type: list
        elements: str
      mtu:
        description: The link MTU.
        type: int
  files:
    description: Files the guest writes at first boot (C(files) in C(meta_data.json), contents under C(openstack/content/)).
    type: list
    elements: dict
    suboptions:
      path:
        description: The absolute path in the guest.
        type: str
        required: true
      content:
        description:
          - The file's text.
          - Kept out of logs and results like a password (no_log), since it often holds credentials; Ansible then
            masks the same text wherever else it shows up in the task's output.
        type: str
        required: true
  availability_zone:
    description: The availability zone the guest is told.
    type: str
    default: nova
  launch_index:
    description: The launch index among guests started together.
    type: int
    default: 0
  random_seed:
    description:
      - Base64 text given to the guest as C(random_seed) (2013-04-04 and later). A fresh seed on each run would
        rewrite the drive every time, so generate one once and keep it. Never shown in results or diffs.
    type: str
  force:
    description:
      - Replace (or, with O(state=absent), remove) what is at O(dest) or in O(volume) even when it is not a config
        drive this module wrote.
      - By default such a file or volume (an ISO, a disk image, any other file that happens to be there) is left as
        it is and the task fails, so a wrong path never destroys data.
    type: bool
    default: false
  state:
    description: C(present) writes the image, C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
requirements:
  - pycdlib on the host that runs the module, for C(iso9660)
notes:
  - The image is written whole on every change; a running guest keeps reading the image it was started with.
  - A file (or volume) at the destination that is not a config drive this module made, an ISO or a disk image for
    example, is neither overwritten nor removed; the module fails saying so.
seealso:
  - module: virtops.compute.guest
  - module: virtops.compute.disk_inject
'''

EXAMPLES = r'''
- name: A config drive for web1 with a key, a first-boot script, a static address and a file
  virtops.compute.config_drive:
    dest: /var/lib/libvirt/images/web1-config.iso
    name: web1
    hostname: web1.example.org
    public_keys:
      ops: "{{ lookup('file', 'ops.pub') }}"
    user_data: |
      #cloud-config
      packages: [nginx]
    network_data_from_nics:
      - mac: "52:54:00:00:00:01"
        address: 192.0.2.10/24
        gateway: 192.0.2.1
        dns: [192.0.2.1]
    files:
      - path: /etc/motd
        content: "managed by virtops\n"

- name: Boot web1 with it
  virtops.compute.guest:
    name: web1
    image: /var/lib/libvirt/images/debian-12.qcow2
    config_drive: /var/lib/libvirt/images/web1-config.iso
    nics:
      - network: default
        mac: "52:54:00:00:00:01"

- name: The same drive as vfat, in a storage pool (works with a remote uri)
  virtops.compute.config_drive:
    uri: qemu+ssh://root@compute1/system
    pool: default
    volume: web1-config.img
    format: vfat
    name: web1
'''

RETURN = r'''
config_drive:
  description: The image after the run (what it would be, in check mode); null once it is absent.
  returned: always
  type: dict
  sample: {dest: /var/lib/libvirt/images/web1-config.iso, format: iso9660, size_bytes: 202752,
           sha256: 5d1c..., uuid: 0e0e8f1a-..., name: web1, hostname: web1.example.org}
metadata:
  description:
    - What the drive holds; C(meta_data) (C(openstack/latest/meta_data.json) with C(admin_pass) and
      C(random_seed) redacted), C(network_data), C(vendor_data), C(user_data_bytes), C(files) (guest paths)
      and C(paths) (every file on the drive).
  returned: when state is present
  type: dict
changes:
  description: What changed (C(created), C(content), C(mode), C(removed)).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import converge
from ansible_collections.virtops.compute.plugins.module_utils.config_drive.options import DRIVE_CONTENT_OPTIONS


def main():
    module = VirtopsModule(
        argument_spec=dict(
            DRIVE_CONTENT_OPTIONS,
            dest=dict(type='path'),
            pool=dict(type='str'),
            volume=dict(type='str'),
            force=dict(type='bool', default=False),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        # network_data against network_data_from_nics is checked in config_drive_layout, in one sentence
        mutually_exclusive=[('dest', 'pool')],
        required_one_of=[('dest', 'pool')],
        required_together=[('pool', 'volume')],
        supports_check_mode=True,
    )
    module.run(converge.run)


if __name__ == '__main__':
    main()
