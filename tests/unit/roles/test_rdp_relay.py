"""The console_proxy role's RFB relay, between a client speaking RFB 3.3 with VNC authentication (as xrdp's VNC
backend does; here the tests' own client, lab.rdp.rfb_login) and a small RFB server in this test standing in for a
guest's VNC server (QEMU speaks 3.8), found through a stub virsh on PATH."""
import json
import os
import socket
import stat
import struct
import threading
import time

import pytest

from lab.rdp import rfb_login

from test_console_tokens import UUID, domain, load

relay = load('virtops_rdp_relay')


def test_only_the_first_eight_characters_count():
    challenge = bytes(range(16))
    assert relay.vnc_response(challenge, 'abcdefgh') == relay.vnc_response(challenge, 'abcdefghXYZ')
    assert relay.vnc_response(challenge, 'abcdefgh') != relay.vnc_response(challenge, 'abcdefgi')
    assert len(relay.vnc_response(challenge, '')) == 16


class GuestVnc:
    """An RFB 3.8 server offering no authentication, or VNC authentication when it has a password; it sends a
    ServerInit naming the desktop once a client is in, and counts the clients that got in."""

    def __init__(self, password=''):
        self.password, self.sessions = password, 0
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _addr = self.sock.accept()
            with conn:
                try:
                    self.session(conn)
                except (OSError, AssertionError):
                    pass    # the relay hung up on it: the next connection is served all the same

    def session(self, conn):
        conn.sendall(b'RFB 003.008\n')
        assert conn.recv(12) == b'RFB 003.008\n'
        conn.sendall(b'\x01' + (b'\x02' if self.password else b'\x01'))
        assert conn.recv(1) == (b'\x02' if self.password else b'\x01')
        if self.password:
            challenge = os.urandom(16)
            conn.sendall(challenge)
            if conn.recv(16) != relay.vnc_response(challenge, self.password):
                conn.sendall(struct.pack('>I', 1) + struct.pack('>I', 5) + b'wrong')
                return
        conn.sendall(struct.pack('>I', 0))
        assert conn.recv(1) == b'\x01'
        # counted before the client can read the ServerInit and look
        self.sessions += 1
        conn.sendall(struct.pack('>HH', 720, 400) + bytes(16) + struct.pack('>I', 4) + b'web1')


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A guest's VNC server, a virsh that knows only guest UUID (running, VNC on that server), the settings file
    and a relay for the guest on a port of its own; returns (settings writer, relay port, guest VNC server)."""
    vnc = GuestVnc()
    script = tmp_path / 'virsh'
    script.write_text('#!/bin/sh\ncase "$*" in *"--domain %s") cat %s/xml ;; *) echo "error: no domain" >&2; exit 1 ;;'
                      ' esac\n' % (UUID, tmp_path))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    (tmp_path / 'xml').write_text(domain("<graphics type='vnc' port='%d' listen='127.0.0.1'/>" % vnc.port))
    targets = tmp_path / 'targets'

    def write(password='Abc12345', lifetime=0, issued=None, vnc_password='', port=vnc.port):
        (tmp_path / 'xml').write_text(domain("<graphics type='vnc' port='%d' listen='127.0.0.1'/>" % port))
        targets.write_text(json.dumps({'uri': '', 'lifetime': lifetime, 'vnc_passwords': {UUID: vnc_password},
                                       'guests': {UUID: {'name': 'web1', 'rdp_password': password,
                                                         'issued': issued or int(time.time())}}}))

    write()
    server = relay.Server('127.0.0.1', 0, str(targets), UUID)
    monkeypatch.setattr(relay, 'FAILURE_DELAY', 0.05)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield write, server.server_address[1], vnc
    server.shutdown()
    server.server_close()


def test_the_right_password_reaches_the_guest(world):
    _write, port, vnc = world
    assert rfb_login(port, 'Abc12345') == 'web1'
    assert vnc.sessions == 1


@pytest.mark.parametrize('password', ['Abc12346', '', 'abc12345', 'Abc1234'])
def test_a_wrong_password_never_reaches_the_guest(world, password):
    _write, port, vnc = world
    assert rfb_login(port, password) is None
    assert vnc.sessions == 0


def test_the_password_is_read_at_each_connection(world):
    write, port, _vnc = world
    write(password='Zyx98765')
    assert rfb_login(port, 'Abc12345') is None
    assert rfb_login(port, 'Zyx98765') == 'web1'


def test_an_expired_password_is_refused(world):
    write, port, vnc = world
    write(lifetime=60, issued=int(time.time()) - 61)
    assert rfb_login(port, 'Abc12345') is None
    write(lifetime=60, issued=int(time.time()) - 59)
    assert rfb_login(port, 'Abc12345') == 'web1'
    assert vnc.sessions == 1


def test_a_guest_without_a_vnc_port_refuses(world):
    write, port, vnc = world
    write(port=-1)
    assert rfb_login(port, 'Abc12345') is None
    assert vnc.sessions == 0


def test_the_guests_own_vnc_password_is_used_upstream(world):
    write, port, vnc = world
    vnc.password = 'gst-pw'
    # not given it, the relay cannot log in to the guest, and says so rather than passing the client on
    assert rfb_login(port, 'Abc12345') is None
    write(vnc_password='wrong-pw')
    assert rfb_login(port, 'Abc12345') is None
    write(vnc_password='gst-pw')
    assert rfb_login(port, 'Abc12345') == 'web1'
    assert vnc.sessions == 1
