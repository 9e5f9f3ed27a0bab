#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: disk_inject
short_description: Files, SSH keys, an admin password and a network configuration inside an offline disk image
version_added: 0.1.0
description:
  - Edits a guest disk image (qcow2 or raw) on the compute host through libguestfs, before the guest boots from it.
  - Reads every file first and writes only what differs, so a second identical run reports no change and leaves
    the image's bytes as they were.
  - "Which way to set an admin password: this module for an image that has not booted yet (no guest agent or
    cloud-init needed); M(virtops.compute.config_drive) C(admin_pass) for a first boot through cloud-init;
    M(virtops.compute.guest_action) C(action=set_password) for a running guest with a guest agent."
  - The image must not be in use by a running or paused guest (also not as the backing file of one); the module
    looks through libvirt's running guests and refuses.
  - libguestfs opens the image file itself, so the module works only on the compute host
    (O(uri) a local C(qemu:///system)); with a remote O(uri) it fails. Run the task on the compute host instead.
  - Each run starts the libguestfs appliance once, which takes 10-30 seconds without KVM.
  - An appliance that makes no progress (no CPU time, no disk I/O) for 5 minutes while the module waits on it is
    stopped, and the run starts once more on a fresh appliance (it reads before it writes); a second stall fails
    the task in one sentence.
author:
  - virtops.compute contributors (@virtops)
options:
  image:
    description: Path of the disk image on the compute host.
    type: path
    required: true
  format:
    description:
      - The image's format. When guests on the host use the image as a disk, the format their definitions declare
        is used, and a different O(format) is refused; a guest writes every byte of its disk, so what the image's
        first bytes claim is never believed for it.
      - Omitted for an image no guest uses, the image's own header decides (a user's base image), and a qcow2
        header is then believed only when its backing chain stays in the host's active storage pools. Give it for
        an image whose content a guest has written (a detached volume, a raw snapshot), or to vouch for an
        overlay whose base image lies outside the pools.
      - Every layer of a backing chain must name its backing file's format; none is guessed from content.
    type: str
    choices: [raw, qcow2]
  files:
    description: Files the image should hold, replaced when their content, mode or owner differ.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path inside the image. Missing parent directories are created (mode C(0755), root).
        type: str
        required: true
      content:
        description:
          - The file's text.
          - Kept out of logs and results like a password (no_log), since it often holds credentials; Ansible then
            masks the same text wherever else it shows up in the task's output.
        type: str
        required: true
      mode:
        description: Octal mode as a quoted string, for example C('0600').
        type: raw
        default: '0644'
      owner:
        description: C(user), C(user:group) or numeric ids, looked up in the image's own /etc/passwd and /etc/group.
        type: str
        default: root
  ssh_keys:
    description:
      - Public keys appended to the user's C(~/.ssh/authorized_keys) (home from the image's /etc/passwd) unless the
        same key is there already; C(~/.ssh) is created with mode C(0700), the file has mode C(0600), both owned
        by the user.
    type: list
    elements: dict
    default: []
    suboptions:
      user:
        description: The account in the image.
        type: str
        default: root
      key:
        description: One OpenSSH public key line (several lines give several keys).
        type: str
        required: true
  admin_password:
    description:
      - Password of O(admin_user), stored as a SHA-512 crypt hash in the image's /etc/shadow. Unchanged when the
        current hash already matches it. Never returned or shown in diffs.
    type: str
  admin_user:
    description: The account O(admin_password) is for.
    type: str
    default: root
  network:
    description:
      - Network configuration for Debian-family guests, written to C(/etc/network/interfaces.d/virtops) (with a
        C(source) line added to C(/etc/network/interfaces) when it has none) when the image has
        C(/etc/network), and to C(/etc/netplan/90-virtops.yaml) when it has C(/etc/netplan).
      - When the image has cloud-init, C(/etc/cloud/cloud.cfg.d/99-virtops-network.cfg) turns cloud-init's network
        configuration off, so that it does not replace this one with DHCP on first boot.
      - On ifupdown images without resolvconf, DNS servers also go to C(/etc/resolv.conf).
    type: dict
    suboptions:
      interfaces:
        description: The interfaces, by their name in the guest (for example C(ens3) for a virtio NIC in PCI slot 3).
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Interface name inside the guest.
            type: str
            required: true
          dhcp:
            description: Use DHCP; the default when O(network.interfaces[].address) is omitted.
            type: bool
          address:
            description: Static address in CIDR form, IPv4 or IPv6, for example C(192.0.2.10/24).
            type: str
          gateway:
            description: Default gateway.
            type: str
          dns:
            description: DNS server addresses.
            type: list
            elements: str
            default: []
          mtu:
            description: MTU.
            type: int
  diff_content:
    description:
      - In diff mode, show each changed file's text before and after. Off by default, the diff names each file's
        size and digest instead, since files often hold credentials and the text before is the image's own.
      - The password hashes of C(/etc/shadow) are never shown.
    type: bool
    default: false
  libguestfs_tcg:
    description:
      - Make libguestfs's appliance run under TCG instead of KVM. C(auto) uses TCG unless C(/dev/kvm) has been
        seen to run guests (a 10-second probe, done once per host boot and remembered in
        C(/run/virtops/kvm-usable.json)); C(true) or C(false) decide without a probe.
    type: raw
    default: auto
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
requirements:
  - libguestfs and its Python bindings on the compute host (Debian C(libguestfs-tools) and C(python3-guestfs))
notes:
  - libguestfs runs with its C(direct) backend.
seealso:
  - module: virtops.compute.config_drive
  - module: virtops.compute.guest_action
'''

EXAMPLES = r'''
- name: Prepare a guest's root disk before its first boot
  virtops.compute.disk_inject:
    image: /var/lib/libvirt/images/web1-root.qcow2
    files:
      - path: /etc/motd
        content: "web1, managed by Ansible\n"
      - path: /opt/app/config.ini
        content: "{{ lookup('template', 'config.ini.j2') }}"
        mode: '0640'
        owner: www-data:www-data
    ssh_keys:
      - user: root
        key: "{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"
    admin_password: "{{ vault_web1_root_password }}"
    network:
      interfaces:
        - name: ens3
          address: 192.0.2.10/24
          gateway: 192.0.2.1
          dns: [192.0.2.53]
'''

RETURN = r'''
image:
  description: The image's path.
  returned: always
  type: str
format:
  description: The format the image was opened with (see O(format)).
  returned: when the image was opened
  type: str
  sample: qcow2
changes:
  description: The files that differ (or would, in check mode), with C(created), C(content), C(mode), C(owner).
  returned: always
  type: list
  elements: dict
  sample: [{path: /root/.ssh/authorized_keys, kind: ssh_keys, changes: [created]},
           {path: /etc/shadow, kind: admin_password, changes: [content]}]
os:
  description: The image's root file system device and its /etc/os-release C(id), C(version_id), C(pretty_name).
  returned: when the image was opened
  type: dict
  sample: {root: /dev/sda, id: debian, version_id: '12', pretty_name: Debian GNU/Linux 12 (bookworm)}
libguestfs:
  description: Whether the appliance ran under TCG and how many seconds it took to start.
  returned: when the image was opened
  type: dict
  sample: {tcg: true, launch_seconds: 14.2}
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import inject as image_inject


def main():
    module = VirtopsModule(argument_spec=image_inject.DISK_INJECT_OPTIONS, supports_check_mode=True)
    module.run(image_inject.run)


if __name__ == '__main__':
    main()
