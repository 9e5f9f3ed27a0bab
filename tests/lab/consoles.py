"""Helpers of the console_proxy role's tests: a tiny guest with a VNC console and a still screen of known text,
libvirt's screenshot of it, the comparison of another picture of that screen with it, and the role's runs and
files."""
import json
import os
import re
import socket
import subprocess
import time

from lab.console import serial_shell, wait_for_log
from lab.runner import run_module, run_playbook

MARK = 'VIRTOPS-CONSOLE-PROXY'
LINES = 6
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - virtops.compute.console_proxy
"""


def console_guest(name, tiny_image, serial_port):
    """Define and start a tiny guest with a VNC console and a TCP serial shell; returns guest's result dict."""
    # console=tty0 too, so that the VGA screen VNC shows has a console (ttyS0, named last, stays /dev/console)
    params = dict(name=name, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline='console=tty0 ' + tiny_image.cmdline, serial_console=dict(type='tcp', port=serial_port),
                  graphics=[dict(type='vnc')])
    run_module('guest', name=name, state='absent')
    result = run_module('guest', **params)
    assert not result.failed, result.msg
    return result['guest']


def still_screen(serial_port, serial_log, marker, count=1):
    """Once the guest has booted (``count`` boots in its serial log): a cleared screen with LINES lines of known
    text, the cursor hidden and kernel messages off it, so that every picture of it is the same."""
    wait_for_log(serial_log, marker, count=count, timeout=120)
    lines = ''.join('echo "%s line %d %s" > /dev/tty0; ' % (MARK, i, '#' * 40) for i in range(1, LINES + 1))
    serial_shell(serial_port, "printf '\\033[2J\\033[H\\033[?25l' > /dev/tty0; %sdmesg -n 1" % lines, timeout=60)


def libvirt_screenshot(conn, dom):
    """libvirt's own picture of the guest's screen: (mime type, image bytes)."""
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


def png_gray(png):
    """(width, height, grey bytes) of a PNG, through ImageMagick's `stream` (grey: the mean of R, G and B)."""
    width, height = int.from_bytes(png[16:20], 'big'), int.from_bytes(png[20:24], 'big')
    rgb = subprocess.run(['stream', '-map', 'rgb', '-storage-type', 'char', 'png:-', '-'], input=png,
                         capture_output=True, check=True, timeout=60).stdout
    return width, height, rgb_gray(rgb)


def rgb_gray(rgb):
    return bytes((rgb[i] + rgb[i + 1] + rgb[i + 2]) // 3 for i in range(0, len(rgb), 3))


def lit(gray, width, height):
    """Which pixels are text (VGA text is grey 170 on black) and which 16-pixel text rows hold any."""
    pixels = [value > 80 for value in gray]
    rows = [any(pixels[y * width:(y + 1) * width].count(True) for y in range(r * 16, min(height, (r + 1) * 16)))
            for r in range(height // 16)]
    return pixels, rows


def assert_same_screen(what, mine, theirs, width, height):
    """``mine`` (a client's picture, grey) shows the still screen libvirt's picture ``theirs`` shows: the same text
    rows, the LINES written ones, and all but 0.5% of the pixels alike."""
    mine, mine_rows = lit(mine, width, height)
    theirs, their_rows = lit(theirs, width, height)
    total = width * height
    # non-blank: the six lines of text cover well over 2% of the screen
    assert mine.count(True) > 0.02 * total, 'the %s picture is blank (%d lit pixels)' % (what, mine.count(True))
    assert their_rows == [True] * LINES + [False] * (height // 16 - LINES), their_rows
    assert mine_rows == their_rows, 'text rows: %s %s, libvirt %s' % (what, mine_rows, their_rows)
    differ = sum(1 for a, b in zip(mine, theirs) if a != b)
    assert differ < 0.005 * total, '%d of %d pixels differ between %s and libvirt' % (differ, total, what)


def shows_text(gray, width, height):
    """Does a picture show the still screen's text rows (and nothing below them)?"""
    return lit(gray, width, height)[1] == [True] * LINES + [False] * (height // 16 - LINES)


def vnc_port(dom):
    return int(re.search(r"<graphics type='vnc' port='(-?\d+)'", dom.XMLDesc(0)).group(1))


def listening(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        return True
    except OSError:
        return False


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


def stored(role_vars):
    """The role's root-only tokens.json: guest name -> {token, url, rdp, rdp_password, uuid, ...}."""
    with open(os.path.join(role_vars['console_proxy_config_dir'], 'tokens.json')) as handle:
        return json.load(handle)


def daemon_pids(role_vars):
    """Daemon name -> pid of the role's daemons started directly (their records in the run directory)."""
    run_dir, pids = role_vars['console_proxy_run_dir'], {}
    for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
        if name.endswith('.json'):
            with open(os.path.join(run_dir, name)) as handle:
                pids[name[:-5]] = json.load(handle)['pid']
    return pids


def config_state(role_vars):
    """Content, mode and mtime of the role's files, and its daemons' pids: what a run that changes nothing keeps."""
    state = {}
    for top in (role_vars['console_proxy_config_dir'],):
        for root, _dirs, names in os.walk(top):
            for name in names:
                path = os.path.join(root, name)
                with open(path, 'rb') as handle:
                    state[path] = (handle.read(), oct(os.stat(path).st_mode & 0o777), os.stat(path).st_mtime_ns)
    state['pids'] = daemon_pids(role_vars)
    return state


def wait_gone(pids, timeout=15):
    deadline = time.time() + timeout
    while any(os.path.exists('/proc/%d' % pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in pids if os.path.exists('/proc/%d' % pid)]
    assert not alive, 'processes %s still run %ss later' % (alive, timeout)


def role_dirs():
    """The role's configuration, run and log directories under a fresh directory others may traverse: its daemons
    run as an unprivileged user, and pytest's own temporary directories are root's only. Remove ``base`` after."""
    import tempfile
    base = tempfile.mkdtemp(prefix='virtops-console-proxy-', dir='/var/tmp')
    os.chmod(base, 0o755)
    return base, dict(console_proxy_config_dir=os.path.join(base, 'etc'), console_proxy_run_dir=os.path.join(base, 'run'),
                      console_proxy_log_dir=os.path.join(base, 'log'))


def greeting(port, token, tls=False):
    """What websockify answers first on a WebSocket with ``token``: a VNC server's RFB greeting, or b'' when
    refused."""
    import ssl
    import websocket
    url = '%s://127.0.0.1:%d/websockify?token=%s' % ('wss' if tls else 'ws', port, token)
    try:
        ws = websocket.create_connection(url, timeout=20, subprotocols=['binary'], sslopt={'cert_reqs': ssl.CERT_NONE})
    except (websocket.WebSocketException, OSError):
        return b''
    try:
        return ws.recv()
    except (websocket.WebSocketException, OSError):
        return b''
    finally:
        ws.close()
