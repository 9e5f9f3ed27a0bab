# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What goes on a config drive: the OpenStack metadata tree as ``{path: bytes}``.

The tree follows what Nova's ``InstanceMetadata.metadata_for_config_drive`` writes and
cloud-init's ConfigDrive datasource reads:

- ``openstack/<version>/`` for each dated metadata version and ``latest``, with
  ``meta_data.json`` and ``user_data`` (when there is user data) in every version,
  ``vendor_data.json`` from 2013-10-17, ``network_data.json`` from 2015-10-15 and
  ``vendor_data2.json`` from 2016-10-06;
- ``openstack/content/0000``... holding injected files, which ``meta_data.json``
  lists as ``files: [{path, content_path: /content/0000}]``;
- ``ec2/<version>/meta-data.json`` (and ``user-data``) for the EC2 version Nova
  writes by default and ``latest``.

Everything here is pure: the same options give the same bytes.
"""


import base64
import binascii
import copy
import hashlib
import json
import posixpath
import uuid as uuidlib

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import network as config_drive_network
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.diff import REDACTED
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import content as image_content

LABEL = 'config-2'
OPENSTACK_VERSIONS = ('2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06',
                      '2017-02-22', '2018-08-27')
# Nova skips the EC2 versions before 2009-04-04 on a config drive (config_drive_skip_versions)
EC2_VERSIONS = ('2009-04-04',)
# from this version on (inclusive), the file or key is present
SINCE = {
    'random_seed': '2013-04-04',
    'vendor_data.json': '2013-10-17',
    'network_data.json': '2015-10-15',
    'devices': '2016-06-30',
    'vendor_data2.json': '2016-10-06',
}
MAX_USER_DATA = 65536
CONTENT_DIR = 'content'
# names a user's guest is told to drive (uuid) must not change from run to run, so a missing uuid is derived
UUID_NAMESPACE = uuidlib.UUID('7f1c6b2e-4c1d-5b8e-9a57-2f0c3d6e8a41')


def has(version, what):
    """Whether metadata ``version`` ('latest' included) carries the file or key ``what``."""
    return version == 'latest' or version >= SINCE[what]


def _json(data):
    return json.dumps(data, sort_keys=True, separators=(', ', ': ')).encode('utf-8')


PASSWORD_KEYS = ('admin_pass', 'adminpass', 'admin_password', 'password', 'passwd', 'root_password')


def normalise(params, where):
    """The options of a drive, checked and completed; raises VirtopsError with one sentence."""
    name = params.get('name') or params.get('hostname')
    if not name and not params.get('uuid'):
        raise VirtopsError('%s: one of name, hostname or uuid is needed to describe the guest.' % where)
    drive_uuid = params.get('uuid')
    if drive_uuid:
        try:
            drive_uuid = str(uuidlib.UUID(str(drive_uuid)))
        except ValueError:
            raise VirtopsError('%s: uuid %r is not a UUID.' % (where, drive_uuid))
    else:
        drive_uuid = str(uuidlib.uuid5(UUID_NAMESPACE, name))
    for key in params.get('meta') or {}:
        if str(key).lower().replace('-', '_') in PASSWORD_KEYS:
            # meta is not no_log: Ansible would print the password with the task's arguments
            raise VirtopsError("%s: meta key '%s' looks like a password; give it as admin_pass, which stays out of "
                               "logs and results." % (where, key))
    user_data = params.get('user_data')
    if user_data is not None:
        user_data = user_data.encode('utf-8') if not isinstance(user_data, bytes) else user_data
        if len(user_data) > MAX_USER_DATA:
            raise VirtopsError('%s: user_data is %d bytes, over the %d-byte limit cloud platforms apply.'
                               % (where, len(user_data), MAX_USER_DATA))
    files = []
    for entry in params.get('files') or []:
        path = str(entry.get('path') or '')
        if not path.startswith('/') or posixpath.normpath(path) != path.rstrip('/') or path.endswith('/'):
            raise VirtopsError("%s: file path '%s' is not an absolute, normalised file path." % (where, path))
        if path in [known for known, _content in files]:
            raise VirtopsError("%s: file path '%s' is given twice." % (where, path))
        content = entry.get('content')
        content = b'' if content is None else content
        files.append((path, content.encode('utf-8') if not isinstance(content, bytes) else content))
    if params.get('network_data') and params.get('network_data_from_nics'):
        raise VirtopsError('%s: network_data and network_data_from_nics are mutually exclusive.' % where)
    if params.get('network_data_from_nics'):
        network_data = config_drive_network.from_nics(params['network_data_from_nics'], where)
    elif params.get('network_data') is not None:
        network_data = config_drive_network.validate(params['network_data'], where)
    else:
        network_data = None
    seed = params.get('random_seed')
    if seed:
        try:
            base64.b64decode(seed, validate=True)
        except (binascii.Error, ValueError):
            raise VirtopsError('%s: random_seed is not base64 text.' % where)
    return dict(
        uuid=drive_uuid,
        name=params.get('name') or params.get('hostname') or drive_uuid,
        hostname=params.get('hostname') or params.get('name') or drive_uuid,
        public_keys=dict(params.get('public_keys') or {}),
        admin_pass=params.get('admin_pass'),
        meta=dict((str(key), str(value)) for key, value in (params.get('meta') or {}).items()),
        user_data=user_data,
        vendor_data=params.get('vendor_data') or None,
        network_data=network_data or None,
        files=files,
        availability_zone=params.get('availability_zone'),
        launch_index=params.get('launch_index') or 0,
        random_seed=seed or None,
    )


def meta_data(spec, version='latest'):
    """``openstack/<version>/meta_data.json`` as a dict, keys as Nova writes them."""
    data = dict(uuid=spec['uuid'], name=spec['name'], hostname=spec['hostname'],
                launch_index=spec['launch_index'], availability_zone=spec['availability_zone'])
    if spec['meta']:
        data['meta'] = spec['meta']
    if spec['files']:
        data['files'] = [dict(path=path, content_path='/%s/%04d' % (CONTENT_DIR, index))
                         for index, (path, _content) in enumerate(spec['files'])]
    if spec['public_keys']:
        data['public_keys'] = dict(spec['public_keys'])
        data['keys'] = [dict(name=key_name, type='ssh', data=key) for key_name, key in sorted(spec['public_keys'].items())]
    if spec['admin_pass'] is not None:
        data['admin_pass'] = spec['admin_pass']
    if spec['random_seed'] and has(version, 'random_seed'):
        data['random_seed'] = spec['random_seed']
    if has(version, 'devices'):
        data['devices'] = []
    return data


def ec2_meta_data(spec):
    """``ec2/<version>/meta-data.json``: the EC2 keys Nova fills from what a config drive knows."""
    data = {
        'ami-launch-index': spec['launch_index'],
        'hostname': spec['hostname'],
        'local-hostname': spec['hostname'],
        'public-hostname': spec['hostname'],
        'instance-id': 'i-%s' % spec['uuid'].replace('-', '')[:8],
        'instance-action': 'none',
        'placement': {'availability-zone': spec['availability_zone']},
    }
    if spec['public_keys']:
        key_name = sorted(spec['public_keys'])[0]
        data['public-keys'] = {'0': {'openssh-key': spec['public_keys'][key_name]}}
    return data


ADMIN_USER = 'root'
_SALT_CHARS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'


def admin_pass_cloud_config(spec):
    """The cloud-config that makes cloud-init set root's password from ``admin_pass``: cloud-init reads no admin_pass
    from meta_data.json (cloudbase-init does), but applies a ``cloud-init`` key of vendor_data2.json as vendor data.

    A SHA-512 crypt hash (cloud-init 22.3's ``chpasswd.users`` with ``type: hash``), salted from the drive's uuid so
    that the same options give the same bytes; the plain password where the host's Python has no crypt module (it
    is on the drive in meta_data.json anyway)."""
    password = spec['admin_pass']
    if image_content.HAS_CRYPT:
        digest = hashlib.sha256(('virtops-admin-pass:' + spec['uuid']).encode()).digest()
        salt = ''.join(_SALT_CHARS[byte % len(_SALT_CHARS)] for byte in digest[:16])
        entry = dict(name=ADMIN_USER, password=image_content.hash_password(password, salt), type='hash')
    else:
        entry = dict(name=ADMIN_USER, password=password, type='text')
    return '#cloud-config\n' + json.dumps(dict(chpasswd=dict(expire=False, users=[entry])), sort_keys=True) + '\n'


def tree(spec):
    """Every file of the drive: ``{'openstack/latest/meta_data.json': b'...', ...}``."""
    files = {}
    for version in EC2_VERSIONS + ('latest',):
        files['ec2/%s/meta-data.json' % version] = _json(ec2_meta_data(spec))
        if spec['user_data'] is not None:
            files['ec2/%s/user-data' % version] = spec['user_data']
    vendor_data = spec['vendor_data'] or {}
    for version in OPENSTACK_VERSIONS + ('latest',):
        base = 'openstack/%s/' % version
        files[base + 'meta_data.json'] = _json(meta_data(spec, version))
        if spec['user_data'] is not None:
            files[base + 'user_data'] = spec['user_data']
        if has(version, 'vendor_data.json'):
            files[base + 'vendor_data.json'] = _json(vendor_data)
        if has(version, 'network_data.json'):
            files[base + 'network_data.json'] = _json(spec['network_data'] or {})
        if has(version, 'vendor_data2.json'):
            # Nova's StaticJSON vendordata provider files the static data under "static"; cloud-init applies what
            # stands under "cloud-init"
            vendor_data2 = dict(static=vendor_data) if vendor_data else {}
            if spec['admin_pass'] is not None:
                vendor_data2['cloud-init'] = admin_pass_cloud_config(spec)
            files[base + 'vendor_data2.json'] = _json(vendor_data2)
    for index, (_path, content) in enumerate(spec['files']):
        files['openstack/%s/%04d' % (CONTENT_DIR, index)] = content
    return files


def redact(metadata):
    """``meta_data.json`` as results and diffs may show it: the admin password and the seed replaced."""
    shown = copy.deepcopy(metadata)
    for key in ('admin_pass', 'random_seed'):
        if shown.get(key) is not None:
            shown[key] = REDACTED
    return shown


def summary(spec, files):
    """What the drive holds, for results and diffs (never the admin password, never file contents)."""
    return dict(
        meta_data=redact(meta_data(spec)),
        network_data=spec['network_data'],
        vendor_data=spec['vendor_data'],
        user_data_bytes=None if spec['user_data'] is None else len(spec['user_data']),
        files=[path for path, _content in spec['files']],
        paths=sorted(files),
    )


def summary_from_tree(files):
    """The same summary read back from the files of an existing drive (None when it is not a drive)."""
    try:
        latest = json.loads(files['openstack/latest/meta_data.json'].decode('utf-8'))
        network_data = json.loads(files.get('openstack/latest/network_data.json', b'{}').decode('utf-8')) or None
        vendor_data = json.loads(files.get('openstack/latest/vendor_data.json', b'{}').decode('utf-8')) or None
    except (KeyError, ValueError):
        return None
    user_data = files.get('openstack/latest/user_data')
    return dict(meta_data=redact(latest), network_data=network_data, vendor_data=vendor_data,
                user_data_bytes=None if user_data is None else len(user_data),
                files=[entry.get('path') for entry in latest.get('files') or []], paths=sorted(files))
