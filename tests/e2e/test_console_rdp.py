"""The console_proxy role's RDP consoles: xrdp with its VNC backend and the role's RFB relay in front of a real tiny
guest's VNC console. FreeRDP (xfreerdp, under an Xvfb this test starts) connects to the guest's RDP address, and
its window is compared with libvirt's own screenshot of the guest; wrong passwords, a stopped guest, a guest that
moved to another VNC port, a new guest under an old name, expired tokens and the operator's certificate are tried
against the real daemons."""
import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from lab import tally
from lab.checks import assert_one_sentence
from lab.consoles import (assert_same_screen, config_state, console_guest, daemon_pids, failure_message, greeting,
                          libvirt_screenshot, listening, png_gray, role_dirs, run_role, shows_text, still_screen,
                          stored, vnc_port, wait_gone)
from lab.rdp import RdpClient, XServer, rfb_login, shows_xrdp_log_window, tls_certificate
from lab.runner import run_module

NAME, REUSE = 'lab-cp-rdp', 'lab-cp-reuse'
SERIAL_PORT = 4684
WEB_PORT, RDP_PORT, RELAY_OFFSET = 16182, 16390, 10000
USER = 'virtops-console'
TOOLS = ('xrdp', 'xfreerdp', 'Xvfb', 'import', 'stream', 'xwininfo', 'websockify', 'openssl')


@pytest.fixture(scope='module')
def rdp_guest(libvirt_conn, tiny_image):
    # the lab installs them (scripts/debian-packages.txt); missing, they fail the test rather than skip it
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    assert not missing, '%s must be installed (scripts/debian-packages.txt)' % ', '.join(missing)
    guest = console_guest(NAME, tiny_image, SERIAL_PORT)
    yield libvirt_conn.lookupByName(NAME), guest['consoles']['serial_log'], tiny_image.marker
    run_module('guest', name=NAME, state='absent')


@pytest.fixture(scope='module')
def rdp_vars(tmp_path_factory):
    """The role's settings: its files under a directory of their own, and the operator's certificate (its key
    root-only, so the role must give the daemons a copy they can read)."""
    base, dirs = role_dirs()
    tls = tmp_path_factory.mktemp('operator-tls')
    cert, key = str(tls / 'cert.pem'), str(tls / 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
                    '-keyout', key, '-out', cert], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    yield dict(dirs, console_proxy_guests=[NAME], console_proxy_port=WEB_PORT, console_proxy_rdp_port=RDP_PORT,
               console_proxy_tls_cert=cert, console_proxy_tls_key=key)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope='module')
def proxy(rdp_guest, rdp_vars):
    stats, results, stdout = run_role(rdp_vars)
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    yield stdout
    stats, results, _stdout = run_role(rdp_vars, console_proxy_state='absent')
    assert stats['failures'] == 0, failure_message(results)


@pytest.fixture(scope='module')
def xserver():
    server = XServer()
    yield server
    server.close()


@pytest.fixture(scope='module')
def screen(rdp_guest):
    dom, serial_log, marker = rdp_guest
    still_screen(SERIAL_PORT, serial_log, marker)
    return dom


# every token and RDP password this module has seen: no log may hold one (test_no_log_holds_a_secret)
SEEN = set()


def mine(role_vars, name=NAME):
    entry = stored(role_vars)[name]
    SEEN.update((entry['token'], entry['rdp_password']))
    return entry


def relay_port(entry):
    return entry['rdp_port'] + RELAY_OFFSET


def desktop(name):
    """The desktop name QEMU's VNC server gives a guest: what a login through the relay gets to see."""
    return 'QEMU (%s)' % name


def relay_log(role_vars, port=RDP_PORT):
    path = os.path.join(role_vars['console_proxy_log_dir'], 'relay-%d.log' % port)
    with open(path, errors='replace') as handle:
        return handle.read()


def wait_for_log_line(role_vars, text, after, timeout=30):
    """Wait until the relay's log has a line with ``text`` beyond its first ``after`` characters."""
    deadline = time.time() + timeout
    while text not in relay_log(role_vars)[after:]:
        assert time.time() < deadline, 'the relay never logged %r: %s' % (text, relay_log(role_vars)[after:][-500:])
        time.sleep(0.2)


def test_first_run_prints_addresses_and_keeps_secrets_out(proxy, rdp_vars):
    entry = mine(rdp_vars)
    assert entry['rdp'] == '127.0.0.1:%d' % RDP_PORT and entry['rdp_port'] == RDP_PORT
    assert len(entry['rdp_password']) == 8 and entry['rdp_password'].isalnum()
    assert entry['url'].startswith('https://127.0.0.1:%d/vnc.html' % WEB_PORT)
    assert 'RDP 127.0.0.1:%d' % RDP_PORT in proxy
    for secret in (entry['token'], entry['rdp_password']):
        assert secret not in proxy, 'a secret is in the job output'
    config = rdp_vars['console_proxy_config_dir']
    assert oct(os.stat(os.path.join(config, 'tokens.json')).st_mode & 0o777) == '0o600'
    assert os.stat(os.path.join(config, 'tokens.json')).st_uid == 0
    tally.case('places scanned for secrets', 'console_proxy RDP job output and tokens.json')


def test_daemons_run_unprivileged(proxy, rdp_vars):
    user = pwd.getpwnam(USER)
    pids = daemon_pids(rdp_vars)
    assert sorted(pids) == ['relay-%d' % RDP_PORT, 'websockify', 'xrdp-%d' % RDP_PORT]
    for name, pid in pids.items():
        with open('/proc/%d/status' % pid) as handle:
            ids = {line.split(':')[0]: line.split()[1:] for line in handle if line.startswith(('Uid', 'Gid', 'Groups'))}
        assert ids['Uid'] == [str(user.pw_uid)] * 4 and ids['Gid'] == [str(user.pw_gid)] * 4, (name, ids)
        assert ids.get('Groups', []) == [], (name, ids)
    assert user.pw_uid != 0 and grp.getgrgid(user.pw_gid).gr_name == USER


def test_rdp_shows_the_guest_and_refuses_a_wrong_password(proxy, rdp_vars, screen, xserver, libvirt_conn, tmp_path):
    entry = mine(rdp_vars)
    client = RdpClient(xserver, entry['rdp'], entry['rdp_password'])
    try:
        width, height, gray = client.wait_for('the guest\'s text', lambda w, h, rgb: shows_text(rgb[::3], w, h))
    finally:
        client.close()
    mime, png = libvirt_screenshot(libvirt_conn, screen)
    (tmp_path / 'libvirt.png').write_bytes(png)
    lv_width, lv_height, lv_gray = png_gray(png)
    assert (width, height) == (lv_width, lv_height) == (720, 400), 'RDP %dx%d, libvirt %dx%d' % (
        width, height, lv_width, lv_height)
    assert_same_screen('RDP', gray, lv_gray, width, height)

    # the positive control above, then a wrong password: xrdp shows its connection log, never the guest
    logged = len(relay_log(rdp_vars))
    wrong = entry['rdp_password'][:-1] + ('x' if entry['rdp_password'][-1] != 'x' else 'y')
    client = RdpClient(xserver, entry['rdp'], wrong)
    try:
        width, height, gray = client.wait_for('xrdp\'s connection log', shows_xrdp_log_window)
        wait_for_log_line(rdp_vars, 'guest %s: wrong password' % NAME, logged)
    finally:
        client.close()
    assert not shows_text(gray, width, height)
    tally.case('bad inputs tried', 'RDP login with a wrong password')


def test_relay_checks_the_password_itself(proxy, rdp_vars):
    """The relay's VNC authentication: the RDP password gets the guest's own RFB session, anything else nothing."""
    password = mine(rdp_vars)['rdp_password']
    relay = RDP_PORT + RELAY_OFFSET
    assert rfb_login(relay, password) == desktop(NAME)
    for bad in (password.lower() if password.lower() != password else password.upper(), '', 'x' + password[:7]):
        assert rfb_login(relay, bad) is None, 'password %r reached the guest' % bad
    tally.case('bad inputs tried', 'RFB relay: wrong, empty and truncated passwords')


def test_operators_certificate_on_rdp_and_https(proxy, rdp_vars):
    with open(rdp_vars['console_proxy_tls_cert']) as handle:
        want = ssl.PEM_cert_to_DER_cert(handle.read())
    assert tls_certificate('127.0.0.1', RDP_PORT) == want
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(('127.0.0.1', WEB_PORT), timeout=20)) as tls:
        assert tls.getpeercert(binary_form=True) == want


def test_second_run_changes_nothing(proxy, rdp_vars):
    before = config_state(rdp_vars)
    stats, results, _stdout = run_role(rdp_vars)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] == 0, [res for res in results if res.get('changed')]
    assert config_state(rdp_vars) == before


def test_check_mode_changes_nothing(proxy, rdp_vars):
    before = config_state(rdp_vars)
    # a new first RDP port moves the guest to a new port: check mode must say so and leave everything as it is
    stats, results, stdout = run_role(rdp_vars, check=True, console_proxy_rdp_port=RDP_PORT + 5,
                                      console_proxy_install_packages=False)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] > 0
    # the daemon control's report (a command's output, which the minimal callback prints as it is)
    moved = RDP_PORT + 5
    assert '"would start": ["relay-%d", "xrdp-%d"]' % (moved, moved) in stdout, stdout[-3000:]
    assert '"would stop": ["relay-%d", "xrdp-%d"]' % (RDP_PORT, RDP_PORT) in stdout
    assert config_state(rdp_vars) == before
    assert listening(RDP_PORT) and not listening(RDP_PORT + 5)
    tally.case('check-mode changes compared', 'console_proxy RDP after a VNC port move')


def test_same_address_follows_the_guest_to_a_new_vnc_port(proxy, rdp_vars, rdp_guest, xserver, libvirt_conn):
    """Without running the role again: a stopped guest refuses, and once it runs again on another VNC port (its
    old one held here, so libvirt's autoport must move it) the same RDP address and password show it."""
    dom, serial_log, marker = rdp_guest
    entry, before = mine(rdp_vars), config_state(rdp_vars)
    old_port = vnc_port(dom)
    assert rfb_login(RDP_PORT + RELAY_OFFSET, entry['rdp_password']) == desktop(NAME)
    dom.destroy()
    logged = len(relay_log(rdp_vars))
    client = RdpClient(xserver, entry['rdp'], entry['rdp_password'])
    try:
        client.wait_for('xrdp\'s connection log', shows_xrdp_log_window)
        wait_for_log_line(rdp_vars, 'guest %s: it has no VNC console now' % NAME, logged)
    finally:
        client.close()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(('0.0.0.0', old_port))
        holder.listen(1)
        dom.create()
        new_port = vnc_port(dom)
        assert new_port not in (old_port, -1), 'the VNC port did not move (%d)' % new_port
        still_screen(SERIAL_PORT, serial_log, marker, count=2)
        client = RdpClient(xserver, entry['rdp'], entry['rdp_password'])
        try:
            width, height, gray = client.wait_for('the guest\'s text on its new port %d' % new_port,
                                                  lambda w, h, rgb: shows_text(rgb[::3], w, h))
        finally:
            client.close()
    finally:
        holder.close()
    assert (width, height) == (720, 400)
    assert config_state(rdp_vars) == before, 'a file or a daemon of the role changed'


def web(token):
    return greeting(WEB_PORT, token, tls=True)


def test_tokens_are_bound_to_the_guest_not_its_name(proxy, rdp_vars, tiny_image):
    """A new guest under a deleted guest's name reaches neither the old URL nor the old RDP password, before the
    role runs again and after; the role's next run gives it new ones."""
    console_guest(REUSE, tiny_image, SERIAL_PORT + 1)
    try:
        stats, results, _stdout = run_role(rdp_vars, console_proxy_guests=[NAME, REUSE])
        assert stats['failures'] == 0, failure_message(results)
        old = mine(rdp_vars, REUSE)
        assert web(old['token']).startswith(b'RFB 003.') and rfb_login(relay_port(old), old['rdp_password']) == desktop(REUSE)
        new_uuid = console_guest(REUSE, tiny_image, SERIAL_PORT + 1)['uuid']
        assert new_uuid != old['uuid']
        assert not web(old['token']), 'the old URL reaches the new guest'
        assert rfb_login(relay_port(old), old['rdp_password']) is None, 'the old RDP password reaches the new guest'
        stats, results, _stdout = run_role(rdp_vars, console_proxy_guests=[NAME, REUSE])
        assert stats['failures'] == 0, failure_message(results)
        new = mine(rdp_vars, REUSE)
        assert new['uuid'] == new_uuid and new['token'] != old['token'] and new['rdp_password'] != old['rdp_password']
        assert web(new['token']).startswith(b'RFB 003.') and rfb_login(relay_port(new), new['rdp_password']) == desktop(REUSE)
        assert not web(old['token']) and rfb_login(relay_port(new), old['rdp_password']) is None
    finally:
        run_module('guest', name=REUSE, state='absent')
        stats, results, _stdout = run_role(rdp_vars)
        assert stats['failures'] == 0, failure_message(results)
    tally.case('bad inputs tried', 'console and RDP secrets of a deleted guest of the same name')


def test_tokens_expire_after_their_lifetime(proxy, rdp_vars):
    lifetime = 20
    try:
        stats, results, _stdout = run_role(rdp_vars, console_proxy_token_lifetime=lifetime)
        assert stats['failures'] == 0, failure_message(results)
        entry = mine(rdp_vars)
        assert web(entry['token']).startswith(b'RFB 003.')
        assert rfb_login(relay_port(entry), entry['rdp_password']) == desktop(NAME)
        deadline = entry['issued'] + lifetime + 15
        while rfb_login(relay_port(entry), entry['rdp_password']) == desktop(NAME):
            assert time.time() < deadline, 'the RDP password still works %ds after it was made' % (lifetime + 15)
            time.sleep(1)
        assert time.time() >= entry['issued'] + lifetime - 1, 'the RDP password expired before its lifetime'
        assert not web(entry['token']), 'an expired token still reaches the guest'
        stats, results, _stdout = run_role(rdp_vars, console_proxy_token_lifetime=lifetime)
        assert stats['failures'] == 0, failure_message(results)
        renewed = mine(rdp_vars)
        assert renewed['token'] != entry['token'] and web(renewed['token']).startswith(b'RFB 003.')
    finally:
        stats, results, _stdout = run_role(rdp_vars)
        assert stats['failures'] == 0, failure_message(results)


def test_show_secrets_prints_them(proxy, rdp_vars):
    stats, results, stdout = run_role(rdp_vars, console_proxy_show_secrets=True)
    assert stats['failures'] == 0 and stats['changed'] == 0, failure_message(results)
    entry = mine(rdp_vars)
    assert '%s: RDP %s, RDP password %s, web console %s' % (NAME, entry['rdp'], entry['rdp_password'], entry['url']) in stdout


@pytest.mark.parametrize('overrides, must_name', [
    (dict(console_proxy_listen='0.0.0.0', console_proxy_tls_cert='', console_proxy_tls_key=''),
     ['console_proxy_listen', '0.0.0.0', 'console_proxy_tls_cert']),
    (dict(console_proxy_token_lifetime=-5), ['console_proxy_token_lifetime', '-5']),
    (dict(console_proxy_rdp_port=60000), ['console_proxy_rdp_port', '60000', 'console_proxy_rdp_relay_offset']),
], ids=['beyond-loopback-without-tls', 'negative-lifetime', 'no-room-for-relays'])
def test_bad_variables_fail_clearly(proxy, rdp_vars, overrides, must_name):
    before = config_state(rdp_vars)
    stats, results, _stdout = run_role(rdp_vars, console_proxy_install_packages=False, **overrides)
    assert stats['failures'] == 1
    assert_one_sentence(failure_message(results), *must_name)
    assert config_state(rdp_vars) == before
    tally.case('bad inputs tried', 'console_proxy variables: %s' % ', '.join(must_name))


def test_no_log_holds_a_secret(proxy, rdp_vars):
    logs = rdp_vars['console_proxy_log_dir']
    assert len(SEEN) >= 6 and sorted(os.listdir(logs)), (SEEN, logs)
    for name in os.listdir(logs):
        with open(os.path.join(logs, name), errors='replace') as handle:
            text = handle.read()
        for secret in SEEN:
            assert secret not in text, 'the log %s holds a token or an RDP password' % name
    tally.case('places scanned for secrets', 'websockify, xrdp and relay logs')


def test_absent_removes_everything(proxy, rdp_vars):
    pids = list(daemon_pids(rdp_vars).values())
    stats, results, _stdout = run_role(rdp_vars, console_proxy_state='absent')
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    wait_gone(pids)
    for port in (WEB_PORT, RDP_PORT, RDP_PORT + RELAY_OFFSET):
        assert not listening(port), 'port %d still answers' % port
    for key in ('console_proxy_config_dir', 'console_proxy_run_dir', 'console_proxy_log_dir'):
        assert not os.path.exists(rdp_vars[key]), '%s is still there' % rdp_vars[key]
    with pytest.raises(KeyError):
        pwd.getpwnam(USER)
    stats, results, _stdout = run_role(rdp_vars, console_proxy_state='absent')
    assert stats['failures'] == 0 and stats['changed'] == 0, [res for res in results if res.get('changed')]
