# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only views of what a host offers: ``virConnect.getCapabilities()``
(``<capabilities>``) and ``getDomainCapabilities()`` (``<domainCapabilities>``).

Listed is not usable: libvirt lists ``kvm`` wherever QEMU was built with it,
so callers that need a working virt type must try it.
"""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Children, PathAttr, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import AttrList, TextList
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import YES_NO


class CapsGuest(XmlObject):
    """One ``<guest>``: an OS type and architecture QEMU can run, with its machines and domain types."""

    TAG = 'guest'

    os_type = Text('os_type')
    arch = PathAttr('arch', 'name')
    wordsize = Text('arch/wordsize', int)
    emulator = Text('arch/emulator')
    machines = TextList('arch/machine')
    domain_types = AttrList('arch/domain', 'type')

    @property
    def machine_aliases(self):
        """{alias: canonical machine} (``pc`` -> ``pc-i440fx-7.2``)."""
        return dict((node.text, node.get('canonical')) for node in self.findall('arch/machine') if node.get('canonical'))

    @property
    def features(self):
        node = self.find('features')
        return [] if node is None else [child.tag for child in node if isinstance(child.tag, str)]


class Capabilities(XmlObject):
    TAG = 'capabilities'

    host_uuid = Text('host/uuid')
    host_arch = Text('host/cpu/arch')
    host_cpu_model = Text('host/cpu/model')
    host_cpu_vendor = Text('host/cpu/vendor')
    host_cpu_sockets = PathAttr('host/cpu/topology', 'sockets', int)
    host_cpu_dies = PathAttr('host/cpu/topology', 'dies', int)
    host_cpu_cores = PathAttr('host/cpu/topology', 'cores', int)
    host_cpu_threads = PathAttr('host/cpu/topology', 'threads', int)
    host_cpu_features = AttrList('host/cpu/feature', 'name')
    migration_transports = TextList('host/migration_features/uri_transports/uri_transport')
    secmodels = TextList('host/secmodel/model')
    guests = Children('guest', CapsGuest)

    @property
    def numa_cell_count(self):
        cells = self.findall('host/topology/cells/cell')
        if cells:
            return len(cells)
        return self.get_attr('host/topology/cells', 'num', int)

    @property
    def numa_cells(self):
        """[{id, memory_kib, cpus}] per NUMA cell."""
        result = []
        for cell in self.findall('host/topology/cells/cell'):
            view = XmlObject(cell)
            result.append(dict(id=view.get_attr('.', 'id', int), memory_kib=view.get_size('memory', 'KiB'),
                               cpus=len(cell.findall('cpus/cpu'))))
        return result

    def guests_for(self, arch=None, os_type='hvm'):
        return [guest for guest in self.guests
                if (arch is None or guest.arch == arch) and (os_type is None or guest.os_type == os_type)]

    def domain_types(self, arch=None, os_type='hvm'):
        """Domain types (``qemu``, ``kvm``) listed for ``arch`` (any when None), without repeats."""
        found = []
        for guest in self.guests_for(arch, os_type):
            for name in guest.domain_types:
                if name not in found:
                    found.append(name)
        return found


class DomainCapabilities(XmlObject):
    """What one emulator/machine/virt type combination supports, firmware paths included."""

    TAG = 'domainCapabilities'

    path = Text('path')
    domain_type = Text('domain')
    machine = Text('machine')
    arch = Text('arch')
    vcpu_max = PathAttr('vcpu', 'max', int)
    os_supported = PathAttr('os', 'supported', YES_NO)
    loader_supported = PathAttr('os/loader', 'supported', YES_NO)
    loader_paths = TextList('os/loader/value')

    def enum_values(self, path, name):
        """The ``<value>`` texts of ``<enum name=name>`` under ``path`` ([] when absent)."""
        for node in self.findall('%s/enum' % path):
            if node.get('name') == name:
                return [value.text for value in node.findall('value')]
        return []

    @property
    def firmwares(self):
        return self.enum_values('os', 'firmware')

    @property
    def loader_types(self):
        return self.enum_values('os/loader', 'type')

    @property
    def secure_boot_supported(self):
        return 'yes' in self.enum_values('os/loader', 'secure')

    @property
    def cpu_modes(self):
        """{mode name: supported}."""
        return dict((node.get('name'), YES_NO.parse(node.get('supported', 'no'))) for node in self.findall('cpu/mode'))

    @property
    def host_model(self):
        for node in self.findall('cpu/mode'):
            if node.get('name') == 'host-model':
                model = node.find('model')
                return None if model is None else model.text
        return None

    def device_supported(self, tag):
        return bool(self.get_attr('devices/' + tag, 'supported', YES_NO))

    def device_enum(self, tag, name):
        return self.enum_values('devices/' + tag, name)

    def feature_supported(self, name):
        return bool(self.get_attr('features/' + name, 'supported', YES_NO))
