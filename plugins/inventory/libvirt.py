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
    guest), C(virtops_state), C(virtops_uri), C(virtops_compute_host), C(virtops_metadata) and, when one of
    O(address_sources) knows a usable address, C(ansible_host).
  - Every value read from a compute host is marked unsafe, so that text a guest or a host wrote (an address the
    guest agent reports, a name) is never evaluated as a template.
  - Without the guest agent among O(address_sources), the compute hosts are read over read-only connections.
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
    description:
      - Set C(ansible_host) to the first usable address of O(address_sources), in their order, IPv4 before IPv6.
      - An address is usable when it is a unicast address a machine can have (not loopback, link-local,
        multicast, unspecified or reserved), lies inside the subnet of the libvirt network the NIC is on (when
        that network has one) and inside O(allowed_networks) (when given). The guest's SSH connection, and its
        become password, go to that address.
    type: bool
    default: true
  address_sources:
    description:
      - Where C(ansible_host) may come from, in order of preference. V(static) is a DHCP reservation of the NIC's
        libvirt network and V(lease) a lease of that network's DHCP server, both kept by the compute host.
      - V(agent) is what the guest agent reports, which the guest controls entirely; a guest could name another
        machine, or the controller itself, as its address and so receive the controller's SSH connection and
        become password. Add it only for guests whose addresses no host network knows (a bridged NIC), together
        with O(allowed_networks).
    type: list
    elements: str
    choices: [static, lease, agent]
    default: [static, lease]
  allowed_networks:
    description:
      - Networks (CIDR) C(ansible_host) must lie in, whatever its source; empty for no restriction beyond the
        checks of O(set_ansible_host).
    type: list
    elements: str
    default: []
  cache_connection:
    description:
      - With O(cache), the cache plugin's connection; for a file cache such as C(ansible.builtin.jsonfile) the
        directory of the cache files.
      - A cache directory must belong to the user running Ansible and be writable by nobody else (it is made with
        mode 0700 when missing), since whoever can write there could plant a cached inventory that points the
        controller's SSH connections elsewhere.
    type: path
    default: ~/.cache/virtops.compute/inventory
    env:
      - name: ANSIBLE_CACHE_PLUGIN_CONNECTION
      - name: ANSIBLE_INVENTORY_CACHE_CONNECTION
    ini:
      - section: defaults
        key: fact_caching_connection
      - section: inventory
        key: cache_connection
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
cache_connection: ~/.cache/virtops.compute/inventory
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

---
# Guests on a host bridge, whose addresses only their guest agent knows: the agent is a source, and only
# addresses of the bridge's own subnet are believed.
plugin: virtops.compute.libvirt
uris:
  - qemu+ssh://root@node3.example.com/system
address_sources: [static, lease, agent]
allowed_networks: [198.51.100.0/24]
'''

import ipaddress
import os
import re
import stat

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    VirtopsError, describe_libvirt_error, libvirt, open_connection,
)
from ansible_collections.virtops.compute.plugins.module_utils.guest import addresses as guest_addresses
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


def private_cache_problem(directory, uid=None):
    """Why ``directory`` is no place for a cached inventory (None when it is private to ``uid``)."""
    info = os.lstat(directory)
    uid = os.getuid() if uid is None else uid
    if not stat.S_ISDIR(info.st_mode):
        return 'it is not a directory'
    if info.st_uid != uid:
        return 'it belongs to uid %d, not to the user running Ansible (uid %d)' % (info.st_uid, uid)
    if info.st_mode & 0o022:
        return 'other users can write to it (mode %04o)' % stat.S_IMODE(info.st_mode)
    return None


def inventory_name(guest_name, compute_host, taken):
    """The guest's own name, unless a guest of that name on another host already took it."""
    if guest_name not in taken:
        return guest_name
    return '%s@%s' % (guest_name, compute_host)


def read_host(uri, address_sources=guest_addresses.HOST_SOURCES):
    """{uri, compute_host, guests: [guest_info dict plus ``metadata`` and ``subnets`` ({network: [CIDR]})]} of one
    compute host; read-only unless the guest agent is to be asked."""
    conn = open_connection(uri, readonly='agent' not in address_sources)
    try:
        compute_host = conn.getHostname()
        networks = guest_addresses.Networks(conn)
        guests = []
        for dom in sorted(conn.listAllDomains(0), key=lambda dom: dom.name()):
            try:
                guest = Guest(dom)
                info = guest.info(address_sources=address_sources)
                info['subnets'] = dict((iface['source'], [str(net) for net in networks.subnets(iface['source'])])
                                       for iface in info['interfaces'] if iface.get('type') == 'network')
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
        self._allowed = self._allowed_networks()
        if self.get_option('cache'):
            self._keep_cache_private()
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

    def _allowed_networks(self):
        allowed = []
        for text in self.get_option('allowed_networks') or []:
            try:
                allowed.append(ipaddress.ip_network(str(text), strict=False))
            except ValueError:
                raise AnsibleParserError("virtops.compute.libvirt inventory: allowed_networks entry '%s' is not a "
                                         "network in CIDR form." % text)
        return allowed

    def _keep_cache_private(self):
        """A file cache's directory must be the user's own: made 0700 when the cache plugin just created it,
        refused when others could write there."""
        directory = getattr(getattr(self._cache, '_plugin', None), '_cache_dir', None)
        if not directory or not os.path.isdir(directory):
            return
        info = os.lstat(directory)
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(directory, 0o700)
        problem = private_cache_problem(directory)
        if problem:
            raise AnsibleParserError("virtops.compute.libvirt inventory: the cache directory '%s' is refused, since %s; "
                                     "whoever can write there can point the controller's connections elsewhere."
                                     % (directory, problem))

    def _read_hosts(self):
        hosts = []
        for uri in self.get_option('uris'):
            try:
                hosts.append(read_host(uri, self.get_option('address_sources')))
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
                subnets = info.get('subnets') or {}
                info = dict((key, value) for key, value in info.items() if key not in ('metadata', 'subnets'))
                # what a compute host or its guests wrote is data, never a template
                variables = wrap_var(dict(virtops_guest=info, virtops_state=info['state'], virtops_uri=host['uri'],
                                          virtops_compute_host=host['compute_host'], virtops_metadata=metadata))
                if self.get_option('set_ansible_host'):
                    address = self._address(name, info, subnets)
                    if address:
                        variables['ansible_host'] = wrap_var(address)
                for key, value in variables.items():
                    self.inventory.set_variable(name, key, value)
                for group in guest_groups(host['compute_host'], info['state'], metadata, prefix):
                    self.inventory.add_group(group)
                    self.inventory.add_child(group, name)
                self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
                self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)

    def _address(self, name, info, subnets):
        """The address to connect to, from the configured sources, checked (see guest/addresses.py)."""
        sources = [source for source in self.get_option('address_sources') if source in guest_addresses.SOURCES]
        address, refused = guest_addresses.choose(
            info.get('interfaces') or [], sources,
            lambda network: [ipaddress.ip_network(text) for text in subnets.get(network) or []], self._allowed)
        for text, source, why in refused:
            self.display.vvv('virtops.compute.libvirt inventory: %s: %s address %r is not used as ansible_host: %s'
                             % (name, source, text, why))
        return address
