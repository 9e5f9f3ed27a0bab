"""RDP and RFB clients for tests of the console_proxy role's RDP consoles: FreeRDP (xfreerdp) under a virtual X server
the test starts itself, with its window read back; the certificate an RDP server presents; and a plain RFB client
that logs in with VNC authentication (to the role's relays)."""
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time

from lab.console import recv_exactly, vnc_auth_response
from lab.consoles import rgb_gray

XRDP_LOG_GREY = (192, 192, 192)


class XServer:
    """Xvfb on a display number it picks itself (-displayfd), until close()."""

    def __init__(self, width=1024, height=768):
        read, write = os.pipe()
        self.proc = subprocess.Popen(['Xvfb', '-displayfd', str(write), '-screen', '0', '%dx%dx24' % (width, height),
                                      '-nolisten', 'tcp'], pass_fds=(write,), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(write)
        # the pipe stays open while Xvfb runs: it writes the number and a newline apart, and again when it resets,
        # and a closed pipe would kill it
        self.pipe, number, deadline = read, b'', time.time() + 30
        while not number.endswith(b'\n') and time.time() < deadline:
            if select.select([read], [], [], 1)[0]:
                number += os.read(read, 32) or b'?\n'
        number = number.decode().strip()
        if not number.isdigit():
            self.close()
            raise AssertionError('Xvfb named no display within 30 s (exit code %s)' % self.proc.poll())
        self.display = ':' + number

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.pipe)


class RdpClient:
    """One xfreerdp connected to ``address`` (host:port) with ``password``, on the X server's display."""

    def __init__(self, xserver, address, password, width=800, height=600):
        self.display, self.address = xserver.display, address
        self.home = tempfile.mkdtemp(prefix='virtops-freerdp-')
        self.log = os.path.join(self.home, 'xfreerdp.log')
        with open(self.log, 'wb') as log:
            # the user name is not checked (the guest's password is the secret); /cert:ignore as the test checks the
            # certificate itself (tls_certificate)
            self.proc = subprocess.Popen(
                ['xfreerdp', '/v:' + address, '/u:na', '/p:' + password, '/sec:tls', '/cert:ignore',
                 '/size:%dx%d' % (width, height)], env=dict(os.environ, DISPLAY=self.display, HOME=self.home),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def window(self):
        """(window id, width, height) of the client's window, or None while it has none."""
        tree = subprocess.run(['xwininfo', '-display', self.display, '-root', '-tree'], capture_output=True,
                              text=True, timeout=30, check=False).stdout
        found = re.search(r'^\s*(0x[0-9a-f]+) "FreeRDP: %s".*?\s(\d+)x(\d+)\+' % re.escape(self.address), tree, re.M)
        return (found.group(1), int(found.group(2)), int(found.group(3))) if found else None

    def screen(self):
        """(width, height, grey bytes) of what the client's window shows, or None while it has no window."""
        found = self.window()
        if not found:
            return None
        done = subprocess.run(['import', '-display', self.display, '-window', found[0], '-depth', '8', 'rgb:-'],
                              capture_output=True, timeout=60, check=False)
        if done.returncode != 0 or len(done.stdout) != 3 * found[1] * found[2]:
            return None     # the window changed size between the two commands
        return found[1], found[2], done.stdout

    def wait_for(self, what, predicate, timeout=60):
        """Poll the window until ``predicate(width, height, rgb)`` holds; returns (width, height, grey)."""
        deadline, shot = time.time() + timeout, None
        while time.time() < deadline:
            shot = self.screen()
            if shot and predicate(*shot):
                return shot[0], shot[1], rgb_gray(shot[2])
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError('xfreerdp to %s: %s not seen within %ss (window %s, client %s; its log ends: %s)' % (
            self.address, what, timeout, shot and shot[:2], 'running' if self.proc.poll() is None
            else 'exited %d' % self.proc.returncode, self.log_tail()))

    def log_tail(self):
        with open(self.log, errors='replace') as handle:
            return ' / '.join(handle.read().strip().splitlines()[-3:])

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        shutil.rmtree(self.home, ignore_errors=True)


def shows_xrdp_log_window(width, height, rgb):
    """xrdp's own "Connection Log" window (grey, where it lists why it could not connect) fills a fifth of it."""
    grey = sum(1 for i in range(0, len(rgb), 3) if tuple(rgb[i:i + 3]) == XRDP_LOG_GREY)
    return grey > 0.2 * width * height


def tls_certificate(host, port):
    """The DER certificate an RDP server presents: an X.224 connection request asking for TLS, then the handshake."""
    # TPKT (version 3, length 19), X.224 connection request, RDP_NEG_REQ with requestedProtocols PROTOCOL_SSL
    request = bytes.fromhex('03000013 0ee00000000000 0100080001000000')
    with socket.create_connection((host, port), timeout=20) as sock:
        sock.sendall(request)
        confirm = sock.recv(19)
        assert confirm[5] == 0xd0 and confirm[11] == 2 and confirm[15] == 1, 'no TLS offered: %r' % confirm
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(sock) as tls:
            return tls.getpeercert(binary_form=True)


def rfb_login(port, password, host='127.0.0.1'):
    """Log in to an RFB server with VNC authentication as RFB 3.3 (what xrdp's VNC backend speaks). Returns the
    desktop name of the server's ServerInit, or None when refused (a failed security result or a closed
    connection)."""
    with socket.create_connection((host, port), timeout=30) as sock:
        try:
            assert recv_exactly(sock, 12).startswith(b'RFB ')
            sock.sendall(b'RFB 003.003\n')
            assert struct.unpack('>I', recv_exactly(sock, 4))[0] == 2, 'not VNC authentication'
            sock.sendall(vnc_auth_response(password, recv_exactly(sock, 16)))
            if struct.unpack('>I', recv_exactly(sock, 4))[0] != 0:
                return None
            sock.sendall(b'\x01')
            init = recv_exactly(sock, 24)
            return recv_exactly(sock, struct.unpack('>I', init[20:24])[0]).decode()
        except ConnectionError:
            return None
