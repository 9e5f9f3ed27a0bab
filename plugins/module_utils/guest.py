# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest: one libvirt domain, and what ``guest_info`` reports about it."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.virtops.compute.plugins.module_utils import states
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain


ROOT_TARGET = 'vda'


def require_domain(conn, name, doing=None):
    """The ``virDomain`` called ``name``, or one sentence saying it does not exist (and what could not be done)."""
    guest = Guest.lookup(conn, name)
    if guest is None:
        raise VirtopsError("guest '%s' does not exist%s." % (name, ', so it cannot ' + doing if doing else ''))
    return guest.dom


def own_root_disk(domain):
    """The root disk this collection made for the guest (its overlay of an image), or None."""
    metadata = domain.get_app_metadata()
    root = domain.find_disk(ROOT_TARGET)
    if metadata.get('managed_by') != 'virtops.compute' or root is None or root.source_file != metadata.get('root_volume'):
        return None
    return root


def find_domain(conn, name):
    """The virDomain named ``name``, or None when there is none (other libvirt errors are raised)."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


class Guest:
    """A thin wrapper around a ``virDomain``."""

    def __init__(self, dom):
        self.dom = dom

    @classmethod
    def lookup(cls, conn, name):
        dom = find_domain(conn, name)
        return None if dom is None else cls(dom)

    @property
    def name(self):
        return self.dom.name()

    def state(self):
        code, reason = self.dom.state()
        return states.describe(code, reason, managed_save=bool(self.dom.hasManagedSaveImage(0)))

    def definition(self, inactive=False):
        return Domain.from_xml(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0))

    def info(self):
        domain = self.definition()
        _state, max_mem, mem, vcpus, cpu_time = self.dom.info()
        result = dict(name=self.name, uuid=self.dom.UUIDString(), max_mem_kb=max_mem, mem_kb=mem,
                      vcpus=vcpus, cpu_time_ns=cpu_time, managed_save=bool(self.dom.hasManagedSaveImage(0)))
        result.update(self.state())
        errors = disk_errors(self.dom)
        result['disks'] = [dict(disk_facts(disk), error=errors.get(disk.target_dev)) for disk in domain.disks]
        addresses = self.addresses(domain) if result['state'] in ('running', 'paused') else {}
        result['interfaces'] = [dict(mac=iface.mac, type=iface.type, source=iface.source_network or iface.source_bridge,
                                     model=iface.model, target=iface.target_dev,
                                     addresses=addresses.get((iface.mac or '').lower(), []))
                                for iface in domain.interfaces]
        result['consoles'] = consoles(domain)
        result['rescued'] = bool(domain.get_app_metadata().get('rescued', False))
        result['firmware'] = 'uefi' if (domain.os_firmware == 'efi' or domain.loader_type == 'pflash') else 'bios'
        return result

    def addresses(self, domain):
        """{mac: [{address, prefix, family}]} from the guest agent, else from DHCP leases; {} when neither knows."""
        sources = []
        if any(channel.is_guest_agent for channel in domain.channels):
            sources.append(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)
        sources.append(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)
        for source in sources:
            try:
                found = self.dom.interfaceAddresses(source, 0)
            except libvirt.libvirtError:
                continue
            result = {}
            for details in (found or {}).values():
                mac = (details.get('hwaddr') or '').lower()
                for addr in details.get('addrs') or []:
                    family = 'ipv6' if addr.get('type') == libvirt.VIR_IP_ADDR_TYPE_IPV6 else 'ipv4'
                    result.setdefault(mac, []).append(dict(address=addr.get('addr'), prefix=addr.get('prefix'), family=family))
            if result:
                return result
        return {}


DISK_ERRORS = {1: 'io_error', 2: 'no_space'}


def disk_errors(dom):
    """{target: 'io_error' | 'no_space'} for the disks whose I/O failed while the guest ran with an error policy that
    records it (C(stop), C(enospace)); {} for a guest that is not running or whose disks are fine."""
    if not dom.isActive():
        return {}
    try:
        found = dom.diskErrors(0)
    except libvirt.libvirtError:
        return {}
    return dict((target, DISK_ERRORS.get(code, 'unknown')) for target, code in (found or {}).items() if code)


def disk_facts(disk):
    facts = dict(target=disk.target_dev, bus=disk.target_bus, device=disk.device, type=disk.type,
                 source=disk.source_path, format=disk.driver_type, readonly=bool(disk.readonly), serial=disk.serial,
                 error_policy=disk.driver_error_policy)
    if disk.iotune:
        facts['qos'] = disk.iotune
    return facts


def consoles(domain):
    """``{serial_log, serial, vnc, spice}``, each key only when the guest has that console."""
    result = {}
    for serial in domain.serials[:1]:
        if serial.log_file:
            result['serial_log'] = serial.log_file
        elif serial.type == 'file':
            result['serial_log'] = serial.source_path
        if serial.type == 'tcp':
            result['serial'] = dict(type='tcp', host=serial.source_host, port=int(serial.source_service))
        elif serial.type == 'pty':
            result['serial'] = dict(type='pty', pty=serial.source_path or serial.tty)
    for graphic in domain.graphics:
        if graphic.type in ('vnc', 'spice') and graphic.type not in result:
            result[graphic.type] = dict(host=graphic.listen or graphic.listen_address, port=graphic.port)
    return result
