# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt secrets kept idempotent without ever reading their values.

Secrets made here are private (libvirt never hands their value out again), so a
value cannot be compared with what libvirt holds. Instead the secret's description
carries a salted SHA-256 digest of the value (``virtops-digest:sha256:<salt>:<hex>``);
the same value gives the same digest, a different one does not, and the digest does
not give the value away. A secret without such a digest (made by someone else) gets
its value set once, and the digest with it.
"""


import hashlib
import os
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_secret
from ansible_collections.virtops.compute.plugins.module_utils.model.secret import Secret

DIGEST_PATTERN = re.compile(r'\s*\[virtops-digest:sha256:([0-9a-f]{16}):([0-9a-f]{64})\]\s*$')
USAGE_TYPES = {'volume': 'VIR_SECRET_USAGE_TYPE_VOLUME', 'iscsi': 'VIR_SECRET_USAGE_TYPE_ISCSI',
               'ceph': 'VIR_SECRET_USAGE_TYPE_CEPH'}


def _digest(salt, value):
    return hashlib.sha256((salt + ':' + value).encode('utf-8')).hexdigest()


def split_description(text):
    """(the description a user wrote, (salt, digest) or None)."""
    text = text or ''
    match = DIGEST_PATTERN.search(text)
    if not match:
        return text.strip() or None, None
    return text[:match.start()].strip() or None, (match.group(1), match.group(2))


def value_matches(stored, value):
    return stored is not None and _digest(stored[0], value) == stored[1]


def lookup(conn, usage_type, usage_id):
    return find_secret(conn, getattr(libvirt, USAGE_TYPES[usage_type]), usage_id)


def describe(secret):
    """The secret as modules report it: never its value, nor the digest."""
    view = Secret.from_xml(secret.XMLDesc(0))
    description, stored = split_description(view.description)
    return dict(uuid=secret.UUIDString(), usage=view.usage_type, usage_id=view.usage_id, description=description,
                private=bool(view.private), value_known=stored is not None)


def ensure(conn, usage_type, usage_id, value, description=None, check_mode=False):
    """Make the secret for (usage_type, usage_id) hold ``value``; returns (secret or None in check mode, [changes])."""
    secret = lookup(conn, usage_type, usage_id)
    changes = []
    if secret is None:
        changes.append('created')
        current_description, stored = None, None
        view = Secret()
        view.ephemeral = False
        view.private = True
        view.set_usage(usage_type, usage_id)
    else:
        view = Secret.from_xml(secret.XMLDesc(0))
        current_description, stored = split_description(view.description)
        if description is not None and description != current_description:
            changes.append('description')
    value_changes = value is not None and not value_matches(stored, value)
    if value_changes:
        changes.append('value')
    if not changes or check_mode:
        return secret, changes
    wanted_description = description if description is not None else current_description
    if value is not None:
        salt = os.urandom(8).hex()
        stored = (salt, _digest(salt, value))
    text = wanted_description or ''
    if stored:
        text = (text + ' ' if text else '') + '[virtops-digest:sha256:%s:%s]' % stored
    view.description = text or None
    try:
        secret = conn.secretDefineXML(view.to_xml(), 0)
        if value_changes:
            secret.setValue(value.encode('utf-8'), 0)
    except libvirt.libvirtError as err:
        raise VirtopsError("secret for %s '%s': libvirt refused it: %s." % (usage_type, usage_id, ' '.join(
            (err.get_error_message() or '').split()).rstrip('.'))) from None
    return secret, changes


def remove(secret):
    secret.undefine()
