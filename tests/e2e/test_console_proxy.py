"""The console_proxy role: websockify + noVNC in front of a real tiny guest's VNC console, opened in headless
Chromium; the page's canvas is compared pixel by pixel with libvirt's own screenshot of the guest."""
import base64
import json
import os
import shutil
import socket

import pytest

from lab import tally
from lab.browser import Browser, chromium
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.consoles import (assert_same_screen, config_state, console_guest, daemon_pids, failure_message,
                          greeting, libvirt_screenshot, listening, role_dirs, run_role, still_screen, stored, vnc_port,
                          wait_gone)
from lab.runner import run_module

NAME = 'lab-cp-web'
SERIAL_PORT = 4683
PORT = 16180


@pytest.fixture(scope='module')
def cp_guest(libvirt_conn, tiny_image):
    # the lab installs them (scripts/debian-packages.txt); missing, they fail the test rather than skip it
    assert chromium() and shutil.which('websockify') and os.path.isdir('/usr/share/novnc'), \
        'chromium-headless-shell, websockify and novnc must be installed (scripts/debian-packages.txt)'
    # the role's runs need only the VNC port, which is there at once: the guest boots meanwhile (see guest_screen)
    guest = console_guest(NAME, tiny_image, SERIAL_PORT)
    yield libvirt_conn.lookupByName(NAME), guest['consoles']['serial_log'], tiny_image.marker
    run_module('guest', name=NAME, state='absent')


@pytest.fixture(scope='module')
def guest_screen(cp_guest):
    """The booted guest with a still screen of known text."""
    dom, serial_log, marker = cp_guest
    still_screen(SERIAL_PORT, serial_log, marker)
    return dom


@pytest.fixture(scope='module')
def cp_vars():
    # the web console alone here; tests/e2e/test_console_rdp.py has the RDP consoles
    base, dirs = role_dirs()
    yield dict(dirs, console_proxy_guests=[NAME], console_proxy_port=PORT, console_proxy_rdp=False)
    shutil.rmtree(base, ignore_errors=True)


def urls_of(role_vars):
    """Guest name -> console URL, from the root-only tokens.json the role keeps them in for the operator."""
    return {name: entry['url'] for name, entry in stored(role_vars).items() if 'url' in entry}


def own_libvirt(conn):
    """libvirt's state of this test's guest, the one libvirt object the role reads (libvirt_snapshot would also
    refresh every pool of the shared lab, slow while other sessions run, and see their changes)."""
    return {key: value for key, value in libvirt_snapshot(conn, refresh=False).items() if 'lab-cp-' in key}


@pytest.fixture(scope='module')
def proxy(cp_guest, cp_vars):
    stats, results, stdout = run_role(cp_vars)
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    yield urls_of(cp_vars), stdout
    stats, results, _stdout = run_role(cp_vars, console_proxy_state='absent')
    assert stats['failures'] == 0, failure_message(results)


def test_first_run_serves_the_guest(proxy, cp_vars):
    urls, stdout = proxy
    assert list(urls) == [NAME]
    token = urls[NAME].rsplit('%3D', 1)[1]
    assert urls[NAME] == 'http://127.0.0.1:%d/vnc.html?autoconnect=1&path=websockify%%3Ftoken%%3D%s' % (PORT, token)
    assert len(token) == 32 and token.isalnum()
    assert listening(PORT)
    config = cp_vars['console_proxy_config_dir']
    assert oct(os.stat(config).st_mode & 0o777) == '0o750'
    assert oct(os.stat(os.path.join(config, 'tokens.json')).st_mode & 0o777) == '0o600'
    assert oct(os.stat(os.path.join(config, 'targets')).st_mode & 0o777) == '0o640'
    # the token stays out of the job output: the operator reads the URL from the root-only tokens.json
    assert token not in stdout and '%s: URL in %s/tokens.json (root only)' % (NAME, config) in stdout
    tally.case('places scanned for secrets', 'console_proxy role output and token files')


def test_second_run_changes_nothing(proxy, cp_vars):
    before = config_state(cp_vars)
    stats, results, _stdout = run_role(cp_vars)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] == 0, [res for res in results if res.get('changed')]
    assert urls_of(cp_vars) == proxy[0], 'the token changed between runs'
    assert config_state(cp_vars) == before


def test_check_mode_changes_nothing(proxy, cp_vars, libvirt_conn):
    before, libvirt_before = config_state(cp_vars), own_libvirt(libvirt_conn)
    # a new port would restart websockify: check mode must say so and leave it running where it was
    stats, results, stdout = run_role(cp_vars, check=True, console_proxy_port=PORT + 3, console_proxy_install_packages=False)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] > 0
    # the daemon control's report (a command's output, which the minimal callback prints as it is)
    assert '"would restart": ["websockify"]' in stdout, stdout[-3000:]
    assert config_state(cp_vars) == before and own_libvirt(libvirt_conn) == libvirt_before
    assert listening(PORT) and not listening(PORT + 3)
    tally.case('check-mode changes compared', 'console_proxy role')


GRAY_JS = """(async (src) => {
  let canvas = document.querySelector('#noVNC_container canvas');
  if (src) {
    const img = new Image(); img.src = src; await img.decode();
    canvas = document.createElement('canvas'); canvas.width = img.width; canvas.height = img.height;
    canvas.getContext('2d').drawImage(img, 0, 0);
  }
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const g = new Uint8Array(d.length / 4);
  for (let i = 0; i < g.length; i++) g[i] = (d[4 * i] + d[4 * i + 1] + d[4 * i + 2]) / 3;
  let s = '';
  for (let i = 0; i < g.length; i += 8192) s += String.fromCharCode.apply(null, g.subarray(i, i + 8192));
  return [canvas.width, canvas.height, btoa(s)];
})(%s)"""
STATUS_JS = """JSON.stringify({connected: !!document.documentElement
  && document.documentElement.classList.contains('noVNC_connected'),
  status: (document.getElementById('noVNC_status') || {}).textContent || '',
  error: !!document.querySelector('#noVNC_status.noVNC_status_error')})"""


def browser_state(browser):
    return json.loads(browser.js(STATUS_JS))


def test_browser_shows_the_guest_console(proxy, guest_screen, libvirt_conn, tmp_path):
    urls = proxy[0]
    browser = Browser()
    try:
        browser.call('Page.navigate', url=urls[NAME])
        browser.wait_for("document.documentElement && document.documentElement.classList.contains('noVNC_connected')"
                         " && !!document.querySelector('#noVNC_container canvas')", timeout=45)
        state = browser_state(browser)
        assert 'Connected' in state['status'] and NAME in state['status'], state
        # the first frame can take a moment after connecting: wait until the canvas has text
        browser.wait_for("(() => { const c = document.querySelector('#noVNC_container canvas');"
                         " const d = c.getContext('2d').getImageData(0, 0, c.width, 32).data;"
                         " return d.some((v, i) => i % 4 == 0 && v > 80); })()", timeout=30)
        width, height, data = browser.js(GRAY_JS % 'null')
        shot = browser.call('Page.captureScreenshot', format='png')
        (tmp_path / 'novnc.png').write_bytes(base64.b64decode(shot['data']))
        mime, png = libvirt_screenshot(libvirt_conn, guest_screen)
        (tmp_path / 'libvirt.png').write_bytes(png)
        lv_width, lv_height, lv_data = browser.js(GRAY_JS % json.dumps('data:%s;base64,%s' % (
            mime, base64.b64encode(png).decode())))

        # wrong token: noVNC reports a failure and never connects
        wrong = urls[NAME][:-8] + 'WRONGTOK'
        browser.call('Page.navigate', url=wrong)
        browser.wait_for("!!document.querySelector('#noVNC_status.noVNC_status_error')", timeout=45)
        refused = browser_state(browser)
    finally:
        browser.close()

    assert (width, height) == (lv_width, lv_height) == (720, 400), 'canvas %dx%d, libvirt %dx%d' % (
        width, height, lv_width, lv_height)
    assert_same_screen('noVNC', base64.b64decode(data), base64.b64decode(lv_data), width, height)
    assert not refused['connected'] and 'Failed' in refused['status'], refused


def token_of(urls):
    return urls[NAME].rsplit('%3D', 1)[1]


def test_wrong_token_is_refused_by_websockify(proxy):
    token = token_of(proxy[0])
    assert greeting(PORT, token).startswith(b'RFB 003.')
    wrong = {'a token one character off': token[:-1] + ('x' if token[-1] != 'x' else 'y'), 'an empty token': '',
             'a longer lower-case token': token.lower() + 'a'}
    for what, bad in wrong.items():
        got = greeting(PORT, bad)
        assert not got, 'token %r reached the guest: %r' % (bad, got)
        tally.case('bad inputs tried', 'console URL with ' + what)


def test_url_follows_the_guest_when_its_vnc_port_moves(proxy, cp_guest, cp_vars):
    """Without running the role again: a stopped guest's URL is refused, and once it runs again on another VNC
    port (its old one held here, so libvirt's autoport must move it) the same URL reaches it."""
    dom = cp_guest[0]
    token, before = token_of(proxy[0]), config_state(cp_vars)
    old_port = vnc_port(dom)
    assert greeting(PORT, token).startswith(b'RFB 003.')
    dom.destroy()
    assert not greeting(PORT, token), 'a stopped guest still has a console'
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # QEMU's side of the last console connection may still be in TIME_WAIT on the old port (the guest was destroyed
    # while websockify closed its end); a listening socket may take the port all the same, and it keeps libvirt's
    # port allocator and QEMU off it as well
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(('0.0.0.0', old_port))
        holder.listen(1)
        dom.create()
        new_port = vnc_port(dom)
        assert new_port not in (old_port, -1), 'the VNC port did not move (%d)' % new_port
        assert greeting(PORT, token).startswith(b'RFB 003.'), 'the URL lost the guest on its new port %d' % new_port
    finally:
        holder.close()
    assert config_state(cp_vars) == before, 'the token file or websockify changed'


@pytest.mark.parametrize('overrides, must_name', [
    (dict(console_proxy_port=70000), ['console_proxy_port', '70000']),
    (dict(console_proxy_guests=['lab-cp-nope']), ["'lab-cp-nope'", 'console_proxy_guests']),
    (dict(console_proxy_tls_key='/etc/ssl/private/none.key'), ['console_proxy_tls_key']),
    (dict(console_proxy_tls_cert='/etc/ssl/certs/lab-cp-none.pem'), ['console_proxy_tls_cert', 'lab-cp-none.pem']),
], ids=['port', 'unknown-guest', 'key-without-cert', 'missing-cert'])
def test_bad_variables_fail_clearly(request, proxy, cp_vars, libvirt_conn, overrides, must_name):
    before, libvirt_before = config_state(cp_vars), own_libvirt(libvirt_conn)
    stats, results, _stdout = run_role(cp_vars, console_proxy_install_packages=False, **overrides)
    assert stats['failures'] == 1
    assert_one_sentence(failure_message(results), *must_name)
    assert config_state(cp_vars) == before and own_libvirt(libvirt_conn) == libvirt_before
    tally.case('bad inputs tried', 'console_proxy role: ' + request.node.callspec.id)


def test_absent_stops_the_proxy(proxy, cp_vars):
    pids = list(daemon_pids(cp_vars).values())
    assert len(pids) == 1
    stats, results, _stdout = run_role(cp_vars, console_proxy_state='absent', console_proxy_install_packages=False)
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    wait_gone(pids)
    assert not listening(PORT) and not os.path.exists(cp_vars['console_proxy_config_dir'])
