#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: nwfilter
short_description: A security group as a libvirt network filter
version_added: 0.1.0
description:
  - Compiles security-group rules into a libvirt nwfilter that guest NICs use through the C(filter) (and
    C(filter_params)) of a M(virtops.compute.guest) NIC.
  - 'Semantics, like an OpenStack security group: inbound traffic is dropped unless a rule accepts it; outbound
    traffic is accepted until a rule with O(rules[].direction=out) and O(rules[].action=accept) exists, then it is
    an allow-list too. Answers of accepted connections (established and related traffic) pass both ways, so an
    inbound rule for TCP 22 is all SSH needs. Rules are checked in their order and the first that matches wins,
    so a C(drop) rule before a broader C(accept) rule carves an exception out of it.'
  - With O(anti_spoofing=true), libvirt's C(clean-traffic) filter comes first; a guest cannot send with another
    MAC or IP address than its own, nor answer ARP for others, and only IPv4 and ARP pass at layer 2 (so
    C(ipv6) rules only matter with O(anti_spoofing=false)). DHCP client traffic is accepted. Give the guest's
    address as the C(IP) filter parameter of its NIC, or libvirt learns it from the first packets.
  - Changing the rules of a filter in use applies to the running guests at once, without restarting them;
    connections already established stay open.
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The filter's name; the names of libvirt's own filters (C(clean-traffic) ...) are refused.
    type: str
    required: true
  rules:
    description: The rules, first match wins.
    type: list
    elements: dict
    default: []
    suboptions:
      direction:
        description: C(in) is traffic to the guest, C(out) traffic from it.
        type: str
        choices: [in, out]
        default: in
      protocol:
        description: The IP protocol; C(all) matches every one.
        type: str
        choices: [tcp, udp, icmp, all]
        default: all
      port_range_min:
        description: First port (on the guest for C(in), on the remote side for C(out)); C(tcp) and C(udp) only.
        type: int
      port_range_max:
        description: Last port; the same as O(rules[].port_range_min) when omitted.
        type: int
      remote_ip_prefix:
        description: The remote addresses the rule applies to, as a CIDR (C(10.77.0.0/24)); every address when omitted.
        type: str
      ethertype:
        description: C(ipv4) or C(ipv6).
        type: str
        choices: [ipv4, ipv6]
        default: ipv4
      action:
        description: What happens to matching traffic.
        type: str
        choices: [accept, drop]
        default: accept
  anti_spoofing:
    description: Layer libvirt's MAC, IP and ARP anti-spoofing (C(clean-traffic)) and DHCP allowance under the rules.
    type: bool
    default: true
  state:
    description:
      - C(present) or C(absent).
      - Removing a filter that a guest's NIC or another filter uses is refused, naming them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
notes:
  - nwfilter rules act on Linux-bridge ports (libvirt networks of modes C(nat), C(route), C(isolated), C(flat));
    libvirt does not filter Open vSwitch ports.
  - For host-wide firewall rules (the host's own traffic), use the host's firewall (C(ansible.posix.firewalld),
    C(community.general.ufw), nftables); these filters act only on guest NICs.
seealso:
  - module: virtops.compute.guest
  - module: virtops.compute.network
'''

EXAMPLES = r'''
- name: A web security group
  virtops.compute.nwfilter:
    name: sg-web
    rules:
      - {protocol: tcp, port_range_min: 22, remote_ip_prefix: 10.77.0.0/16}
      - {protocol: tcp, port_range_min: 80}
      - {protocol: tcp, port_range_min: 443}
      - {protocol: icmp}

- name: A guest NIC in it
  virtops.compute.guest:
    name: web1
    nics:
      - network: tenant1
        filter: sg-web
        filter_params: {IP: 10.77.1.10}
'''

RETURN = r'''
nwfilter:
  description: The filter after the run (what it would be, in check mode); null once it is absent.
  returned: always
  type: dict
  sample: {name: sg-web, uuid: 5c1d8f9a-5f55-4c3e-a3a4-0c6e0d1f7b21, anti_spoofing: true, used_by: [web1],
           rules: [{direction: in, protocol: tcp, port_range_min: 22, port_range_max: 22,
                    remote_ip_prefix: 10.77.0.0/16, ethertype: ipv4, action: accept}]}
changes:
  description: What differed (C(created), C(rules), C(anti_spoofing), C(removed)).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.nwfilter.converge import converge
from ansible_collections.virtops.compute.plugins.module_utils.nwfilter.rules import NWFILTER_OPTIONS


def main():
    module = VirtopsModule(argument_spec=NWFILTER_OPTIONS, supports_check_mode=True)
    module.run(converge)


if __name__ == '__main__':
    main()
