"""x509_subject_dn gives a certificate's subject exactly as libvirt's virt-pki-query-dn prints it (and as
tls_allowed_dn_list is matched), from PEM text or a file; anything else fails with one sentence."""
import datetime
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.virtops.compute.plugins.filter.x509_subject_dn import FilterModule, x509_subject_dn

SUBJECTS = {
    'organisation and host': [(NameOID.ORGANIZATION_NAME, 'virtops fleet'), (NameOID.COMMON_NAME, 'cn1.fleet.test')],
    'country first, a comma and a plus to escape': [
        (NameOID.COUNTRY_NAME, 'GB'), (NameOID.ORGANIZATIONAL_UNIT_NAME, 'compute, east+west'),
        (NameOID.COMMON_NAME, 'host=7')],
}


def certificate(attributes):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'x509_subject_dn': x509_subject_dn}


@pytest.mark.parametrize('attributes', SUBJECTS.values(), ids=list(SUBJECTS))
def test_same_as_libvirt_prints_it(attributes, tmp_path):
    pem = certificate(attributes)
    path = tmp_path / 'cert.pem'
    path.write_text(pem)
    libvirt_dn = subprocess.run(['virt-pki-query-dn', str(path)], capture_output=True, text=True,
                                check=True).stdout.strip()
    assert x509_subject_dn(pem) == libvirt_dn
    assert x509_subject_dn(str(path)) == libvirt_dn


def test_text_before_the_certificate_is_ignored():
    pem = certificate(SUBJECTS['organisation and host'])
    assert x509_subject_dn('Bag Attributes\n' + pem) == 'O=virtops fleet,CN=cn1.fleet.test'


@pytest.mark.parametrize('value, says', [('/nonexistent/cert.pem', 'neither PEM text nor a readable file'),
                                         ('/etc/hostname', 'holds no PEM certificate'),
                                         ('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----',
                                          'cannot be read')])
def test_what_is_not_a_certificate_fails_in_one_sentence(value, says):
    with pytest.raises(AnsibleFilterError) as failure:
        x509_subject_dn(value)
    message = str(failure.value)
    assert says in message and message.endswith('.') and '\n' not in message
