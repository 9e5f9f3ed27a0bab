#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: migrate
short_description: Live-migrate a running guest to another libvirt host
version_added: 0.1.0
description:
  - Moves the running guest O(guest) from the host at O(uri) (the source) to the
    host at O(dest_uri), live by default, peer to peer (the source's libvirtd talks to the destination itself). The
    guest is defined on the destination and removed from the source.
  - Without O(copy_storage) the disks must be on storage both hosts see. With O(copy_storage=all) or
    O(copy_storage=incremental) QEMU copies the writable local file and block disks while the guest runs; disks on
    network sources (iSCSI, NBD, Ceph) are never copied, the destination opens them itself. A copied file disk is
    created on the destination by libvirt, which needs a storage pool there for its directory.
  - When pre-copy cannot keep up with a guest that dirties memory fast, O(auto_converge) slows the guest's vCPUs down
    until it does, O(post_copy) switches to post-copy (the guest runs on the destination and fetches the rest on
    demand), and O(on_timeout=force_complete) pauses the guest at O(timeout) so the last copy finishes.
  - Progress is logged on the host running the module while the migration runs (every 10% or 5 seconds), so a
    long migration is fit for C(async); M(virtops.compute.guest_action) O(virtops.compute.guest_action#module:action)
    C(migration_abort) or C(migration_force_complete) act on it from another task.
  - A guest already on the destination and not on the source is no change. A failed or aborted migration leaves the
    guest running on the source; after a failure the module looks for the guest on both hosts and its message says
    where it is.
  - Check mode connects to both hosts and checks everything a migration would (the destination answers and is
    another host, the devices can move, the disks are shared or can be copied) without moving anything.
author:
  - virtops.compute contributors (@virtops)
options:
  guest:
    description: The guest's name.
    type: str
    required: true
  dest_uri:
    description:
      - The libvirt URI of the destination host, as the source host's libvirtd reaches it (peer to peer), for example
        C(qemu+ssh://compute2/system) or C(qemu+tcp://compute2/system). Its host UUID must differ from the source's.
    type: str
    required: true
  migration_uri:
    description:
      - Where QEMU on the source sends the guest's memory and disks (libvirt's C(migrate_uri) parameter), for example
        C(tcp://192.0.2.20) or C(tcp://192.0.2.20:49152). The destination listens on that address.
      - Needed when the destination's host name does not resolve, on the source, to the address the migration
        traffic should use (a separate migration network, or several libvirt hosts on one machine). By default
        libvirt uses the destination's host name.
    type: str
  live:
    description: Keep the guest running while its memory is copied; V(false) pauses it for the whole copy.
    type: bool
    default: true
  copy_storage:
    description:
      - V(none) expects every disk on storage both hosts see (shared storage or network disks).
      - V(all) copies the writable local disks whole; V(incremental) copies only their top layer, for disks whose
        backing images already exist at the same paths on the destination.
    type: str
    choices: [none, all, incremental]
    default: none
  allow_unsafe:
    description:
      - Migrate even though libvirt cannot prove that the disks left in place are safe to share.
      - A writable local disk left in place must be opened with cache C(none) or C(directsync), as the source's page
        cache could otherwise hold writes the destination never sees; the module checks this before migrating.
      - libvirt also refuses disks on a file system it does not know to be shared (it knows NFS, GFS2, OCFS2, CephFS
        and the like), such as a local directory both hosts see; the module's message then names this option.
      - Set V(true) only when both hosts really see the same, coherent disk files.
    type: bool
    default: false
  tls:
    description:
      - Encrypt the migration stream (memory and copied disks) with TLS between the two QEMU processes (libvirt's
        C(VIR_MIGRATE_TLS)).
      - Both hosts need X.509 certificates for QEMU (C(migrate_tls_x509_cert_dir) in C(qemu.conf), by default
        C(/etc/pki/qemu)); the migration fails before anything moves when they are missing or do not match.
      - This protects the data QEMU sends; the libvirt connection to the destination is protected by a
        C(qemu+tls://) or C(qemu+ssh://) O(dest_uri).
    type: bool
    default: false
  bandwidth_mib:
    description: Limit for the migration traffic, in MiB/s. Unlimited when omitted.
    type: int
  max_downtime_ms:
    description: The longest pause, in milliseconds, QEMU may take at the switch-over; larger values let busy guests finish.
    type: int
  auto_converge:
    description: Throttle the guest's vCPUs when pre-copy does not converge.
    type: bool
    default: false
  auto_converge_initial:
    description: With O(auto_converge), the share of vCPU time, in percent, taken from the guest at the first throttle (QEMU's default is 20).
    type: int
  auto_converge_increment:
    description: With O(auto_converge), how many percent more each further throttle takes (QEMU's default is 10).
    type: int
  post_copy:
    description:
      - Allow post-copy and switch to it when pre-copy does not converge (an iteration leaves as much memory to send
        as the one before), or after O(post_copy_after_seconds).
      - The destination's kernel must let QEMU use userfaultfd (C(sysctl vm.unprivileged_userfaultfd=1)). Should the
        network fail during post-copy, the guest is lost, as its memory is split between the hosts.
    type: bool
    default: false
  post_copy_after_seconds:
    description: Switch to post-copy this many seconds after the start instead of waiting for pre-copy to stall.
    type: int
  timeout:
    description: Seconds the migration may run before O(on_timeout) applies.
    type: int
    default: 3600
  on_timeout:
    description:
      - V(abort) cancels the migration; the guest keeps running on the source and the task fails.
      - V(force_complete) switches to post-copy when O(post_copy) allows it, else pauses the guest so the last copy
        finishes; the guest is resumed on the destination.
    type: str
    choices: [abort, force_complete]
    default: abort
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
attributes:
  check_mode:
    support: full
    description: A check run connects to both hosts, checks everything the migration needs and moves nothing.
  diff_mode:
    support: none
    description: A migration changes where the guest runs, not its definition, so there is nothing to show.
notes:
  - Check mode cannot foresee libvirt's own refusal of disks on a file system it does not know to be shared (see
    O(allow_unsafe)); that refusal comes before anything moves.
  - Devices tied to the source host (host devices, passed-through directories, shared memory, host smartcards, USB
    redirection) make a guest unmigratable; the module refuses before starting.
seealso:
  - module: virtops.compute.guest_action
  - module: virtops.compute.storage_pool
'''

EXAMPLES = r'''
- name: Move web1 to compute2 over the migration network, storage shared
  virtops.compute.migrate:
    guest: web1
    dest_uri: qemu+ssh://compute2/system
    migration_uri: tcp://10.0.8.2

- name: Move a busy guest with local disks, capped, post-copy if it does not converge
  virtops.compute.migrate:
    guest: db1
    dest_uri: qemu+ssh://compute3/system
    copy_storage: all
    bandwidth_mib: 200
    post_copy: true
    timeout: 900
    on_timeout: force_complete
  async: 1800
  poll: 0
  register: move

- name: Move web2 with the libvirt connection and the migration stream both under TLS
  virtops.compute.migrate:
    guest: web2
    dest_uri: qemu+tls://compute2.example.com/system
    tls: true

- name: Give up on it from another task
  virtops.compute.guest_action:
    name: db1
    action: migration_abort
'''

RETURN = r'''
migration:
  description:
    - How the migration went; in check mode only C(flags) and C(copied_disks).
    - C(mode_used) is C(pre-copy), C(auto-converge) (the vCPUs were throttled), C(post-copy) or C(paused) (the guest was
      paused so that the last copy finished). C(data_transferred_bytes) counts memory and disks.
    - C(auto_converge_throttle_percent) is the highest share of vCPU time auto-converge took from the guest while
      the migration ran (null when it never throttled).
  returned: when the guest was (or would be) migrated
  type: dict
  sample: {duration_seconds: 14.2, downtime_ms: 48, data_transferred_bytes: 297795584, memory_transferred_bytes: 264241152,
           disk_transferred_bytes: 33554432, mode_used: pre-copy, iterations: 3, dirty_rate_pages_per_second: 0,
           auto_converge_throttle_percent: null, postcopy_requests: null,
           flags: [live, peer2peer, persist_dest, undefine_source, abort_on_error], copied_disks: []}
dest_uri:
  description: The destination host.
  returned: always
  type: str
state:
  description: The guest's state on the destination.
  returned: when the guest is on the destination
  type: str
actions:
  description: What the module did, ending with a summary.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.migration.live_job import Migration


def main():
    module = VirtopsModule(
        argument_spec=dict(
            guest=dict(type='str', required=True),
            dest_uri=dict(type='str', required=True),
            migration_uri=dict(type='str'),
            live=dict(type='bool', default=True),
            copy_storage=dict(type='str', default='none', choices=['none', 'all', 'incremental']),
            allow_unsafe=dict(type='bool', default=False),
            tls=dict(type='bool', default=False),
            bandwidth_mib=dict(type='int'),
            max_downtime_ms=dict(type='int'),
            auto_converge=dict(type='bool', default=False),
            auto_converge_initial=dict(type='int'),
            auto_converge_increment=dict(type='int'),
            post_copy=dict(type='bool', default=False),
            post_copy_after_seconds=dict(type='int'),
            timeout=dict(type='int', default=3600),
            on_timeout=dict(type='str', default='abort', choices=['abort', 'force_complete']),
        ),
        supports_check_mode=True,
    )
    module.run(lambda module: Migration(module).run())


if __name__ == '__main__':
    main()
