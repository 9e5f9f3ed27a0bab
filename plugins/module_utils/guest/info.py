# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``guest_info`` (and every module that returns a guest) reports about a guest."""

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import addresses as guest_addresses

# what guest_info reports: what the host knows first, then what the guest agent says (each address tagged)
INFO_SOURCES = ('static', 'lease', 'agent')


def describe(guest, address_sources=INFO_SOURCES):
    """The dict ``guest_info`` returns for one guest; ``address_sources`` says where its addresses come from (see
    ``guest/addresses.py``)."""
    domain = guest.definition()
    _state, max_mem, mem, vcpus, cpu_time = guest.dom.info()
    result = dict(name=guest.name, uuid=guest.dom.UUIDString(), max_mem_kb=max_mem, mem_kb=mem,
                  vcpus=vcpus, cpu_time_ns=cpu_time, managed_save=bool(guest.dom.hasManagedSaveImage(0)))
    result.update(guest.state())
    errors = disk_errors(guest.dom)
    result['disks'] = [dict(disk_facts(disk), error=errors.get(disk.target_dev)) for disk in domain.disks]
    found = addresses(guest, domain, address_sources) if result['state'] in ('running', 'paused') else {}
    result['interfaces'] = [dict(mac=iface.mac, type=iface.type, source=iface.source_network or iface.source_bridge,
                                 model=iface.model, target=iface.target_dev,
                                 addresses=found.get((iface.mac or '').lower(), []))
                            for iface in domain.interfaces]
    result['consoles'] = consoles(domain)
    result['rescued'] = bool(domain.get_app_metadata().get('rescued', False))
    result['firmware'] = 'uefi' if (domain.os_firmware == 'efi' or domain.loader_type == 'pflash') else 'bios'
    return result


def addresses(guest, domain, sources=INFO_SOURCES):
    """{mac: [{address, prefix, family, source}]}: only strings that are IP addresses, each once; the agent is asked
    only when the guest has its channel."""
    if not any(channel.is_guest_agent for channel in domain.channels):
        sources = [source for source in sources if source != 'agent']
    networks = guest_addresses.Networks(guest.dom.connect())
    return guest_addresses.collect(guest.dom, domain.interfaces, sources, networks)


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
