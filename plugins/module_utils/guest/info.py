# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``guest_info`` (and every module that returns a guest) reports about a guest."""

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import addresses as guest_addresses
from ansible_collections.virtops.compute.plugins.module_utils.guest.spec import find_config_drive
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_volume_by_path
from ansible_collections.virtops.compute.plugins.module_utils.migration.plan import host_devices, migration_blockers
from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StorageVolume

# what guest_info reports: what the host knows first, then what the guest agent says (each address tagged)
INFO_SOURCES = ('static', 'lease', 'agent')
# a backing chain deeper than this is not followed further (a loop of volumes must not hang the module)
MAX_CHAIN = 16


def describe(guest, address_sources=INFO_SOURCES, definition=False):
    """The dict ``guest_info`` returns for one guest; ``address_sources`` says where its addresses come from (see
    ``guest/addresses.py``); with ``definition``, its persistent XML (no secrets) too."""
    domain = guest.definition()
    _state, max_mem, mem, vcpus, cpu_time = guest.dom.info()
    result = dict(name=guest.name, uuid=guest.dom.UUIDString(), max_mem_kb=max_mem, mem_kb=mem,
                  vcpus=vcpus, cpu_time_ns=cpu_time, managed_save=bool(guest.dom.hasManagedSaveImage(0)))
    result.update(guest.state())
    errors = disk_errors(guest.dom)
    conn = guest.dom.connect()
    result['disks'] = [dict(disk_facts(disk), error=errors.get(disk.target_dev), **storage_facts(conn, disk))
                       for disk in domain.disks]
    drive = find_config_drive(domain)
    result['config_drive'] = drive.source_path if drive is not None else None
    result['host_devices'] = host_devices(domain)
    result['migration_blockers'] = migration_blockers(domain, result['state'])
    result['migratable'] = not result['migration_blockers']
    if definition:
        # without VIR_DOMAIN_XML_SECURE libvirt leaves console passwords out
        persistent = guest.dom.isPersistent()
        result['definition'] = guest.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if persistent else 0)
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


def _pool_volume(conn, path):
    """(volume model, pool name) of the pool volume at ``path``; (None, None) when no pool holds it or its pool
    cannot be read (the guest's other facts are still worth reporting then)."""
    try:
        vol = find_volume_by_path(conn, path) if path else None
        if vol is None:
            return None, None
        return StorageVolume.from_xml(vol.XMLDesc(0)), vol.storagePoolLookupByVolume().name()
    except libvirt.libvirtError:
        return None, None


def storage_facts(conn, disk):
    """``pool`` and ``capacity_bytes`` of a disk that is a pool volume, and its ``backing_chain``: ``[{path,
    format}]`` of the images under it, nearest first, as libvirt reports them for a running guest, else as the storage
    pools know each image (libvirt's own reading of the qcow2 headers, never a guess from a raw disk's content)."""
    model, pool = _pool_volume(conn, disk.source_path)
    chain = [dict(path=path, format=fmt) for path, fmt in disk.backing_chain]
    below = None if chain or disk.driver_type == 'raw' else model
    while below is not None and below.backing_path and len(chain) < MAX_CHAIN:
        chain.append(dict(path=below.backing_path, format=below.backing_format))
        below = _pool_volume(conn, below.backing_path)[0]
    return dict(pool=pool, capacity_bytes=model.capacity_bytes if model is not None else None, backing_chain=chain)


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
