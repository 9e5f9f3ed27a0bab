#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: network
short_description: A libvirt virtual network (NAT, routed, isolated, flat bridge, Open vSwitch with VLANs)
version_added: 0.1.0
description:
  - Defines, changes, starts, stops and removes a libvirt network.
  - C(nat), C(route) and C(isolated) networks get a bridge made by libvirt, an address, DHCP (dnsmasq) and static
    routes. C(flat) puts guests on an existing Linux bridge of the host (libvirt C(forward mode='bridge')); C(ovs)
    on an existing Open vSwitch bridge, with VLAN tags for the whole network (O(vlan)) or per portgroup.
  - DHCP hosts, the DHCP range and portgroups of a running network change live (C(virNetwork.update)); the
    guests on it keep their links. Any other change to a running network needs a restart, which cuts the
    guests' links until their NICs are plugged again, so it is refused unless O(allow_restart=true).
author:
  - virtops.compute contributors (@virtops)
options:
  name:
    description: The network's name.
    type: str
    required: true
  mode:
    description:
      - C(nat) gives guests a private subnet behind the host's address; C(route) routes the subnet without NAT;
        C(isolated) connects guests only with each other and the host.
      - C(flat) bridges guests onto the existing Linux bridge O(bridge) (the host's LAN); with O(vlan) and
        O(vlan_parent) that bridge carries one VLAN of a host NIC.
      - C(ovs) plugs guests into the existing Open vSwitch bridge O(bridge).
      - Needed unless O(state=absent).
    type: str
    choices: [nat, route, isolated, flat, ovs]
  bridge:
    description:
      - For C(flat) and C(ovs), the existing host bridge (needed). For the other modes, the name of the bridge
        libvirt creates; libvirt picks C(virbrN) when omitted.
    type: str
  vlan:
    description:
      - One VLAN id (1-4094) for the whole network.
      - With C(ovs), guest ports are access ports of that VLAN.
      - With C(flat), the Linux-bridge VLAN layout; O(vlan_parent) C(.) O(vlan) (an 802.1Q sub-interface) is
        created and enslaved to O(bridge), which is created when missing. This uses C(ip link) on the host running
        the module, so it needs a local O(uri) and a kernel with 802.1Q support; without that support it fails
        naming the missing kernel feature. What C(ip link) makes does not survive a host reboot.
    type: int
  vlan_parent:
    description: With O(mode=flat) and O(vlan), the host NIC that carries the VLAN (for example C(eth0)).
    type: str
  portgroups:
    description:
      - Named port settings guests pick with the C(portgroup) of a M(virtops.compute.guest) NIC.
      - Changed live on a running network; NICs plugged already keep their settings until they are plugged again.
    type: list
    elements: dict
    suboptions:
      name:
        description: The portgroup's name.
        type: str
        required: true
      vlan:
        description: The VLAN id (1-4094) of ports in this group; O(mode=ovs) only.
        type: int
      default:
        description: Whether NICs that name no portgroup get this one. At most one portgroup is the default.
        type: bool
        default: false
  default_portgroup:
    description: The name of the default portgroup, another way to set O(portgroups[].default); it must be listed.
    type: str
  ip:
    description:
      - The IPv4 address of the network's bridge on the host, with DHCP. For C(nat), C(route) and C(isolated).
      - Omitted, the network has no address (plain layer 2 between guests).
    type: dict
    suboptions:
      address:
        description: The host's address on the network, the guests' gateway (for example C(10.77.1.1)).
        type: str
        required: true
      prefix:
        description: The prefix length of the subnet (1-30).
        type: int
        required: true
      dhcp_range:
        description: The addresses DHCP hands out, inside the subnet and not including O(ip.address).
        type: dict
        suboptions:
          start:
            description: First address.
            type: str
            required: true
          end:
            description: Last address.
            type: str
            required: true
      hosts:
        description: Fixed DHCP leases; each gets O(ip.hosts[].ip), which may lie outside the range.
        type: list
        elements: dict
        suboptions:
          mac:
            description: The guest NIC's MAC address.
            type: str
          ip:
            description: Its fixed address, inside the subnet.
            type: str
            required: true
          name:
            description: Its host name in the network's DNS; a host needs a mac or a name.
            type: str
  routes:
    description:
      - Static routes the host adds while the network runs, for subnets behind a guest (the "routing" case; with
        O(mode=route) the routed subnets are reachable from the host's other networks too).
      - Each gateway must be inside O(ip)'s subnet, and no route may overlap it.
    type: list
    elements: dict
    suboptions:
      address:
        description: The routed subnet's network address.
        type: str
        required: true
      prefix:
        description: Its prefix length.
        type: int
        required: true
      gateway:
        description: The guest address that routes it.
        type: str
        required: true
  domain:
    description: The DNS domain dnsmasq serves guests' names in.
    type: str
  mtu:
    description: The MTU of the network's bridge; left as it is when omitted.
    type: int
  state:
    description:
      - C(present) and C(active) are the same state; the network is defined and running.
      - C(inactive) defines it and stops it when it runs. C(absent) stops and removes it; refused, naming them,
        while running guests are plugged into it.
    type: str
    choices: [present, active, inactive, absent]
    default: present
  autostart:
    description:
      - Whether libvirtd starts the network when it starts.
      - When omitted, an existing network keeps its setting and a new one gets C(true), or C(false) for O(state=inactive).
    type: bool
  allow_restart:
    description:
      - Allow restarting a running network to apply a change libvirt cannot make live (mode, bridge, address,
        routes, VLAN, domain, MTU). The guests on it lose their links until their NICs are plugged again; the
        module warns naming them.
    type: bool
    default: false
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
notes:
  - A new subnet that overlaps the subnet of another libvirt network is refused, naming that network.
  - libvirt cannot make VLAN sub-interfaces or bridges for C(flat) and C(ovs) networks; apart from the Linux-bridge
    VLAN case, the bridges must exist (M(virtops.compute.guest) NICs may also name them directly).
seealso:
  - module: virtops.compute.guest
  - module: virtops.compute.nwfilter
'''

EXAMPLES = r'''
- name: A NAT network with a fixed DHCP lease
  virtops.compute.network:
    name: tenant1
    mode: nat
    ip:
      address: 10.77.1.1
      prefix: 24
      dhcp_range: {start: 10.77.1.100, end: 10.77.1.199}
      hosts:
        - {mac: "52:54:00:77:01:10", ip: 10.77.1.10, name: web1}

- name: A routed network with a subnet behind one of its guests
  virtops.compute.network:
    name: routed1
    mode: route
    ip: {address: 10.77.2.1, prefix: 24}
    routes:
      - {address: 10.77.200.0, prefix: 24, gateway: 10.77.2.10}

- name: VLANs on an Open vSwitch bridge
  virtops.compute.network:
    name: ovs-tenants
    mode: ovs
    bridge: br-int
    portgroups:
      - {name: vlan10, vlan: 10, default: true}
      - {name: vlan20, vlan: 20}

- name: Guests on the host's LAN bridge
  virtops.compute.network:
    name: lan
    mode: flat
    bridge: br0
'''

RETURN = r'''
network:
  description: The network after the run (what it would be, in check mode), in the options' form; null when absent.
  returned: always
  type: dict
  sample: {name: tenant1, uuid: 3cabff61-51bb-458e-a581-98256f946b1e, mode: nat, bridge: virbr1, vlan: null,
           portgroups: [], ip: {address: 10.77.1.1, prefix: 24, dhcp_ranges: [{start: 10.77.1.100, end: 10.77.1.199}],
           hosts: [{mac: "52:54:00:77:01:10", ip: 10.77.1.10, name: web1}]}, routes: [], domain: null, mtu: null,
           state: active, autostart: true, guests: [web1]}
changes:
  description: Names of the properties that changed (or would change).
  returned: always
  type: list
  elements: str
actions:
  description: What was done (or would be), in order, for example C(redefined), C(add ip dhcp host live).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.network.converge import NetworkConverger
from ansible_collections.virtops.compute.plugins.module_utils.network.spec import NETWORK_OPTIONS


def main():
    module = VirtopsModule(argument_spec=NETWORK_OPTIONS, supports_check_mode=True)
    module.run(lambda module: NetworkConverger(module).run())


if __name__ == '__main__':
    main()
