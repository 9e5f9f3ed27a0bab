#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: host_info
short_description: Facts about a libvirt/QEMU compute host
version_added: 0.1.0
description:
  - Reports a compute host's name, uptime, address, hypervisor and libvirt versions, CPU, memory, guest counts,
    service state and the virt types it offers.
  - Libvirt lists every virt type QEMU was built for, including C(kvm) on hosts where KVM cannot run guests.
    So the module boots a 512-byte probe guest for each listed type and reports as usable only the types
    under which the probe reached 64-bit long mode and printed its marker on the serial console.
  - Some broken KVM set-ups run those 512 bytes yet hang a Linux kernel. So when the machine the module runs on
    has a Linux kernel in C(/boot) (x86_64), each type that passed also boots that kernel without a root file
    system, and counts only when the kernel prints its start-up's end (its C(Kernel panic - not syncing) line);
    that stage waits up to twice O(probe_timeout) (20 to 90 seconds). RV(host.virt_types.probe) says what
    was checked for each type.
  - The probe is there to find the fastest type that works. Once emulation (C(qemu)) got through a stage, an
    accelerator such as C(kvm) that has not got through it in twice that time (and at least 8 seconds) is reported
    as not usable then, instead of being waited on until the stage's time-out.
  - The probe creates a temporary storage pool and volumes for the boot sector and the kernel and transient
    domains, all named C(virtops-probe-*), and removes them before it returns, whether the probe worked or not.
author:
  - virtops.compute contributors (@virtops)
options:
  probe:
    description:
      - Whether to boot the probe guest to find the usable virt types.
      - When C(false), RV(host.virt_types.usable) is null and nothing is created on the host.
    type: bool
    default: true
  probe_timeout:
    description:
      - Seconds to wait for each probe guest to print its marker before the virt type counts as unusable.
    type: int
    default: 10
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes.info_module
notes:
  - The uptime, the host address and the service state are read from the machine itself when the URI is local.
    Against a remote URI the uptime is estimated from the host's cumulative CPU times (RV(host.uptime_source)
    says which), the address is the one the URI names, and the service state is not reported.
seealso:
  - module: virtops.compute.guest_info
'''

EXAMPLES = r'''
- name: Read the compute host's facts
  virtops.compute.host_info:
  register: compute

- name: Refuse to go on where guests could only be emulated
  ansible.builtin.assert:
    that: "'kvm' in compute.host.virt_types.usable"
    fail_msg: "{{ compute.host.hostname }} cannot run KVM guests"

- name: Ask a remote host over TCP without probing
  virtops.compute.host_info:
    uri: qemu+tcp://compute2.example.com:16509/system
    probe: false
'''

RETURN = r'''
host:
  description: The host's facts.
  returned: always
  type: dict
  contains:
    hostname:
      description: The host name libvirt reports.
      type: str
      sample: compute1
    host_uuid:
      description: The host UUID from libvirt's capabilities.
      type: str
    uri:
      description: The URI the module talked to.
      type: str
      sample: qemu:///system
    uptime_seconds:
      description: Whole seconds since the host booted.
      type: int
      sample: 10336
    uptime:
      description: The line C(uptime) prints (time of day and load average only for a local URI).
      type: str
      sample: "01:46:12 up  2:52,  load average: 0.01, 0.11, 0.07"
    uptime_source:
      description: C(proc) when read from /proc/uptime, C(cpu_times) when estimated through libvirt.
      type: str
    host_ip:
      description: The host's address, its default-route interface's IPv4 address when local.
      type: str
    hypervisor_type:
      description: The hypervisor driver, C(QEMU) for libvirt's QEMU driver.
      type: str
    hypervisor_version:
      description: The QEMU version.
      type: str
      sample: 7.2.22
    libvirt_version:
      description: The libvirt version of the daemon.
      type: str
      sample: 9.0.0
    cpu:
      description:
        - C(arch), C(model), C(vendor), C(count), C(mhz) and C(topology) (sockets, cores, threads, numa_nodes).
        - C(vcpus_used), the vCPUs of the active guests (running or paused), which the C(virtops.compute.pick_host)
          filter counts against C(count).
      type: dict
    memory_mb:
      description: C(total) and C(free) memory in MiB.
      type: dict
    virt_types:
      description: The virt types (libvirt domain types) the host offers and those that really run guests.
      type: dict
      contains:
        available:
          description: The domain types libvirt lists for the host's architecture.
          type: list
          elements: str
          sample: [qemu, kvm]
        usable:
          description: The listed types whose probe guest really ran; null when O(probe=false).
          type: list
          elements: str
          sample: [qemu]
        probe:
          description: Per type, C(usable), C(seconds) the probe took and, when unusable, the C(reason).
          type: dict
          sample: {kvm: {usable: false, seconds: 10.0, reason: "the probe guest printed nothing within 10 seconds"}}
    guests:
      description: C(total) defined guests and how many are C(running).
      type: dict
    service_state:
      description: C(enabled), C(disabled) or C(maintenance), as the host module left it; null for a remote URI.
      type: str
    maintenance_reason:
      description:
        - The reason given when the host was disabled or put into maintenance (see M(virtops.compute.host)); null
          when none was given, and for a remote URI.
      type: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.host import facts as host_facts


def main():
    module = VirtopsModule(
        argument_spec=dict(
            probe=dict(type='bool', default=True),
            probe_timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )

    def report(module):
        if module.params['probe_timeout'] < 1:
            module.fail('probe_timeout must be at least 1 second, got %d.' % module.params['probe_timeout'])
        return dict(host=host_facts.gather(module, probe=module.params['probe'], probe_timeout=module.params['probe_timeout']))

    module.run(report)


if __name__ == '__main__':
    main()
