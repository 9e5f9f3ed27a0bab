"""The fleet's credentials, made by the lab on this machine (the controller):

- the SSH key pair Ansible logs in with (root on every host), 0600, and the known_hosts file that holds each
  host's own host keys (made here when the host is created, so no host key is ever taken on first use);
- a TLS CA and, per host, a server certificate (its FQDN, short name and address) and a client certificate
  (what its libvirtd presents to a peer's TLS listener), as an operator's PKI would provide them; and, for
  tests, client certificates with any subject the CA signs.
"""
import datetime
import ipaddress
import os
import subprocess

from lab.fleet import layout
from lab.proc import LabError

SSH_KEY = os.path.join(layout.SSH_DIR, 'id_ed25519')
KNOWN_HOSTS = os.path.join(layout.SSH_DIR, 'known_hosts')
ORGANIZATION = 'virtops fleet'
CA_CERT = os.path.join(layout.PKI_DIR, 'cacert.pem')
CA_KEY = os.path.join(layout.PKI_DIR, 'cakey.pem')


def _write(path, data, mode):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path + '.tmp', mode)
    os.replace(path + '.tmp', path)


def ensure_ssh_key():
    """The lab's SSH key pair (made once); returns the public key line."""
    if not os.path.exists(SSH_KEY) or not os.path.exists(SSH_KEY + '.pub'):
        os.makedirs(layout.SSH_DIR, mode=0o700, exist_ok=True)
        for path in (SSH_KEY, SSH_KEY + '.pub'):
            if os.path.exists(path):
                os.unlink(path)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'virtops-fleet-lab', '-f', SSH_KEY],
                       check=True, capture_output=True, timeout=30)
    os.chmod(layout.SSH_DIR, 0o700)
    os.chmod(SSH_KEY, 0o600)
    with open(SSH_KEY + '.pub') as handle:
        return handle.read().strip()


def make_host_keys(host):
    """Fresh SSH host keys inside the host's root (before its first boot); returns their public lines."""
    subprocess.run(['ssh-keygen', '-A', '-f', host.root], check=True, capture_output=True, timeout=60)
    return host_key_lines(host)


def host_key_lines(host):
    lines = []
    ssh_dir = os.path.join(host.root, 'etc', 'ssh')
    for name in sorted(os.listdir(ssh_dir)):
        if name.startswith('ssh_host_') and name.endswith('.pub'):
            with open(os.path.join(ssh_dir, name)) as handle:
                key_type, key = handle.read().split()[:2]
            lines.append('%s %s' % (key_type, key))
    if not lines:
        raise LabError('%s has no SSH host keys in %s' % (host.name, ssh_dir))
    return lines


def write_known_hosts(keys_by_host):
    """known_hosts for the controller: every name and the address of each host, with its keys."""
    text = ''
    for host, keys in keys_by_host:
        names = ','.join([host.fqdn, host.name, host.address])
        text += ''.join('%s %s\n' % (names, key) for key in keys)
    _write(KNOWN_HOSTS, text, 0o600)
    return KNOWN_HOSTS


# ---------------------------------------------------------------- TLS

def _x509():
    from cryptography import x509                     # the controller's Python has it (ansible-core needs it)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    return x509, hashes, serialization, rsa, ExtendedKeyUsageOID, NameOID


def _new_key():
    _x509_mod, _hashes, serialization, rsa, _eku, _oid = _x509()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    return key, pem


def subject(common_name, organization=ORGANIZATION):
    x509, _h, _s, _r, _e, NameOID = _x509()
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def dn_string(name):
    """A subject as libvirt prints and matches it (tls_allowed_dn_list): attributes in certificate order."""
    return ','.join(rdn.rfc4514_string() for rdn in name.rdns)


def _load_ca():
    x509, _h, serialization, _r, _e, _o = _x509()
    with open(CA_CERT, 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    with open(CA_KEY, 'rb') as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    return cert, key


def ensure_ca():
    if os.path.exists(CA_CERT) and os.path.exists(CA_KEY):
        return CA_CERT
    x509, hashes, serialization, _r, _e, _o = _x509()
    key, key_pem = _new_key()
    name = subject('virtops fleet lab CA')
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(CA_KEY, key_pem, 0o600)
    _write(CA_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return CA_CERT


def issue(cert_path, key_path, name, server_names=(), server_addresses=(), client=True):
    """A certificate signed by the fleet CA: a server one (names and addresses in subjectAltName) or a client
    one, with the key usages libvirt checks. Written as PEM files (key 0600); returns the cert path."""
    x509, hashes, serialization, _r, EKU, _o = _x509()
    ca_cert, ca_key = _load_ca()
    key, key_pem = _new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([EKU.CLIENT_AUTH if client else EKU.SERVER_AUTH]),
                              critical=False))
    if not client:
        alt = [x509.DNSName(n) for n in server_names]
        alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in server_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path


def host_tls_files(host):
    """{server_cert, server_key, client_cert, client_key} of a host, issued once."""
    directory = os.path.join(layout.PKI_DIR, host.name)
    files = {kind: os.path.join(directory, kind + '.pem')
             for kind in ('server_cert', 'server_key', 'client_cert', 'client_key')}
    ensure_ca()
    if not all(os.path.exists(path) for path in files.values()):
        issue(files['server_cert'], files['server_key'], subject(host.fqdn),
              server_names=(host.fqdn, host.name), server_addresses=(host.address,), client=False)
        issue(files['client_cert'], files['client_key'], subject(host.fqdn), client=True)
    return files


def client_dn(host):
    return dn_string(subject(host.fqdn))
