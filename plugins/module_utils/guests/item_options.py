# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The item keys the ``guests`` module (and the ``guest`` role) takes beyond the ``guest`` module's
options, and the checks that run on them before anything is changed.

- ``flavor`` names a size from the module's ``flavors``; its values fill the options the item
  leaves out, so an item can still say ``memory_mb`` itself.
- ``config_drive`` is either a path (as for the ``guest`` module) or a dictionary of the
  ``config_drive`` module's metadata options, from which the drive is made.
- ``volumes`` are ``volume_attachment`` specs without ``guest``.
- ``wait_for`` and ``wait_timeout`` say what to wait for once the guest runs.

Everything here is pure (no libvirt): the checks that need the host are in item_storage.py. The code behind a
config drive or a volume is imported only for items that have one, so that a run of plain guests stays lean.
"""


from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.virtops.compute.plugins.module_utils.common import explain_unit
from ansible_collections.virtops.compute.plugins.module_utils.config_drive.options import DRIVE_CONTENT_OPTIONS
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest.options import GUEST_OPTIONS
from ansible_collections.virtops.compute.plugins.module_utils.guest.wait import WAIT_CHOICES
from ansible_collections.virtops.compute.plugins.module_utils.storage.attachment_options import ATTACHMENT_OPTIONS

FLAVOR_KEYS = ('vcpus', 'max_vcpus', 'memory_mb', 'max_memory_mb', 'root_size_gb', 'disk_qos')
# the config_drive module's options, less where the image goes (the instance pool) and its state (the guest's)
CONFIG_DRIVE_OPTIONS = DRIVE_CONTENT_OPTIONS
VOLUME_OPTIONS = ATTACHMENT_OPTIONS

EXTRA_KEYS = ('flavor', 'volumes', 'wait_for', 'wait_timeout')
ITEM_OPTIONS = dict(GUEST_OPTIONS, config_drive=dict(type='raw'), flavor=dict(type='str'),
                    volumes=dict(type='list', elements='dict', options=VOLUME_OPTIONS),
                    wait_for=dict(type='str', choices=list(WAIT_CHOICES)), wait_timeout=dict(type='int'))
# values the module hides wherever they appear in the items, whatever the spec says of the key
SECRET_KEYS = ('password', 'admin_pass', 'chap_password', 'random_seed')


def secret_values(value):
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SECRET_KEYS and isinstance(inner, str) and inner:
                found.add(inner)
            else:
                found |= secret_values(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= secret_values(inner)
    return found


def _dotted(name):
    return '.'.join(str(part) for part in name) if isinstance(name, tuple) else str(name)


def spec_error(result):
    """The first problem ArgumentSpecValidator found, as a clause (no subject, no full stop)."""
    unknown = sorted(_dotted(name) for name in getattr(result, '_unsupported_parameters', ()) or ())
    if unknown:
        return 'unknown key%s %s' % ('s' if len(unknown) > 1 else '', ', '.join("'%s'" % name for name in unknown))
    return explain_unit(result.error_messages[0]).rstrip('.')


def apply_flavor(item, flavors, item_where):
    """The item with its flavor's values filled in where it gives none; raises for an unknown flavor."""
    name = item.get('flavor')
    if name is None:
        return item
    if not isinstance(name, str) or name not in flavors:
        known = ', '.join(sorted(flavors)) or 'none'
        raise VirtopsError("%s: flavor '%s' is not one of the defined flavors (%s)." % (item_where, name, known))
    flavor = flavors[name]
    if not isinstance(flavor, dict):
        raise VirtopsError("%s: flavor '%s' must be a dictionary of %s." % (item_where, name, ', '.join(FLAVOR_KEYS)))
    unknown = sorted(str(key) for key in flavor if key not in FLAVOR_KEYS)
    if unknown:
        raise VirtopsError("%s: flavor '%s' has the unknown key(s) %s (known: %s)."
                           % (item_where, name, ', '.join(unknown), ', '.join(FLAVOR_KEYS)))
    merged = dict(item)
    for key, value in flavor.items():
        # a flavor's root disk size means nothing to a guest booted from a kernel, without an image
        if key == 'root_size_gb' and not item.get('image'):
            continue
        if merged.get(key) is None:
            merged[key] = value
    return merged


def validate_drive(value, guest, item_where, secrets):
    """A config_drive dictionary checked and completed (name defaults to the guest's); a path is kept as it is."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise VirtopsError('%s: config_drive must be a path or a dictionary of metadata, got %s.' % (item_where, type(value).__name__))
    result = ArgumentSpecValidator(CONFIG_DRIVE_OPTIONS).validate(value)
    secrets.update(result._no_log_values)
    if result.error_messages:
        raise VirtopsError('%s: config_drive has %s.' % (item_where, spec_error(result)) if getattr(result, '_unsupported_parameters', None)
                           else '%s: config_drive: %s.' % (item_where, spec_error(result)))
    drive = result.validated_parameters
    drive['name'] = drive.get('name') or guest
    # the drive's layout code, only for items that describe a drive
    from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout as config_drive_layout
    # the metadata checks (network data, user data size, file paths) before anything is written
    config_drive_layout.normalise(dict(drive, uuid=drive.get('uuid') or '00000000-0000-0000-0000-000000000000'),
                                  '%s: config_drive' % item_where)
    return drive


def validate_volumes(volumes, item_where):
    """Checks on the attachments that need no host: target names, one source each, no target twice."""
    from ansible_collections.virtops.compute.plugins.module_utils.guest import spec as guest_spec
    from ansible_collections.virtops.compute.plugins.module_utils.storage import sources as disk_sources
    from ansible_collections.virtops.compute.plugins.module_utils.storage.attachment_options import TARGET_PATTERN
    reserved = dict((target, 'the config drive') for target in guest_spec.CONFIG_DRIVE_TARGETS.values())
    reserved[guest_spec.ROOT_TARGET] = 'the root disk'
    seen = {}
    for index, spec in enumerate(volumes or []):
        volume_where = '%s: volumes[%d]' % (item_where, index)
        target = spec['target']
        if not TARGET_PATTERN.fullmatch(target):
            raise VirtopsError("%s: target '%s' must be a device name like vdb or sdc." % (volume_where, target))
        if target in reserved:
            raise VirtopsError('%s: target %s is where the guest module puts %s.' % (volume_where, target, reserved[target]))
        if target in seen:
            raise VirtopsError('%s: target %s is already used by volumes[%d].' % (volume_where, target, seen[target]))
        seen[target] = index
        disk_sources.validate(volume_where, spec)
        if spec.get('size_gb') is not None and spec['size_gb'] < 1:
            raise VirtopsError('%s: size_gb must be at least 1, got %d.' % (volume_where, spec['size_gb']))


def validate_item(validator, item, index, flavors, defaults, secrets):
    """One item checked like the guest module's options plus the extra keys; returns it completed."""
    item_where = 'guests[%d]%s' % (index, " ('%s')" % item['name'] if isinstance(item.get('name'), str) else '')
    item = apply_flavor(item, flavors, item_where)
    result = validator.validate(item)
    secrets.update(result._no_log_values)
    if result.error_messages:
        raise VirtopsError('%s: %s.' % (item_where, spec_error(result)))
    params = result.validated_parameters
    params['config_drive'] = validate_drive(params.get('config_drive'), params['name'], item_where, secrets)
    validate_volumes(params.get('volumes'), item_where)
    for key, value in defaults.items():
        if params.get(key) is None:
            params[key] = value
    if params['wait_timeout'] < 1:
        raise VirtopsError('%s: wait_timeout must be at least 1, got %d.' % (item_where, params['wait_timeout']))
    if params['wait_for'] != 'none' and params['state'] == 'running':
        if params.get('guest_agent') is False:
            raise VirtopsError('%s: wait_for %s talks to the guest agent, and guest_agent is false.' % (item_where, params['wait_for']))
        params['guest_agent'] = True
    return params


def guest_options(params):
    """What GuestConverger takes: the item without the extra keys (the module's uri kept, for its local checks)."""
    return dict((key, value) for key, value in params.items() if key in GUEST_OPTIONS or key == 'uri')
