# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an attached disk's data lives: the ``volume_attachment`` sources as disk definitions.

Each source kind (pool volume, file, host block device, iSCSI LUN through QEMU's own
initiator, fibre channel LUN) is resolved to a ``Disk`` and to a short ``identity`` that
says whether two disks read the same data, so that "same source" and "swap" are decided
on what the source is rather than on how its XML happens to be spelled.
"""


import glob
import os
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, effective_uri
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.storage import chain
from ansible_collections.virtops.compute.plugins.module_utils.model.devices import Disk

IQN_PATTERN = re.compile(r'iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9][a-z0-9.-]*(:[^\s/]+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32}')
WWN_PATTERN = re.compile(r'(0x)?[0-9a-f]{16}')
BY_PATH = '/dev/disk/by-path'
SOURCE_KINDS = ('volume', 'path', 'block', 'iscsi', 'fibre_channel')


# a disk's <secret usage=...> is an objectName in libvirt's schema: no '/', no newline (a definition holding one
# fails validation, and every later redefinition of the guest with it)
USAGE_NAME = re.compile(r'[^/\n]+')


def chap_usage_id(iqn, username):
    """The usage name of the libvirt secret holding a CHAP password for ``username`` at ``iqn``."""
    return 'virtops-chap:%s:%s' % (iqn, username)


def validate(where, params):
    kinds = [kind for kind in SOURCE_KINDS if params.get(kind)]
    if params['state'] == 'present' and len(kinds) != 1:
        raise VirtopsError('%s: give exactly one source (volume, path, block, iscsi or fibre_channel), got %s.'
                           % (where, ', '.join(kinds) or 'none'))
    iscsi = params.get('iscsi')
    if iscsi:
        if not IQN_PATTERN.fullmatch(iscsi['iqn'] or ''):
            raise VirtopsError("%s: iscsi.iqn %r is not an iSCSI name like iqn.2026-11.com.example:target1."
                               % (where, iscsi['iqn']))
        host, _sep, port = (iscsi['portal'] or '').rpartition(':')
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise VirtopsError("%s: iscsi.portal '%s' must be host:port, for example 192.0.2.10:3260." % (where, iscsi['portal']))
        if iscsi.get('chap_password') and iscsi.get('chap_secret'):
            raise VirtopsError('%s: give iscsi.chap_password or iscsi.chap_secret, not both.' % where)
        if (iscsi.get('chap_password') or iscsi.get('chap_secret')) and not iscsi.get('chap_username'):
            raise VirtopsError('%s: CHAP needs iscsi.chap_username.' % where)
        for key in ('chap_username', 'chap_secret'):
            if iscsi.get(key) is not None and not USAGE_NAME.fullmatch(iscsi[key]):
                raise VirtopsError("%s: iscsi.%s %r holds a '/' or a line break, which libvirt does not take in a "
                                   "disk's secret reference." % (where, key, iscsi[key]))
    fc = params.get('fibre_channel')
    if fc and not WWN_PATTERN.fullmatch((fc['target_wwn'] or '').lower().replace(':', '')):
        raise VirtopsError("%s: fibre_channel.target_wwn '%s' is not a 16-digit hexadecimal WWN." % (where, fc['target_wwn']))


def kind_of(params):
    for kind in SOURCE_KINDS:
        if params.get(kind):
            return kind
    return None


def fc_device(target_wwn, lun, by_path=BY_PATH):
    """The host's block device for a fibre channel LUN, through its udev by-path link."""
    wwn = target_wwn.lower().replace(':', '')
    wwn = wwn[2:] if wwn.startswith('0x') else wwn
    matches = sorted(glob.glob(os.path.join(by_path, '*-fc-0x%s-lun-%d' % (wwn, lun))))
    if not matches:
        raise VirtopsError('no fibre channel path to target WWN 0x%s LUN %d on this host (nothing in %s).'
                           % (wwn, lun, by_path))
    return matches[0]


def _volume(conn, spec, where):
    pool = lookup.find_pool(conn, spec['pool'])
    if pool is None:
        raise VirtopsError("%s: storage pool '%s' does not exist." % (where, spec['pool']))
    vol = lookup.find_volume(pool, spec['name'])
    if vol is None:
        raise VirtopsError("%s: volume '%s' does not exist in pool '%s'." % (where, spec['name'], spec['pool']))
    return vol


def _format_of(conn, path):
    from ansible_collections.virtops.compute.plugins.module_utils.model.storage import StorageVolume
    vol = lookup.find_volume_by_path(conn, path)
    if vol is None:
        return 'raw'
    return StorageVolume.from_xml(vol.XMLDesc(0)).target_format or 'raw'


def check_new_source(conn, disk, params, where, local):
    """Before a file is attached (or swapped in): a format libvirt's pool guessed from the file's content (the guest
    may have written that content, a qcow2 header included) is believed only when the backing chain it implies stays
    in the host's pools; ``format`` given by the user vouches for the file's header (its chain must still name
    each backing file's format)."""
    if disk.type != 'file' or disk.driver_type == 'raw':
        return
    given = bool(params.get('format'))
    chain.check_backing_chain(conn, disk.source_file, disk.driver_type, where + (
        '' if given else " (its format %s was read from its content; give format: raw if it is a raw disk)"
        % disk.driver_type), local, require_pools=not given)


def resolve(conn, params, where, local):
    """(Disk, identity, storage volume or None) for the source in ``params``."""
    kind = kind_of(params)
    disk = Disk()
    disk.device = 'disk'
    disk.driver_name = 'qemu'
    vol = None
    if kind == 'volume':
        vol = _volume(conn, params['volume'], where)
        disk.type = 'file'
        disk.source_file = vol.path()
        disk.driver_type = params.get('format') or _format_of(conn, vol.path())
        identity = ('file', vol.path())
    elif kind == 'path':
        disk.type = 'file'
        disk.source_file = params['path']
        disk.driver_type = params.get('format') or _format_of(conn, params['path'])
        identity = ('file', params['path'])
        vol = lookup.find_volume_by_path(conn, params['path'])
        # only a plain qemu:/// uri shares this process's view of the files; through a transport, trust libvirt
        same_host = local and '+' not in effective_uri(params.get('uri')).split(':', 1)[0]
        if vol is None and same_host and not os.path.isfile(params['path']):
            raise VirtopsError("%s: path '%s' is not a file on the host." % (where, params['path']))
    elif kind in ('block', 'fibre_channel'):
        if kind == 'fibre_channel':
            if not local:
                raise VirtopsError('%s: fibre_channel paths are looked up on the host itself; run the module there '
                                   '(a local uri).' % where)
            device = fc_device(params['fibre_channel']['target_wwn'], params['fibre_channel']['lun'])
        else:
            device = params['block']
        disk.type = 'block'
        disk.source_dev = device
        disk.driver_type = 'raw'
        identity = ('block', device)
    else:
        iscsi = params['iscsi']
        host, _sep, port = iscsi['portal'].rpartition(':')
        disk.type = 'network'
        disk.driver_type = 'raw'
        disk.source_protocol = 'iscsi'
        disk.source_name = '%s/%d' % (iscsi['iqn'], iscsi['lun'])
        disk.source_hosts = [dict(name=host, port=int(port))]
        if iscsi.get('chap_username'):
            disk.auth_username = iscsi['chap_username']
            disk.auth_secret_type = 'iscsi'
            disk.auth_secret_usage = iscsi.get('chap_secret') or chap_usage_id(iscsi['iqn'], iscsi['chap_username'])
        identity = ('iscsi', host, int(port), iscsi['iqn'], iscsi['lun'])
    disk.target_dev = params['target']
    disk.target_bus = params['bus']
    if params.get('serial'):
        disk.serial = params['serial']
    disk.readonly = bool(params.get('readonly'))
    if params.get('error_policy'):
        disk.driver_error_policy = params['error_policy']
    if params.get('qos'):
        disk.iotune = dict((key, value) for key, value in params['qos'].items() if value)
    return disk, identity, vol


def identity_of(disk):
    """What ``resolve`` gives as identity, for a disk already in a definition."""
    if disk.type == 'network' and disk.source_protocol == 'iscsi':
        hosts = disk.source_hosts or [{}]
        iqn, _sep, lun = (disk.source_name or '').rpartition('/')
        return ('iscsi', hosts[0].get('name'), hosts[0].get('port') or 3260, iqn, int(lun) if lun.isdigit() else lun)
    if disk.type == 'block':
        return ('block', disk.source_dev)
    return ('file', disk.source_file)


def describe(disk):
    """A disk's source in words, for messages and results (never a secret)."""
    ident = identity_of(disk)
    if ident[0] == 'iscsi':
        return 'iscsi://%s:%s/%s/%s' % ident[1:]
    return ident[1]


def copy_destination(disk):
    """The part of ``disk`` a block copy writes to: its type, driver format and source (with iSCSI auth)."""
    dest = Disk()
    dest.type = disk.type
    dest.driver_type = disk.driver_type
    for name in ('source_file', 'source_dev', 'source_protocol', 'source_name', 'source_hosts', 'auth_username',
                 'auth_secret_type', 'auth_secret_usage'):
        value = getattr(disk, name)
        if value:
            setattr(dest, name, value)
    return dest
