# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
name: libvirt
short_description: The guests of libvirt compute hosts as inventory hosts
version_added: 0.1.0
description:
  - Lists the guests (libvirt domains) of one or many compute hosts, given by their libvirt URIs, as inventory
    hosts named after the guests.
  - Groups them by compute host (V(libvirt_host_<hostname>)), by state (V(libvirt_state_running),
    V(libvirt_state_shutdown), ...) and by the metadata this collection keeps in the domain XML
    (V(libvirt_managed) for guests the collection created, V(libvirt_image_<image file stem>),
    V(libvirt_rescued)); O(keyed_groups), O(groups) and O(compose) add more.
  - Each host gets the variables C(virtops_guest) (the dictionary M(virtops.compute.guest_info) returns for the
    guest), C(virtops_state), C(virtops_uri), C(virtops_compute_host), C(virtops_metadata) and, when the guest
    agent or the DHCP leases know an address, C(ansible_host).
  - The inventory file name must end in V(libvirt.yml) or V(libvirt.yaml).
  - Runs on the controller (or in the execution environment), which needs C(libvirt-python) and a way to reach
    each URI.
author:
  - virtops.compute contributors (@virtops)
requirements:
  - libvirt-python
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; the file is read only when it says so.
    type: str
    required: true
    choices:
      - virtops.compute.libvirt
  uris:
    description:
      - The libvirt URIs of the compute hosts, for example V(qemu:///system) or V(qemu+ssh://root@node2/system).
    type: list
    elements: str
    default:
      - qemu:///system
  states:
    description:
      - Only guests in one of these states become hosts (V(running), V(paused), V(shutdown), V(crashed),
        V(suspended), V(nostate)); empty for all.
    type: list
    elements: str
    default: []
  group_prefix:
    description: What the names of the groups this plugin makes itself start with.
    type: str
    default: libvirt_
  skip_unreachable:
    description:
      - When a URI cannot be reached, warn and list the other hosts' guests instead of failing the whole
        inventory.
    type: bool
    default: false
  set_ansible_host:
    description: Set C(ansible_host) to the guest's first known IPv4 address (else its first IPv6 address).
    type: bool
    default: true
'''

EXAMPLES = r'''
# inventory/compute.libvirt.yml
# The guests of two compute hosts, grouped by host, state and the collection's metadata.
plugin: virtops.compute.libvirt
uris:
  - qemu:///system
  - qemu+ssh://root@node2.example.com/system

---
# Only running guests, cached for ten minutes, with extra groups and a variable of their own.
plugin: virtops.compute.libvirt
uris:
  - qemu+tcp://10.0.0.11/system
states:
  - running
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/tmp/virtops-inventory
cache_timeout: 600
keyed_groups:
  - key: virtops_metadata.storage_pool | default('unmanaged') | replace('-', '_')
    prefix: pool
  - key: virtops_guest.vcpus | string
    prefix: vcpus
groups:
  big: virtops_guest.max_mem_kb >= 4194304
compose:
  memory_mb: virtops_guest.max_mem_kb // 1024
'''

import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt, open_connection,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import Guest
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError

MANAGED_BY = 'virtops.compute'


def safe_group_name(text):
    """A group name Ansible accepts without warnings: letters, digits and underscores, not starting with a digit."""
    name = re.sub(r'[^A-Za-z0-9_]', '_', str(text)).strip('_') or 'unknown'
    return '_' + name if name[0].isdigit() else name


def image_stem(image):
    """``/srv/images/debian-12.qcow2`` -> ``debian-12``: what a human calls the image."""
    base = re.split(r'[\\/]', str(image).rstrip('/\\'))[-1]
    return re.sub(r'\.(qcow2|img|raw|iso|vmdk|vdi)$', '', base, flags=re.IGNORECASE) or base


def guest_groups(compute_host, state, metadata, prefix='libvirt_'):
    """The groups a guest belongs to, from its compute host, its state and the collection's metadata."""
    groups = [prefix + 'host_' + safe_group_name(compute_host), prefix + 'state_' + safe_group_name(state)]
    metadata = metadata or {}
    if metadata.get('managed_by') == MANAGED_BY:
        groups.append(prefix + 'managed')
    if metadata.get('image'):
        groups.append(prefix + 'image_' + safe_group_name(image_stem(metadata['image'])))
    if metadata.get('rescued'):
        groups.append(prefix + 'rescued')
    return groups


def first_address(info):
    """The first IPv4 address the guest's NICs report, else the first IPv6 one, else None."""
    found = [addr for iface in info.get('interfaces') or [] for addr in iface.get('addresses') or []]
    for family in ('ipv4', 'ipv6'):
        for addr in found:
            if addr.get('family') == family and addr.get('address'):
                return addr['address']
    return None


def inventory_name(guest_name, compute_host, taken):
    """The guest's own name, unless a guest of that name on another host already took it."""
    if guest_name not in taken:
        return guest_name
    return '%s@%s' % (guest_name, compute_host)


def read_host(uri):
    """{uri, compute_host, guests: [guest_info dict plus ``metadata``]} of one compute host."""
    conn = open_connection(uri)
    try:
        compute_host = conn.getHostname()
        guests = []
        for dom in sorted(conn.listAllDomains(0), key=lambda dom: dom.name()):
            try:
                guest = Guest(dom)
                info = guest.info()
                try:
                    info['metadata'] = guest.definition().get_app_metadata()
                except ModelError:
                    # a hand-edited metadata element must not hide the guest from the inventory
                    info['metadata'] = {}
            except libvirt.libvirtError as err:
                # a guest undefined while we list the others simply is not there any more
                if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue
                raise VirtopsError(describe_libvirt_error(err, where="cannot read guest '%s' on '%s'" % (dom.name(), uri)))
            guests.append(info)
        return dict(uri=uri, compute_host=compute_host, guests=guests)
    except libvirt.libvirtError as err:
        raise VirtopsError(describe_libvirt_error(err, where="cannot list the guests of '%s'" % uri))
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'virtops.compute.libvirt'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('libvirt.yml', 'libvirt.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        # ansible-inventory --flush-cache (cache=False) re-reads the hosts and stores the fresh answer
        update_cache = self.get_option('cache') and not cache
        hosts = None
        if use_cache:
            try:
                hosts = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if hosts is None:
            hosts = self._read_hosts()
        if update_cache:
            self._cache[cache_key] = hosts
        self._populate(hosts)

    def _read_hosts(self):
        hosts = []
        for uri in self.get_option('uris'):
            try:
                hosts.append(read_host(uri))
            except VirtopsError as err:
                if not self.get_option('skip_unreachable'):
                    raise AnsibleParserError('virtops.compute.libvirt inventory: %s' % err)
                self.display.warning('virtops.compute.libvirt inventory skips %s' % err)
        return hosts

    def _populate(self, hosts):
        prefix = self.get_option('group_prefix')
        wanted_states = set(self.get_option('states') or ())
        strict = self.get_option('strict')
        taken = set()
        for host in hosts:
            for info in host['guests']:
                if wanted_states and info['state'] not in wanted_states:
                    continue
                name = inventory_name(info['name'], host['compute_host'], taken)
                taken.add(name)
                self.inventory.add_host(name)
                # the cache holds these dicts: read them, never change them
                metadata = info.get('metadata') or {}
                info = dict((key, value) for key, value in info.items() if key != 'metadata')
                variables = dict(virtops_guest=info, virtops_state=info['state'], virtops_uri=host['uri'],
                                 virtops_compute_host=host['compute_host'], virtops_metadata=metadata)
                address = first_address(info) if self.get_option('set_ansible_host') else None
                if address:
                    variables['ansible_host'] = address
                for key, value in variables.items():
                    self.inventory.set_variable(name, key, value)
                for group in guest_groups(host['compute_host'], info['state'], metadata, prefix):
                    self.inventory.add_group(group)
                    self.inventory.add_child(group, name)
                self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
                self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
