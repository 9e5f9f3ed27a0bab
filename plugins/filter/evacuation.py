# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evacuation records: what the evacuate role keeps of each guest on shared storage, signed by the controller.

The records sit where every compute host can write, so none is believed unless its HMAC
(SHA-256, with a key only the controller holds) verifies, and even then its definition is
rebuilt through the model before any host defines it.  No secret goes into a record: config
drive contents and console passwords come from the operator's vault at evacuation time.

The documentation lives in the evacuation_*.yml files next to this file.
"""

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.virtops.compute.plugins.module_utils.guest.spec import find_config_drive
from ansible_collections.virtops.compute.plugins.module_utils.guest.wrapper import ROOT_TARGET, own_root_disk
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.recorded import RecordedDefinition

VERSION = 1
UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
# a key shorter than this is refused: it would be guessed
MIN_KEY_LENGTH = 32
STATES = ('running', 'paused', 'shutdown', 'crashed', 'suspended', 'nostate')


def _canonical(record):
    return json.dumps(record, sort_keys=True, separators=(',', ':'), ensure_ascii=True).encode('ascii')


def _mac(record, key):
    key = to_text(key or '').strip()
    if len(key) < MIN_KEY_LENGTH:
        raise AnsibleFilterError('the evacuation record key must be at least %d characters long, got %d.'
                                 % (MIN_KEY_LENGTH, len(key)))
    return hmac.new(to_bytes(key), _canonical(record), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- making records (on a healthy host)

def _accept_any_path(_path, _what):
    """At record time only the definition's shape is checked; paths are checked on the host that rebuilds it."""


def _record_of(guest, host, host_uuid, hostname):
    definition = guest.get('definition')
    if not definition:
        raise ModelError('guest_info was not asked for its definition (definition: true)')
    domain = Domain.from_xml(definition)
    # what is recorded is the definition rebuilt through the model: no console password or other host's detail in it
    rebuilt = RecordedDefinition(definition).rebuild(_accept_any_path)
    disks = dict((disk.get('target'), disk) for disk in guest.get('disks') or [])
    root = own_root_disk(domain) or domain.find_disk(ROOT_TARGET)
    if root is not None and (root.type != 'file' or not root.source_file):
        root = None
    drive = find_config_drive(domain)
    root_facts = disks.get(root.target_dev, {}) if root is not None else {}
    image = (root_facts.get('backing_chain') or [{}])[0]
    skip = [disk.target_dev for disk in (root, drive) if disk is not None]
    return dict(
        version=VERSION, name=guest['name'], uuid=guest['uuid'], host=host, host_uuid=host_uuid, hostname=hostname,
        state=guest.get('state'), memory_mb=-(-int(guest['max_mem_kb']) // 1024), vcpus=int(guest['vcpus']),
        root_disk=None if root is None else dict(
            path=root.source_file, target=root.target_dev, format=root.driver_type or 'raw', pool=root_facts.get('pool'),
            capacity_bytes=root_facts.get('capacity_bytes'), image=image.get('path'), image_format=image.get('format')),
        config_drive=None if drive is None else dict(
            path=drive.source_path, target=drive.target_dev, format='iso9660' if drive.device == 'cdrom' else 'vfat'),
        volumes=[dict(target=disk.target_dev, type=disk.type, source=disk.source_path, pool=disks.get(
            disk.target_dev, {}).get('pool')) for disk in domain.disks if disk.target_dev not in skip],
        definition=rebuilt.to_xml(),
    )


def evacuation_records(guests, host, host_uuid, hostname=None):
    """``{records: [...], refused: [{name, reason}]}`` for a host's guests (guest_info results with definitions)."""
    if not isinstance(guests, (list, tuple)):
        raise AnsibleFilterError('evacuation_records takes the guests of guest_info, a list, got %s.'
                                 % type(guests).__name__)
    if not host_uuid or not UUID.match(str(host_uuid).lower()):
        raise AnsibleFilterError("evacuation_records needs the host's libvirt UUID (host_info host.host_uuid), got %r."
                                 % (host_uuid,))
    records, refused = [], []
    for guest in guests:
        try:
            records.append(_record_of(guest, host, str(host_uuid).lower(), hostname))
        except (ModelError, KeyError, TypeError, ValueError) as err:
            refused.append(dict(name=guest.get('name'), uuid=guest.get('uuid'),
                                reason='it cannot be rebuilt elsewhere, as its definition carries %s' % err
                                if isinstance(err, ModelError) else 'its facts are incomplete (%s)' % err))
    return dict(records=records, refused=refused)


def evacuation_document(record, key):
    """The text of a record file: the record and its HMAC."""
    if not isinstance(record, Mapping):
        raise AnsibleFilterError('evacuation_document takes one record (a dict), got %s.' % type(record).__name__)
    record = dict(record)
    return json.dumps(dict(record=record, mac=_mac(record, key)), sort_keys=True, indent=2) + '\n'


# ---------------------------------------------------------------- reading records (at evacuation time)

def _check_record(record, uuid):
    """One phrase for what is wrong with a record whose MAC verified (made by an older role, or by hand), or None."""
    if record.get('version') != VERSION:
        return 'it is of record version %r, not %d (record the host again)' % (record.get('version'), VERSION)
    if record.get('uuid') != uuid:
        return 'it holds guest %s, not the one its file name says' % record.get('uuid')
    try:
        domain = Domain.from_xml(record.get('definition') or '')
    except ModelError as err:
        return 'its definition is %s' % err
    if domain.uuid != uuid or domain.name != record.get('name'):
        return 'its definition is that of another guest'
    named = set(disk.source_path for disk in domain.disks)
    for part in ('root_disk', 'config_drive'):
        if record.get(part) and record[part].get('path') not in named:
            return 'its %s is not a disk of its definition' % part.replace('_', ' ')
    if record.get('state') not in STATES:
        return 'its state %r is none a guest has' % record.get('state')
    return None


def evacuation_verify(documents, key):
    """``{records: [...], refused: [{path, reason}]}`` of record files (a dict of path -> text): a record is
    believed only when its HMAC verifies with ``key`` and it is whole."""
    if not isinstance(documents, Mapping):
        raise AnsibleFilterError('evacuation_verify takes a dict of record file paths and their text, got %s.'
                                 % type(documents).__name__)
    records, refused = [], []
    for path in sorted(documents):
        uuid = os.path.basename(path)[:-len('.json')] if path.endswith('.json') else ''
        try:
            document = json.loads(to_text(documents[path]))
            record, mac = document['record'], document['mac']
            if not isinstance(record, Mapping) or not isinstance(mac, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            refused.append(dict(path=path, reason='it is not a record this role wrote (no record and MAC in it)'))
            continue
        if not hmac.compare_digest(_mac(record, key), mac):
            refused.append(dict(path=path, reason="its MAC does not verify (it was changed, or written, by "
                                                  "someone without the controller's key)"))
            continue
        problem = _check_record(record, uuid)
        if problem:
            refused.append(dict(path=path, reason=problem))
            continue
        records.append(dict(record))
    return dict(records=records, refused=refused)


def evacuation_owned(documents, host):
    """``{uuid: path}`` of the record files that say they hold a guest of ``host`` (unverified: for dropping them)."""
    owned = {}
    for path, text in (documents or {}).items():
        try:
            record = json.loads(to_text(text)).get('record') or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(record, Mapping) and record.get('host') == host and path.endswith('.json'):
            owned[os.path.basename(path)[:-len('.json')]] = path
    return owned


# ---------------------------------------------------------------- fences

def _fence_fields(fields):
    return dict(kind='fence', from_host_uuid=str(fields.get('from_host_uuid') or '').lower(),
                uuid=str(fields.get('uuid') or '').lower())


def evacuation_fence_mac(fields, key):
    """The MAC of a fence (its ``from_host_uuid`` and guest ``uuid``): the hook believes any fence (a fence only keeps
    a guest from starting), but cleanup, which removes guests, believes only a signed one."""
    if not isinstance(fields, Mapping):
        raise AnsibleFilterError('evacuation_fence_mac takes the fence fields (a dict), got %s.' % type(fields).__name__)
    return _mac(_fence_fields(fields), key)


def evacuation_fences(documents, key, host_uuid):
    """``{fenced: {guest uuid: path}, refused: [{path, reason}]}`` of fence files (a dict of path -> text) that name
    ``host_uuid`` as the host their guest was evacuated from."""
    fenced, refused = {}, []
    wanted = str(host_uuid or '').lower()
    for path in sorted(documents or {}):
        fields = dict(line.split('=', 1) for line in to_text(documents[path]).splitlines() if '=' in line)
        if fields.get('from_host_uuid', '').lower() != wanted:
            continue
        uuid = os.path.basename(path)[:-len('.fence')] if path.endswith('.fence') else ''
        if fields.get('uuid', '').lower() != uuid.lower() or not hmac.compare_digest(
                evacuation_fence_mac(fields, key), fields.get('mac', '')):
            refused.append(dict(path=path, reason="its MAC does not verify (it was changed, or written, by someone "
                                                  "without the controller's key)"))
            continue
        fenced[uuid] = path
    return dict(fenced=fenced, refused=refused)


class FilterModule:
    """Evacuation records."""

    def filters(self):
        return dict(evacuation_records=evacuation_records, evacuation_document=evacuation_document,
                    evacuation_verify=evacuation_verify, evacuation_owned=evacuation_owned,
                    evacuation_fence_mac=evacuation_fence_mac, evacuation_fences=evacuation_fences)
