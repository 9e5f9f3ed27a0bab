# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt secrets kept idempotent without ever reading their values.

Secrets made here are private (libvirt never hands their value out again), so a
value cannot be compared with what libvirt holds. Instead the secret's description
carries a salted scrypt digest of the value
(``[virtops-digest:scrypt:<log2 n>:<r>:<p>:<salt>:<hex>]``): the same value gives the same
digest, a different one does not, and since the description is readable by anyone with a
read-write connection (and is kept in /etc/libvirt/secrets), the digest is made slow and
memory-hard to compute, so that a weak CHAP password does not fall to an offline search.

The value is written before the digest: a failed ``setValue`` leaves the old digest, so the
next run still sees a difference and tries again. A description without a digest of this
kind (a secret made by someone else, or the single salted SHA-256 of earlier versions) means
"value unknown": the value is set once, and the digest with it.
"""


import hashlib
import hmac
import os
import re

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.lookup import find_secret
from ansible_collections.virtops.compute.plugins.module_utils.model.secret import Secret

# any digest tag this collection ever wrote: split off the description whatever its kind
DIGEST_TAG = re.compile(r'\s*\[virtops-digest:[^\]]*\]\s*$')
SCRYPT_TAG = re.compile(r'\s*\[virtops-digest:scrypt:([0-9]+):([0-9]+):([0-9]+):([0-9a-f]{32}):([0-9a-f]{64})\]\s*')
# scrypt's cost: n = 2**15 blocks of 128 * r bytes = 32 MiB of memory and about 0.1 s per digest on a server core
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1
# what a tag read back may ask for (at most 128 MiB): a hand-edited one must not make the module spin or run out of memory
_MAX_LOG2_N, _MAX_R, _MAX_P = 17, 8, 2
USAGE_TYPES = {'volume': 'VIR_SECRET_USAGE_TYPE_VOLUME', 'iscsi': 'VIR_SECRET_USAGE_TYPE_ISCSI',
               'ceph': 'VIR_SECRET_USAGE_TYPE_CEPH'}


def digest(value, salt, log2_n=SCRYPT_LOG2_N, r=SCRYPT_R, p=SCRYPT_P):
    if not hasattr(hashlib, 'scrypt'):
        raise VirtopsError('secrets: the Python on the host lacks hashlib.scrypt (it needs OpenSSL 1.1 or later), '
                           'which keeps the digest of a secret value slow to attack.')
    # OpenSSL refuses parameters whose memory (128 * r * n, and a little more) exceeds maxmem
    return hashlib.scrypt(value.encode('utf-8'), salt=bytes.fromhex(salt), n=2 ** log2_n, r=r, p=p,
                          maxmem=2 * 128 * r * 2 ** log2_n, dklen=32).hex()


def new_tag(value):
    """The description tag for ``value``, with a fresh salt."""
    salt = os.urandom(16).hex()
    return '[virtops-digest:scrypt:%d:%d:%d:%s:%s]' % (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, digest(value, salt))


def split_description(text):
    """(the description a user wrote, the digest tag or None)."""
    text = text or ''
    match = DIGEST_TAG.search(text)
    if not match:
        return text.strip() or None, None
    return text[:match.start()].strip() or None, match.group(0).strip()


def value_matches(tag, value):
    """True when ``tag`` is a scrypt digest of ``value``; an older or unknown tag never matches (the value is
    then rewritten, with a new tag)."""
    match = SCRYPT_TAG.fullmatch(tag or '')
    if not match:
        return False
    log2_n, r, p = (int(group) for group in match.groups()[:3])
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return False
    return hmac.compare_digest(digest(value, match.group(4), log2_n, r, p), match.group(5))


def describe_text(description, tag):
    return ' '.join(part for part in (description, tag) if part) or None


def lookup(conn, usage_type, usage_id):
    return find_secret(conn, getattr(libvirt, USAGE_TYPES[usage_type]), usage_id)


def describe(secret):
    """The secret as modules report it: never its value, nor the digest."""
    view = Secret.from_xml(secret.XMLDesc(0))
    description, tag = split_description(view.description)
    return dict(uuid=secret.UUIDString(), usage=view.usage_type, usage_id=view.usage_id, description=description,
                private=bool(view.private), value_known=SCRYPT_TAG.fullmatch(tag or '') is not None)


def _refused(usage_type, usage_id, err):
    return VirtopsError("secret for %s '%s': libvirt refused it: %s." % (usage_type, usage_id, ' '.join(
        (err.get_error_message() or '').split()).rstrip('.')))


def ensure(conn, usage_type, usage_id, value, description=None, check_mode=False):
    """Make the secret for (usage_type, usage_id) hold ``value``; returns (secret or None in check mode, [changes])."""
    secret = lookup(conn, usage_type, usage_id)
    changes = []
    if secret is None:
        changes.append('created')
        current_description, tag = None, None
        view = Secret()
        view.ephemeral = False
        view.private = True
        view.set_usage(usage_type, usage_id)
    else:
        view = Secret.from_xml(secret.XMLDesc(0))
        current_description, tag = split_description(view.description)
        if description is not None and description != current_description:
            changes.append('description')
    value_changes = value is not None and not value_matches(tag, value)
    if value_changes:
        changes.append('value')
    if not changes or check_mode:
        return secret, changes
    wanted_description = description if description is not None else current_description
    created = secret is None
    try:
        if value_changes:
            if created:
                # the new secret holds no value yet, so it carries no digest until the value is in
                view.description = wanted_description
                secret = conn.secretDefineXML(view.to_xml(), 0)
                view.uuid = secret.UUIDString()
            secret.setValue(value.encode('utf-8'), 0)
            tag = new_tag(value)
        view.description = describe_text(wanted_description, tag)
        secret = conn.secretDefineXML(view.to_xml(), 0)
    except libvirt.libvirtError as err:
        if created and secret is not None:
            # a secret without its value is worse than none: the next run makes it again
            try:
                remove(secret)
            except libvirt.libvirtError:
                pass
        raise _refused(usage_type, usage_id, err) from None
    return secret, changes


def remove(secret):
    secret.undefine()
