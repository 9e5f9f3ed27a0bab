"""Live migration over TLS between lab-host10 and lab-host11, given certificates made for the test: the source's
libvirtd reaches the destination through qemu+tls:// (client certificate, CA, a server certificate for 127.0.0.1),
and with the migrate module's ``tls`` the two QEMU processes encrypt the migration stream.

The hosts get TLS by editing their own libvirtd.conf/qemu.conf (private to their mount namespace) and restarting
them with their state kept; the certificates live in the shared directory every lab host sees. Both hosts are
stopped at the end, so that no other test meets their TLS settings."""
import os
import shutil
import subprocess

import libvirt
import pytest

from lab import guests, hosts, tally
from lab.proc import say
from lab.runner import run_module
from test_migrate import MIGRATION_URI, find, start_domain, tiny_domain_xml, uptime

NAME = 'lab-ri-tls'
PKI = os.path.join(guests.SHARED_DIR, 'ri-tls', 'pki')
TLS_PORT_BASE = 16700
MARK = '# --- virtops ri-tls ---'
EXTENSIONS = ('basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
              'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n')


def _openssl(*args):
    subprocess.run(['openssl'] + list(args), check=True, capture_output=True)


def make_pki(root):
    """A CA and one certificate for 127.0.0.1 (server and client use), laid out for libvirt and QEMU."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root, mode=0o755)
    ca_key, ca_cert = os.path.join(root, 'ca-key.pem'), os.path.join(root, 'ca-cert.pem')
    _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca_key, '-out', ca_cert, '-days', '2',
             '-subj', '/CN=virtops lab CA', '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    key, csr, cert = (os.path.join(root, name) for name in ('key.pem', 'req.csr', 'cert.pem'))
    ext = os.path.join(root, 'ext.cnf')
    with open(ext, 'w') as handle:
        handle.write(EXTENSIONS)
    _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1')
    _openssl('x509', '-req', '-in', csr, '-CA', ca_cert, '-CAkey', ca_key, '-CAcreateserial', '-out', cert,
             '-days', '2', '-extfile', ext)
    # libvirt's client side (pkipath=) and QEMU's (migrate_tls_x509_cert_dir) each want their own file names
    layout = {'client': {'cacert.pem': ca_cert, 'clientcert.pem': cert, 'clientkey.pem': key},
              'qemu': {'ca-cert.pem': ca_cert, 'server-cert.pem': cert, 'server-key.pem': key,
                       'client-cert.pem': cert, 'client-key.pem': key}}
    for sub, files in layout.items():
        os.makedirs(os.path.join(root, sub), mode=0o755)
        for name, source in files.items():
            shutil.copy(source, os.path.join(root, sub, name))
    # QEMU runs as libvirt-qemu and must read its key; nobody else may
    for name in ('server-key.pem', 'client-key.pem'):
        shutil.chown(os.path.join(root, 'qemu', name), 'libvirt-qemu', 'libvirt-qemu')
    for path in (key, ca_key, os.path.join(root, 'client', 'clientkey.pem')):
        os.chmod(path, 0o600)
    return dict(ca=ca_cert, cert=cert, key=key, client=os.path.join(root, 'client'), qemu=os.path.join(root, 'qemu'))


def _configure(host, pki):
    etc = os.path.join(host.state_dir, 'root', 'etc')
    conf = os.path.join(etc, 'libvirtd.conf')
    with open(conf) as handle:
        text = handle.read()
    # QEMU monitor traffic at debug level: the proof that both QEMUs set up TLS credentials for the stream
    text = text.replace('listen_tls = 0', 'listen_tls = 1').replace(
        'log_outputs = "3:file:', 'log_outputs = "1:file:')
    text += ('\n%s\ntls_port = "%d"\nca_file = "%s"\ncert_file = "%s"\nkey_file = "%s"\n'
             'log_filters = "1:qemu.qemu_monitor 3:*"\n'
             % (MARK, TLS_PORT_BASE + host.index, pki['ca'], pki['cert'], pki['key']))
    with open(conf, 'w') as handle:
        handle.write(text)
    with open(os.path.join(etc, 'qemu.conf'), 'a') as handle:
        handle.write('\n%s\nmigrate_tls_x509_cert_dir = "%s"\nmigrate_tls_x509_verify = 1\n' % (MARK, pki['qemu']))


@pytest.fixture(scope='module')
def tls_hosts(lab_libvirt):
    pki = make_pki(PKI)
    started = []
    try:
        for index in (10, 11):
            host = hosts.start_host(index, log=say)
            hosts.stop_host(host, log=say)
            _configure(host, pki)
            started.append(hosts.start_host(index, log=say, keep_state=True))
        yield started, pki
    finally:
        for host in started:
            hosts.stop_host(host, log=say)
        shutil.rmtree(os.path.dirname(PKI), ignore_errors=True)


def _tls_uri(host, pki):
    return 'qemu+tls://127.0.0.1:%d/system?pkipath=%s' % (TLS_PORT_BASE + host.index, pki['client'])


def test_migration_over_tls(tls_hosts, tiny_image):
    (src_host, dst_host), pki = tls_hosts
    dest_uri = _tls_uri(dst_host, pki)
    # the destination answers on TLS, with our certificates, and refuses a client without them
    over_tls = libvirt.open(dest_uri)
    assert over_tls.getHostname() == dst_host.name
    over_tls.close()
    with pytest.raises(libvirt.libvirtError):
        libvirt.open(dest_uri.replace(pki['client'], pki['qemu']))     # no client certificate there

    src, dst = libvirt.open(src_host.uri), libvirt.open(dst_host.uri)
    try:
        start_domain(src, tiny_domain_xml(NAME, tiny_image, memory_mib=160))
        up = uptime(src, NAME, 240)
        log_start = os.path.getsize(dst_host.log_path)
        params = dict(uri=src_host.uri, guest=NAME, dest_uri=dest_uri, migration_uri=MIGRATION_URI, tls=True)
        checked = run_module('migrate', check=True, **params)
        assert not checked.failed and checked.changed and 'tls' in checked['migration']['flags'], checked.msg
        assert find(dst, NAME) is None
        moved = run_module('migrate', **params)
        assert not moved.failed, moved.msg
        assert moved.changed and 'tls' in moved['migration']['flags']
        assert find(src, NAME) is None and find(dst, NAME).isActive()
        assert uptime(dst, NAME, 240) > up, 'the guest rebooted instead of moving'
        with open(dst_host.log_path, errors='replace') as handle:
            handle.seek(log_start)
            log = handle.read()
        assert '"tls-creds-x509"' in log and '"endpoint":"server"' in log, \
            'the destination QEMU set up no TLS credentials for the incoming stream'
        assert '"tls-creds":"objlibvirt_migrate_tls0"' in log, 'the incoming migration did not use them'
        again = run_module('migrate', **params)
        assert not again.failed and not again.changed
        tally.case('TLS migrations proven', 'a running guest between two lab hosts over qemu+tls')
    finally:
        for conn in (src, dst):
            guests.remove_guest(conn, NAME)
            conn.close()
        guests.remove_guest_files(NAME)
