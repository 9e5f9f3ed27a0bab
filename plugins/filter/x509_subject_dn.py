# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subject of an X.509 certificate as libvirt matches it against tls_allowed_dn_list.

The documentation lives in x509_subject_dn.yml next to this file.
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text

PEM_MARKER = '-----BEGIN CERTIFICATE-----'


def _pem(value):
    """The certificate's PEM bytes: the value itself, or the file on the controller it names."""
    text = to_text(value)
    if PEM_MARKER in text:
        return to_bytes(text)
    try:
        with open(text, 'rb') as handle:
            data = handle.read()
    except (OSError, TypeError) as exc:
        raise AnsibleFilterError('x509_subject_dn: %r is neither PEM text nor a readable file (%s).' % (text, exc))
    if to_bytes(PEM_MARKER) not in data:
        raise AnsibleFilterError('x509_subject_dn: %s holds no PEM certificate.' % text)
    return data


def x509_subject_dn(value):
    """libvirt prints and compares a distinguished name with the attributes in the order the certificate
    holds them (as virt-pki-query-dn shows), each escaped as RFC 4514 says."""
    try:
        from cryptography import x509
    except ImportError:
        raise AnsibleFilterError('x509_subject_dn needs the Python cryptography library on the controller.')
    data = _pem(value)
    start = data.index(to_bytes(PEM_MARKER))
    try:
        cert = x509.load_pem_x509_certificate(data[start:])
    except ValueError as exc:
        raise AnsibleFilterError('x509_subject_dn: the certificate cannot be read (%s).' % exc)
    return ','.join(rdn.rfc4514_string() for rdn in cert.subject.rdns)


class FilterModule:
    """X.509 certificate helpers."""

    def filters(self):
        return dict(x509_subject_dn=x509_subject_dn)
