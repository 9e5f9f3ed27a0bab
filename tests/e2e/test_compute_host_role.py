"""The compute_host role on lab host 7, run inside the host's namespaces as on a real compute host (no systemd
here, so its daemons go through their pid files): settings, TCP listener, restart, storage pool, network,
nwfilter, an OVS bridge and the state file; a second run changes nothing, a check run touches nothing, bad
variables fail with one sentence before anything changes, and a TLS listener answers a qemu+tls client."""
import json
import os
import re
import subprocess
import time

import libvirt
import pytest

from lab import fixtures, hosts, tally
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.inventory import write_inventory
from lab.runner import bad_inputs_play, run_module, run_playbook

INDEX = 7
POOL, NETWORK, NWFILTER = 'lab-ch-pool', 'lab-ch-net', 'lab-ch-sg'
BRIDGE, OVS_BRIDGE = 'lab-ch-br0', 'lab-ch-ovs'
TLS_PORT = 16700 + INDEX
PLAY = """
- name: Compute host
  hosts: compute
  gather_facts: false
  roles:
    - role: virtops.compute.compute_host
"""


@pytest.fixture(scope='module')
def host7(lab_libvirt, ovs_bridge):
    # a host reused from an earlier session carries what that session's role runs left: start it afresh
    if hosts.get_host(INDEX).libvirtd_pid:
        hosts.stop_host(INDEX)
    drop_leftovers()
    gen = fixtures._lab_host(INDEX)         # pylint: disable=protected-access
    host = next(gen)         # pylint: disable=stop-iteration-return
    yield host
    hosts.stop_host(INDEX)
    drop_leftovers()
    next(gen, None)


def drop_leftovers():
    """What a stopped lab host leaves in the machine's network namespace: its network's bridge, the OVS bridges."""
    subprocess.run(['ip', 'link', 'del', BRIDGE], capture_output=True, check=False)
    for name in (OVS_BRIDGE, OVS_BRIDGE + '2'):
        subprocess.run(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', name], check=False)


@pytest.fixture(scope='module')
def inventory(host7, tmp_path_factory):
    return write_inventory(str(tmp_path_factory.mktemp('compute_host') / 'inventory.json'), [host7])


def root(host, *parts):
    """A path inside the host's private directories, as seen from outside its namespace."""
    return os.path.join(host.state_dir, 'root', *parts)


def base_vars(host):
    return {
        # the modules run under this virtualenv's Python, which has libvirt-python from PyPI
        'compute_host_python_bindings': False,
        'compute_host_libvirtd_pid_file': os.path.join(host.state_dir, 'libvirtd.pid'),
        'compute_host_virtlogd_pid_file': os.path.join(host.state_dir, 'virtlogd.pid'),
        'compute_host_migration_listener': 'tcp',
        'compute_host_migration_listen_address': '127.0.0.1',
        'compute_host_migration_listen_port': host.tcp_port,
        'compute_host_migration_auth': 'none',
        'compute_host_libvirtd_conf': {'max_clients': 200, 'admin_max_workers': None},
        'compute_host_qemu_conf': {'max_processes': 0, 'set_process_name': True},
        'compute_host_storage_pools': [{'name': POOL, 'path': '/var/lib/libvirt/images/' + POOL}],
        'compute_host_networks': [{'name': NETWORK, 'mode': 'isolated', 'bridge': BRIDGE}],
        'compute_host_nwfilters': [{'name': NWFILTER, 'rules': [{'protocol': 'tcp', 'port_range_min': 22}]}],
        'compute_host_ovs_bridges': [{'name': OVS_BRIDGE, 'datapath_type': 'netdev'}],
        # the lab's Open vSwitch is the test session's (lab.ovs), not one ovs-ctl would start
        'compute_host_manage_ovs_service': False,
    }


def play(inventory, extra, check=False):
    start = time.monotonic()
    result = run_playbook(PLAY, extra_vars=extra, check=check, diff=check, args=('-i', inventory), timeout=600)
    result.took = time.monotonic() - start
    return result


def recap(result, host):
    found = re.search(r'^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % host.name,
                      result.stdout, re.M)
    assert found, result.stdout[-3000:] + result.stderr[-2000:]
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, found.groups())))


def read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def config_files(host):
    return {name: read(root(host, 'etc', name)) for name in ('libvirtd.conf', 'qemu.conf')}


def ovs_datapath(name):
    proc = subprocess.run(['ovs-vsctl', '--timeout=10', '--if-exists', 'get', 'bridge', name, 'datapath_type'],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip() or None


def test_converges_then_changes_nothing(host7, inventory):
    before_conf = config_files(host7)
    pid_before = hosts.get_host(INDEX).libvirtd_pid
    first = play(inventory, base_vars(host7))
    assert first.rc == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first, host7)['changed'] > 0
    # the changed settings restarted libvirtd once, through its pid file (no systemd here)
    assert 'RUNNING HANDLER [virtops.compute.compute_host : Restart libvirtd]' in first.stdout
    assert hosts.get_host(INDEX).libvirtd_pid not in (0, pid_before)

    libvirtd_conf = read(root(host7, 'etc', 'libvirtd.conf')).decode()
    qemu_conf = read(root(host7, 'etc', 'qemu.conf')).decode()
    assert re.search(r'^max_clients = 200$', libvirtd_conf, re.M)
    assert re.search(r'^set_process_name = 1$', qemu_conf, re.M) and re.search(r'^max_processes = 0$', qemu_conf, re.M)
    # the lab's own lines and the packaged comments are kept; the listener lines were already what was asked
    for line in ('host_uuid = "%s"' % host7.host_uuid, 'tcp_port = "%d"' % host7.tcp_port, 'auth_tcp = "none"',
                 'listen_addr = "127.0.0.1"', 'listen_tcp = 1', '#max_clients = 5000'):
        assert line in libvirtd_conf, line
    assert len(libvirtd_conf.splitlines()) == len(before_conf['libvirtd.conf'].decode().splitlines()) + 1

    conn = libvirt.open(host7.uri)
    try:
        pool = conn.storagePoolLookupByName(POOL)
        assert pool.isActive() and pool.autostart()
        assert os.path.isdir(root(host7, 'lib', 'images', POOL))
        net = conn.networkLookupByName(NETWORK)
        assert net.isActive() and net.bridgeName() == BRIDGE
        assert 'dstportstart=\'22\'' in conn.nwfilterLookupByName(NWFILTER).XMLDesc(0)
    finally:
        conn.close()
    assert ovs_datapath(OVS_BRIDGE) == 'netdev'
    with open(root(host7, 'ansible', 'facts.d', 'virtops_compute.fact')) as handle:
        assert json.load(handle)['service_state'] == 'enabled'
    info = run_module('host_info', nsenter_pid=hosts.get_host(INDEX).libvirtd_pid, uri='qemu:///system', probe=False)
    assert info['host']['service_state'] == 'enabled'

    # someone takes the host out of placement; the role must not put it back
    disabled = run_module('host', nsenter_pid=hosts.get_host(INDEX).libvirtd_pid, uri='qemu:///system',
                          state='disabled', reason='burn-in')
    assert disabled.changed, disabled.data
    pid = hosts.get_host(INDEX).libvirtd_pid
    second = play(inventory, base_vars(host7))
    assert second.rc == 0, second.stdout[-4000:]
    counts = recap(second, host7)
    assert (counts['changed'], counts['failed']) == (0, 0), second.stdout[-4000:]
    assert 'RUNNING HANDLER' not in second.stdout
    assert hosts.get_host(INDEX).libvirtd_pid == pid
    with open(root(host7, 'ansible', 'facts.d', 'virtops_compute.fact')) as handle:
        assert json.load(handle)['service_state'] == 'disabled'
    print('first run %.1f s, second run %.1f s' % (first.took, second.took))


def test_check_mode_changes_nothing(host7, inventory):
    wanted = base_vars(host7)
    wanted['compute_host_libvirtd_conf'] = {'max_clients': 300, 'keepalive_interval': 7}
    wanted['compute_host_qemu_conf'] = {'max_processes': None}
    wanted['compute_host_storage_pools'].append({'name': POOL + '2', 'path': '/var/lib/libvirt/images/' + POOL + '2'})
    wanted['compute_host_networks'][0]['state'] = 'inactive'
    wanted['compute_host_nwfilters'][0]['rules'].append({'protocol': 'icmp'})
    wanted['compute_host_ovs_bridges'].append({'name': OVS_BRIDGE + '2', 'datapath_type': 'netdev'})
    state_file = root(host7, 'ansible', 'facts.d', 'virtops_compute.fact')
    os.unlink(state_file)
    conn = libvirt.open(host7.uri)
    try:
        paths = [root(host7, 'etc'), root(host7, 'ansible')]
        before = libvirt_snapshot(conn, paths)
        pid = hosts.get_host(INDEX).libvirtd_pid
        check = play(inventory, wanted, check=True)
        assert check.rc == 0, check.stdout[-4000:] + check.stderr[-2000:]
        # settings, pool, network, filter, bridge and state file would change (and libvirtd restart)
        assert recap(check, host7)['changed'] >= 6, check.stdout[-4000:]
        assert '+max_clients = 300' in check.stdout and '-max_processes = 0' in check.stdout
        assert libvirt_snapshot(conn, paths) == before
        assert hosts.get_host(INDEX).libvirtd_pid == pid
        assert ovs_datapath(OVS_BRIDGE + '2') is None
        assert read(state_file) is None
    finally:
        conn.close()
    tally.case('check-mode changes compared', 'compute_host role')


BAD = [
    ({'compute_host_migration_listener': 'tls'}, ['compute_host_tls_ca_cert', 'compute_host_tls_server_key', "'tls'"]),
    ({'compute_host_storage_pools': [{'path': '/var/lib/libvirt/images/x'}]}, ['compute_host_storage_pools', 'name']),
    ({'compute_host_qemu_conf': {'Max-Files': 10}}, ['Max-Files', 'compute_host_qemu_conf']),
]


def test_bad_variables_fail_before_anything_changes(host7, inventory, tmp_path):
    cases = [extra for extra, _names in BAD] + [{'compute_host_os_family': 'Suse'}]
    out = str(tmp_path / 'failures.json')
    conn = libvirt.open(host7.uri)
    paths = [root(host7, 'etc'), root(host7, 'ansible')]
    try:
        before = libvirt_snapshot(conn, paths)
        # the family and service manager given, so a case fails without anything run on the host before it
        play_vars = dict(base_vars(host7), compute_host_os_family='Debian', compute_host_service_manager='direct')
        result = run_playbook(bad_inputs_play('virtops.compute.compute_host', cases, out, play_vars),
                              args=('-i', inventory), timeout=600)
        assert result.rc == 0, result.stdout[-4000:] + result.stderr[-2000:]
        with open(out) as handle:
            messages = json.load(handle)
        assert len(messages) == len(cases), messages
        for message, (_extra, names) in zip(messages, BAD):
            assert_one_sentence(message, *names)
        # an os family the role does not know is refused by its argument spec
        assert 'compute_host_os_family' in messages[-1] and 'Suse' in messages[-1], messages[-1]
        assert libvirt_snapshot(conn, paths) == before
    finally:
        conn.close()
    for extra in cases:
        tally.case('bad inputs tried', 'compute_host role: %s' % json.dumps(extra, sort_keys=True))


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as libvirt checks them."""
    def openssl(*args):
        subprocess.run(['openssl'] + list(args), cwd=directory, check=True, capture_output=True)

    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'cacert.pem', '-days', '2',
            '-subj', '/CN=lab-ch-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    for name, usage, extra in (('server', 'serverAuth', 'subjectAltName=IP:127.0.0.1'), ('client', 'clientAuth', '')):
        openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', name + 'key.pem', '-out', name + '.csr',
                '-subj', '/CN=lab-ch-' + name)
        with open(os.path.join(directory, name + '.ext'), 'w') as handle:
            handle.write('basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n'
                         'extendedKeyUsage=%s\n%s\n' % (usage, extra))
        openssl('x509', '-req', '-in', name + '.csr', '-CA', 'cacert.pem', '-CAkey', 'ca.key', '-CAcreateserial',
                '-out', name + 'cert.pem', '-days', '2', '-extfile', name + '.ext')
    return {name: read(os.path.join(directory, name)).decode()
            for name in ('cacert.pem', 'servercert.pem', 'serverkey.pem', 'clientcert.pem', 'clientkey.pem')}


def test_tls_listener(host7, inventory, tmp_path):
    """Last in this file: it closes the host's plain TCP listener, and the fixture then stops the host."""
    pki = make_pki(str(tmp_path))
    tls = dict(base_vars(host7), compute_host_storage_pools=[], compute_host_networks=[], compute_host_nwfilters=[],
               compute_host_ovs_bridges=[], compute_host_migration_listener='tls',
               compute_host_migration_listen_port=TLS_PORT, compute_host_migration_auth='',
               # the CA as a file on the controller, the rest as PEM text
               compute_host_tls_ca_cert=str(tmp_path / 'cacert.pem'),
               compute_host_tls_server_cert=pki['servercert.pem'], compute_host_tls_server_key=pki['serverkey.pem'],
               compute_host_tls_client_cert=pki['clientcert.pem'], compute_host_tls_client_key=pki['clientkey.pem'],
               # inside the host's private /etc/libvirt, so the machine's /etc/pki stays untouched
               compute_host_tls_ca_cert_path='/etc/libvirt/pki/CA/cacert.pem',
               compute_host_tls_server_cert_path='/etc/libvirt/pki/libvirt/servercert.pem',
               compute_host_tls_server_key_path='/etc/libvirt/pki/libvirt/private/serverkey.pem',
               compute_host_tls_client_cert_path='/etc/libvirt/pki/libvirt/clientcert.pem',
               compute_host_tls_client_key_path='/etc/libvirt/pki/libvirt/private/clientkey.pem')
    result = play(inventory, tls)
    assert result.rc == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for secret in ('serverkey.pem', 'clientkey.pem'):
        body = pki[secret].splitlines()[1]
        assert body not in result.stdout and body not in result.stderr, 'a private key shows in the output'
    pki_root = root(host7, 'etc', 'pki')
    modes = {path: oct(os.stat(os.path.join(pki_root, path)).st_mode & 0o777) for path in (
        'CA/cacert.pem', 'libvirt/servercert.pem', 'libvirt/clientcert.pem', 'libvirt/private',
        'libvirt/private/serverkey.pem', 'libvirt/private/clientkey.pem')}
    assert modes == {'CA/cacert.pem': '0o644', 'libvirt/servercert.pem': '0o644', 'libvirt/clientcert.pem': '0o644',
                     'libvirt/private': '0o750', 'libvirt/private/serverkey.pem': '0o600',
                     'libvirt/private/clientkey.pem': '0o600'}, modes
    assert read(os.path.join(pki_root, 'libvirt', 'private', 'serverkey.pem')).decode() == pki['serverkey.pem']
    conf = read(root(host7, 'etc', 'libvirtd.conf')).decode()
    for line in ('listen_tls = 1', 'listen_tcp = 0', 'tls_port = "%d"' % TLS_PORT, 'auth_tls = "none"',
                 'key_file = "/etc/libvirt/pki/libvirt/private/serverkey.pem"'):
        assert re.search('^%s$' % re.escape(line), conf, re.M), line

    # a client with the CA's certificate gets in over TLS; one whose certificate the CA did not sign does not
    client = tmp_path / 'client'
    client.mkdir()
    for name in ('cacert.pem', 'clientcert.pem', 'clientkey.pem'):
        (client / name).write_text(pki[name])
    uri = 'qemu+tls://127.0.0.1:%d/system?pkipath=%s' % (TLS_PORT, client)
    got = subprocess.run(['virsh', '-c', uri, 'hostname'], capture_output=True, text=True, timeout=60, check=False)
    assert got.returncode == 0 and got.stdout.strip() == host7.name, got.stderr
    stranger = tmp_path / 'stranger'
    stranger.mkdir()
    make_pki(str(stranger))
    (stranger / 'cacert.pem').write_text(pki['cacert.pem'])
    refused = subprocess.run(['virsh', '-c', 'qemu+tls://127.0.0.1:%d/system?pkipath=%s' % (TLS_PORT, stranger),
                              'hostname'], capture_output=True, text=True, timeout=60, check=False)
    # refused by the TLS handshake, not for any other reason
    assert refused.returncode != 0 and re.search(r'(?i)certificate|TLS|handshake', refused.stderr), refused.stderr
    # the plain TCP listener is closed
    closed = subprocess.run(['virsh', '-c', host7.uri, 'hostname'], capture_output=True, text=True, timeout=60,
                            check=False)
    assert closed.returncode != 0 and 'Connection refused' in closed.stderr, closed.stderr
    tally.case('bad inputs tried', 'compute_host TLS listener: a client certificate its CA did not sign')
