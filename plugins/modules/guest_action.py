#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: guest_action
short_description: One-shot actions on a running libvirt guest
version_added: 0.1.0
description:
  - Reboots a guest, injects an NMI to make its kernel take a crash dump, sets a user's password through the
    qemu-guest-agent, or rebuilds the guest from another image.
  - These are actions, not states, so every run that performs one reports C(changed=true).
  - C(reboot), C(rebuild) and C(cold_move) take their turn with other runs that change the same guest on the same
    host, as M(virtops.compute.guest) does. Such a run waits up to 900 seconds for the one before it, then fails in
    one sentence without touching the guest. Check mode and the other actions do not wait.
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The guest's name.
    type: str
    required: true
  action:
    description:
      - C(reboot) restarts the guest (see O(reboot_type)).
      - C(trigger_crash_dump) injects a non-maskable interrupt; a guest kernel set up for it (kdump, or
        C(kernel.unknown_nmi_panic)) dumps its memory, others log the NMI.
      - C(set_password) sets O(user)'s password through the guest agent, which the guest must run
        (M(virtops.compute.guest) O(virtops.compute.guest#module:guest_agent=true)). Before the first boot use the
        config drive's C(admin_pass) or C(disk_inject) instead.
      - C(rebuild) recreates the guest's root disk from O(image), keeping its name, UUID, MACs, attached volumes
        and config drive, and brings it back in the power state it had (a suspended guest's saved memory is
        dropped, as it belonged to the old disk). The old root disk's data is gone.
      - A rebuild regenerates the guest's config drive (made by M(virtops.compute.config_drive)) while the guest is
        off, as Nova does, so that cloud-init on the new root disk sees fresh instance data; uuid, name, hostname,
        public keys, network and vendor data are kept, the random seed is new, and O(user_data), O(admin_pass),
        O(files) and O(meta) replace the old ones when given. The file is replaced whole (a temporary file renamed
        over it, mode 0600, same owner). A config drive not made by virtops.compute is refused before anything
        changes.
      - C(cold_move) moves the guest to the host at O(dest_uri) with the guest off (a running guest is shut down
        first), for a resize that the source host has no room for; its root disk is copied through libvirt's storage
        streams (the base image must be at the same path there), it is defined there with the same UUID and MACs,
        started if it was running, and removed from this host. Change its flavor with M(virtops.compute.guest) on
        the new host. A guest already on O(dest_uri) and not here is no change.
      - C(migration_abort) cancels the live migration of the guest that another task (M(virtops.compute.migrate)
        under C(async)) runs from this host; the guest keeps running here.
      - C(migration_force_complete) makes that migration finish now, switching it to post-copy when it was started
        with O(virtops.compute.migrate#module:post_copy=true), else pausing the guest so the last copy completes (the
        C(migrate) task resumes it on the destination).
      - Both fail when no migration of the guest is running from this host.
      - C(resize) is the old name of C(cold_move), deprecated; it goes in version 1.0.0.
    type: str
    required: true
    choices: [reboot, trigger_crash_dump, set_password, rebuild, cold_move, resize, migration_abort,
              migration_force_complete]
  reboot_type:
    description:
      - C(soft) asks the guest to reboot (through the agent when there is one, else ACPI) and resets it when it has
        not rebooted within O(reboot_timeout) seconds; C(hard) resets it at once, like a reset button.
      - A guest that ignores ACPI (no ACPI daemon, no agent) makes a soft reboot wait the whole O(reboot_timeout);
        RV(how) and RV(waited_seconds) say so, and the module's log has a progress line every 10 seconds.
    type: str
    choices: [soft, hard]
    default: soft
  reboot_timeout:
    description: Seconds a soft reboot may take before the guest is reset.
    type: int
    default: 120
  agent_timeout:
    description:
      - Seconds O(action=set_password) waits for the guest agent to answer before it fails. libvirt would
        otherwise wait without limit for a hung agent.
    type: int
    default: 30
  user:
    description: The account whose password O(action=set_password) sets.
    type: str
    default: root
  password:
    description: The new password for O(action=set_password), which needs it.
    type: str
  image:
    description: The base image (qcow2 or raw, on the host) for O(action=rebuild), which needs it.
    type: path
  dest_uri:
    description: The libvirt URI of the host O(action=cold_move) moves the guest to, which it needs.
    type: str
  user_data:
    description: New user data for the config drive that O(action=rebuild) regenerates (kept when omitted).
    type: str
  admin_pass:
    description: New C(admin_pass) for the regenerated config drive of O(action=rebuild) (kept when omitted).
    type: str
  files:
    description: Files to inject through the regenerated config drive of O(action=rebuild), replacing the old list.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path in the guest.
        type: str
        required: true
      content:
        description: The file's content.
        type: str
        required: true
  meta:
    description: New C(meta) key/value pairs for the regenerated config drive of O(action=rebuild), replacing the old ones.
    type: dict
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
attributes:
  check_mode:
    support: full
    description: A check run reports that the action would be performed and performs nothing.
  diff_mode:
    support: none
    description: Actions change no definition, so there is nothing to show.
seealso:
  - module: virtops.compute.guest
'''

EXAMPLES = r'''
- name: Reboot, asking the guest first
  virtops.compute.guest_action:
    name: web1
    action: reboot

- name: Make the guest kernel take a crash dump
  virtops.compute.guest_action:
    name: web1
    action: trigger_crash_dump

- name: Set the administrator password through the guest agent
  virtops.compute.guest_action:
    name: web1
    action: set_password
    user: root
    password: "{{ vault_root_password }}"

- name: Rebuild from a new image, with new user data on the regenerated config drive
  virtops.compute.guest_action:
    name: web1
    action: rebuild
    image: /var/lib/images/debian-12-v2.qcow2
    user_data: |
      #cloud-config
      runcmd:
        - echo rebuilt > /etc/motd

- name: Move a guest to another host while it is off, for a flavor this host has no room for
  virtops.compute.guest_action:
    name: web1
    action: cold_move
    dest_uri: qemu+ssh://root@compute2.example.com/system
'''

RETURN = r'''
reboot_type:
  description: The reboot type used.
  returned: when O(action=reboot)
  type: str
waited_seconds:
  description: How long a reboot waited for the guest before it ended (0 for a hard reboot).
  returned: when O(action=reboot) outside check mode
  type: float
how:
  description: A sentence saying how a reboot ended and why, for example that the guest ignored the ACPI request.
  returned: when O(action=reboot) outside check mode
  type: str
  sample: "reset: the guest ignored the ACPI reboot request for reboot_timeout (120 s)"
method:
  description:
    - How the reboot happened, C(guest) (the guest rebooted itself) or C(reset).
    - For O(action=migration_force_complete), how the migration was made to finish, C(post-copy) or C(paused).
  returned: when O(action=reboot) or O(action=migration_force_complete) outside check mode
  type: str
user:
  description: The account whose password was set.
  returned: when O(action=set_password)
  type: str
image:
  description: The image the guest was rebuilt from.
  returned: when O(action=rebuild)
  type: str
previous_image:
  description: The image its root disk came from before.
  returned: when O(action=rebuild)
  type: str
dest_uri:
  description: Where O(action=cold_move) moved the guest.
  returned: when O(action=cold_move)
  type: str
config_drive:
  description:
    - The config drive a rebuild regenerated, C(path), C(format) and C(changed_files) (paths inside the drive whose
      content changed; in check mode, that would change).
  returned: when O(action=rebuild) and the guest has a config drive
  type: dict
  sample: {path: /var/lib/libvirt/images/web1-config.iso, format: iso9660, changed_files: [openstack/latest/meta_data.json]}
power_state:
  description: The power state the guest had, and is back in, around a rebuild or a move.
  returned: when O(action=rebuild) or O(action=cold_move)
  type: str
actions:
  description: What a rebuild or a move did.
  returned: when O(action=rebuild) or O(action=cold_move) outside check mode
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.guest import actions as guest_actions


def main():
    guest_actions.register_event_loop()
    module = VirtopsModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            action=dict(type='str', required=True, choices=['reboot', 'trigger_crash_dump', 'set_password', 'rebuild', 'cold_move',
                                                            'resize', 'migration_abort', 'migration_force_complete']),
            reboot_type=dict(type='str', default='soft', choices=['soft', 'hard']),
            reboot_timeout=dict(type='int', default=120),
            agent_timeout=dict(type='int', default=30),
            user=dict(type='str', default='root'),
            password=dict(type='str', no_log=True),
            image=dict(type='path'),
            dest_uri=dict(type='str'),
            user_data=dict(type='str', no_log=True),
            admin_pass=dict(type='str', no_log=True),
            files=dict(type='list', elements='dict', options=dict(
                path=dict(type='str', required=True),
                content=dict(type='str', required=True, no_log=True),
            )),
            meta=dict(type='dict'),
        ),
        # what each action needs; resize is cold_move's deprecated name
        required_if=[('action', 'set_password', ('password',)), ('action', 'rebuild', ('image',)),
                     ('action', 'cold_move', ('dest_uri',)), ('action', 'resize', ('dest_uri',))],
        supports_check_mode=True,
    )
    module.run(guest_actions.run)


if __name__ == '__main__':
    main()
