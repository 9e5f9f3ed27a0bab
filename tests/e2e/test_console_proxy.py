"""The console_proxy role: websockify + noVNC in front of a real tiny guest's VNC console, opened in headless
Chromium; the page's canvas is compared pixel by pixel with libvirt's own screenshot of the guest."""
import base64
import json
import os
import re
import shutil
import socket
import time

import pytest

from lab import tally
from lab.browser import Browser, chromium
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell, wait_for_log
from lab.runner import run_module, run_playbook

NAME = 'lab-cp-web'
SERIAL_PORT = 4683
PORT = 16180
MARK = 'VIRTOPS-CONSOLE-PROXY'
LINES = 6
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - virtops.compute.console_proxy
"""


@pytest.fixture(scope='module')
def cp_guest(libvirt_conn, tiny_image):
    # the lab installs them (scripts/debian-packages.txt); missing, they fail the test rather than skip it
    assert chromium() and shutil.which('websockify') and os.path.isdir('/usr/share/novnc'), \
        'chromium-headless-shell, websockify and novnc must be installed (scripts/debian-packages.txt)'
    # console=tty0 too, so that the VGA screen VNC shows has a console (ttyS0, named last, stays /dev/console)
    params = dict(name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline='console=tty0 ' + tiny_image.cmdline, serial_console=dict(type='tcp', port=SERIAL_PORT),
                  graphics=[dict(type='vnc')])
    run_module('guest', name=NAME, state='absent')
    result = run_module('guest', **params)
    assert not result.failed, result.msg
    # the role's runs need only the VNC port, which is there at once: the guest boots meanwhile (see guest_screen)
    yield libvirt_conn.lookupByName(NAME), result['guest']['consoles']['serial_log'], tiny_image.marker
    run_module('guest', name=NAME, state='absent')


@pytest.fixture(scope='module')
def guest_screen(cp_guest):
    """The booted guest with a still screen of known text: cleared, cursor hidden, kernel messages off it."""
    dom, serial_log, marker = cp_guest
    wait_for_log(serial_log, marker, timeout=120)
    lines = ''.join('echo "%s line %d %s" > /dev/tty0; ' % (MARK, i, '#' * 40) for i in range(1, LINES + 1))
    serial_shell(SERIAL_PORT, "printf '\\033[2J\\033[H\\033[?25l' > /dev/tty0; %sdmesg -n 1" % lines, timeout=60)
    return dom


@pytest.fixture(scope='module')
def cp_vars(tmp_path_factory):
    base = tmp_path_factory.mktemp('console-proxy')
    return dict(console_proxy_guests=[NAME], console_proxy_port=PORT,
                console_proxy_config_dir=str(base / 'etc'), console_proxy_run_dir=str(base / 'run'),
                console_proxy_log_file=str(base / 'websockify.log'))


def run_role(role_vars, check=False, **overrides):
    """Run the role through ansible-playbook; returns (counts of changed and failed tasks, every task's result, raw
    stdout). The minimal callback prints each task's result as JSON, loops included."""
    result = run_playbook(PLAY, extra_vars=role_vars | overrides, check=check, timeout=300,
                          env={'ANSIBLE_STDOUT_CALLBACK': 'minimal', 'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json'})
    decoder, results = json.JSONDecoder(), []
    for match in re.finditer(r'^localhost \| ([A-Z!]+) => ', result.stdout, re.M):
        res = decoder.raw_decode(result.stdout, match.end())[0]
        # the status word is the only sign of failure: the printed result has no 'failed' key
        res['failed'] = match.group(1) in ('FAILED!', 'UNREACHABLE!')
        results.append(res)
    if not results:
        raise AssertionError('ansible-playbook printed no results (rc %d): %s %s'
                             % (result.rc, result.stdout[-2000:], result.stderr[-2000:]))
    stats = dict(changed=sum(1 for res in results if res.get('changed')),
                 failures=sum(1 for res in results if res.get('failed')), rc=result.rc)
    return stats, results, result.stdout


def failure_message(results):
    for res in results:
        if res.get('failed'):
            for item in res.get('results', []):
                if item.get('failed'):
                    return item.get('msg')
            return res.get('msg')
    return None


def urls_of(results):
    found = [res['ansible_facts']['console_proxy_urls'] for res in results
             if 'console_proxy_urls' in res.get('ansible_facts', {})]
    assert found, 'the role set no console_proxy_urls'
    return found[-1]


def proxy_pid(role_vars):
    with open(os.path.join(role_vars['console_proxy_run_dir'], 'websockify.pid')) as handle:
        return int(handle.read())


def listening(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        return True
    except OSError:
        return False


def own_libvirt(conn):
    """libvirt's state of this test's guest, the one libvirt object the role reads (libvirt_snapshot would also
    refresh every pool of the shared lab, slow while other sessions run, and see their changes)."""
    return {key: value for key, value in libvirt_snapshot(conn, refresh=False).items() if 'lab-cp-' in key}


def config_state(role_vars):
    """Content, mode and mtime of the role's files, and websockify's pid: what a run that changes nothing keeps."""
    state = {}
    for name in ('tokens.json', 'targets'):
        path = os.path.join(role_vars['console_proxy_config_dir'], name)
        with open(path) as handle:
            state[name] = (handle.read(), oct(os.stat(path).st_mode & 0o777), os.stat(path).st_mtime_ns)
    state['pid'] = proxy_pid(role_vars)
    return state


@pytest.fixture(scope='module')
def proxy(cp_guest, cp_vars):
    stats, results, stdout = run_role(cp_vars)
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    urls = urls_of(results)
    yield urls, stdout
    try:
        os.kill(proxy_pid(cp_vars), 15)
    except (OSError, ValueError):
        pass


def test_first_run_serves_the_guest(proxy, cp_vars):
    urls, stdout = proxy
    assert list(urls) == [NAME]
    token = urls[NAME].rsplit('%3D', 1)[1]
    assert urls[NAME] == 'http://127.0.0.1:%d/vnc.html?autoconnect=1&path=websockify%%3Ftoken%%3D%s' % (PORT, token)
    assert len(token) == 32 and token.isalnum()
    assert listening(PORT)
    config = cp_vars['console_proxy_config_dir']
    assert oct(os.stat(config).st_mode & 0o777) == '0o700'
    for name in ('tokens.json', 'targets'):
        assert oct(os.stat(os.path.join(config, name)).st_mode & 0o777) == '0o600'
    # the token shows only inside the URL, never from the token files' tasks (no_log)
    assert stdout.count(token) == stdout.count('token%3D' + token) > 0
    tally.case('places scanned for secrets', 'console_proxy role output and token files')


def test_second_run_changes_nothing(proxy, cp_vars):
    before = config_state(cp_vars)
    stats, results, _stdout = run_role(cp_vars)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] == 0, [res for res in results if res.get('changed')]
    assert urls_of(results) == proxy[0], 'the token changed between runs'
    assert config_state(cp_vars) == before


def test_check_mode_changes_nothing(proxy, cp_vars, libvirt_conn):
    before, libvirt_before = config_state(cp_vars), own_libvirt(libvirt_conn)
    # a new port would restart websockify: check mode must say so and leave it running where it was
    stats, results, _stdout = run_role(cp_vars, check=True, console_proxy_port=PORT + 3, console_proxy_install_packages=False)
    assert stats['failures'] == 0, failure_message(results)
    assert stats['changed'] > 0
    assert any(res.get('stdout', '').strip() == 'would restart' for res in results)
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


def libvirt_screenshot(conn, dom):
    stream = conn.newStream(0)
    mime = dom.screenshot(stream, 0, 0)
    data = b''
    while True:
        chunk = stream.recv(1 << 18)
        if not chunk:
            break
        data += chunk
    stream.finish()
    return mime, data


def lit(gray, width, height):
    """Which pixels are text (VGA text is grey 170 on black) and which 16-pixel text rows hold any."""
    pixels = [value > 80 for value in gray]
    rows = [any(pixels[y * width:(y + 1) * width].count(True) for y in range(r * 16, min(height, (r + 1) * 16)))
            for r in range(height // 16)]
    return pixels, rows


def browser_state(browser):
    return json.loads(browser.js(STATUS_JS))


def test_browser_shows_the_guest_console(proxy, guest_screen, libvirt_conn, tmp_path):
    urls, _stdout = proxy
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
    mine, mine_rows = lit(base64.b64decode(data), width, height)
    theirs, their_rows = lit(base64.b64decode(lv_data), width, height)
    total = width * height
    # non-blank: the six lines of text cover well over 2% of the screen
    assert mine.count(True) > 0.02 * total, 'the noVNC canvas is blank (%d lit pixels)' % mine.count(True)
    assert their_rows == [True] * LINES + [False] * (height // 16 - LINES), their_rows
    assert mine_rows == their_rows, 'text rows: noVNC %s, libvirt %s' % (mine_rows, their_rows)
    differ = sum(1 for a, b in zip(mine, theirs) if a != b)
    assert differ < 0.005 * total, '%d of %d pixels differ between noVNC and libvirt' % (differ, total)
    assert not refused['connected'] and 'Failed' in refused['status'], refused


def greeting(token):
    """What the proxy answers first on a WebSocket with `token`: a VNC server's RFB greeting, or b'' when refused."""
    import websocket
    try:
        ws = websocket.create_connection('ws://127.0.0.1:%d/websockify?token=%s' % (PORT, token), timeout=20,
                                         subprotocols=['binary'])
    except (websocket.WebSocketException, OSError):
        return b''
    try:
        return ws.recv()
    except (websocket.WebSocketException, OSError):
        return b''
    finally:
        ws.close()


def token_of(urls):
    return urls[NAME].rsplit('%3D', 1)[1]


def test_wrong_token_is_refused_by_websockify(proxy):
    token = token_of(proxy[0])
    assert greeting(token).startswith(b'RFB 003.')
    wrong = {'a token one character off': token[:-1] + ('x' if token[-1] != 'x' else 'y'), 'an empty token': '',
             'a longer lower-case token': token.lower() + 'a'}
    for what, bad in wrong.items():
        got = greeting(bad)
        assert not got, 'token %r reached the guest: %r' % (bad, got)
        tally.case('bad inputs tried', 'console URL with ' + what)


def vnc_port(dom):
    return int(re.search(r"<graphics type='vnc' port='(-?\d+)'", dom.XMLDesc(0)).group(1))


def test_url_follows_the_guest_when_its_vnc_port_moves(proxy, cp_guest, cp_vars):
    """Without running the role again: a stopped guest's URL is refused, and once it runs again on another VNC
    port (its old one held here, so libvirt's autoport must move it) the same URL reaches it."""
    dom = cp_guest[0]
    token, before = token_of(proxy[0]), config_state(cp_vars)
    old_port = vnc_port(dom)
    assert greeting(token).startswith(b'RFB 003.')
    dom.destroy()
    assert not greeting(token), 'a stopped guest still has a console'
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(('0.0.0.0', old_port))
        holder.listen(1)
        dom.create()
        new_port = vnc_port(dom)
        assert new_port not in (old_port, -1), 'the VNC port did not move (%d)' % new_port
        assert greeting(token).startswith(b'RFB 003.'), 'the URL lost the guest on its new port %d' % new_port
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
    pid = proxy_pid(cp_vars)
    stats, results, _stdout = run_role(cp_vars, console_proxy_state='absent', console_proxy_install_packages=False)
    assert stats['failures'] == 0 and stats['changed'] > 0, failure_message(results)
    deadline = time.time() + 10
    while os.path.exists('/proc/%d' % pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists('/proc/%d' % pid) and not listening(PORT)
    assert not os.path.exists(os.path.join(cp_vars['console_proxy_config_dir'], 'targets'))
