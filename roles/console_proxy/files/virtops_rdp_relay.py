# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The console_proxy role's RFB relay for one guest, between xrdp's VNC backend and the guest's VNC server.

xrdp hands the RDP user's password to its VNC backend, which answers the VNC authentication of whatever VNC
server it is pointed at. This relay is that server: it asks for VNC authentication with the guest's RDP password
(from the role's settings file, re-read at every connection), so a wrong RDP password is refused here. Then it
asks libvirt where the guest's VNC server listens now (a stopped guest refuses), logs in there with the guest's
own VNC password if it has one, and passes the rest of the session through unchanged.

usage: virtops_rdp_relay.py LISTEN_HOST LISTEN_PORT SETTINGS_FILE GUEST_UUID

VNC authentication is DES with the first 8 characters of the password (the protocol's own limit), so the role's
RDP passwords are 8 random letters and digits; failed attempts are answered one at a time, a second apart.
"""
import hmac
import os
import socket
import socketserver
import struct
import sys
import threading
import time

from cryptography.hazmat.primitives.ciphers import Cipher, modes
try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:                 # cryptography before 43
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

import virtops_console_tokens as consoles

HANDSHAKE_TIMEOUT = 30
FAILURE_DELAY = 1.0
SEC_NONE, SEC_VNC = 1, 2


class Refused(Exception):
    """The connection ends here; the message (never a secret) goes to the log."""


def vnc_response(challenge, password):
    """VNC authentication's answer: the challenge DES-encrypted with the password's first 8 bytes, each byte's bits
    reversed (as every VNC implementation does)."""
    key = bytes(int('{:08b}'.format(byte)[::-1], 2) for byte in password.encode()[:8].ljust(8, b'\0'))
    # single DES as three-key triple DES with one key thrice: the form cryptography keeps supporting
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def recv_exact(sock, count):
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise Refused('the other side closed the connection during the handshake')
        data += chunk
    return data


def recv_u32(sock):
    return struct.unpack('>I', recv_exact(sock, 4))[0]


def recv_reason(sock):
    return recv_exact(sock, recv_u32(sock)).decode(errors='replace')


def login_upstream(sock, vnc_password):
    """The client half of an RFB handshake with the guest's VNC server, up to its security result."""
    version = recv_exact(sock, 12)
    try:
        offer = (int(version[4:7]), int(version[8:11])) if version.startswith(b'RFB ') else None
    except ValueError:
        offer = None
    if offer is None:
        raise Refused('the guest VNC server sent no RFB greeting')
    # the highest of the versions that matter (3.3, 3.7, 3.8) the server speaks
    minor = 8 if offer >= (3, 8) else 7 if offer >= (3, 7) else 3
    sock.sendall(b'RFB 003.%03d\n' % minor)
    if minor == 3:
        offered = [recv_u32(sock)]
        if offered == [0]:
            raise Refused('the guest VNC server refused: %s' % recv_reason(sock))
    else:
        offered = list(recv_exact(sock, recv_exact(sock, 1)[0]))
        if not offered:
            raise Refused('the guest VNC server refused: %s' % recv_reason(sock))
    if SEC_VNC in offered and (vnc_password or SEC_NONE not in offered):
        if not vnc_password:
            raise Refused('the guest VNC server asks for a password the proxy has not been given '
                          '(run the console_proxy role again)')
        chosen = SEC_VNC
    elif SEC_NONE in offered:
        chosen = SEC_NONE
    else:
        raise Refused('the guest VNC server offers only security types %s' % offered)
    if minor != 3:
        sock.sendall(bytes([chosen]))
    if chosen == SEC_VNC:
        sock.sendall(vnc_response(recv_exact(sock, 16), vnc_password))
    if chosen == SEC_VNC or minor == 8:
        if recv_u32(sock) != 0:
            reason = recv_reason(sock) if minor == 8 else 'authentication failed'
            raise Refused('the guest VNC server refused its VNC password: %s' % reason)


def pipe(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Relay(socketserver.BaseRequestHandler):
    def handle(self):
        server, client = self.server, self.request
        client.settimeout(HANDSHAKE_TIMEOUT)
        try:
            upstream, name = self.authenticate(server, client)
        except Refused as err:
            consoles.say('relay %s: %s' % (server.label, err))
            return
        except OSError as err:
            consoles.say('relay %s: connection from %s lost: %s' % (server.label, self.client_address[0], err))
            return
        consoles.say('relay %s: guest %s connected for %s' % (server.label, name, self.client_address[0]))
        client.settimeout(None)
        upstream.settimeout(None)
        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join()
        upstream.close()

    def authenticate(self, server, client):
        """Check the RDP password as VNC authentication, reach the guest, and return its socket and name."""
        client.sendall(b'RFB 003.003\n')
        if not recv_exact(client, 12).startswith(b'RFB '):
            raise Refused('a client without an RFB greeting')
        challenge = os.urandom(16)
        client.sendall(struct.pack('>I', SEC_VNC) + challenge)
        response = recv_exact(client, 16)
        try:
            settings = consoles.read_settings(server.settings_file)
        except (OSError, ValueError) as err:
            raise Refused('cannot read %s: %s' % (server.settings_file, err)) from None
        guest = settings.get('guests', {}).get(server.uuid)
        if not guest or not guest.get('rdp_password'):
            raise Refused('this guest is no longer served')
        name = guest.get('name', server.uuid)
        good = hmac.compare_digest(response, vnc_response(challenge, guest['rdp_password']))
        if not good or consoles.expired(settings, guest):
            # one failure at a time, each a second long: guessing the password takes forever
            with server.failures:
                time.sleep(FAILURE_DELAY)
                client.sendall(struct.pack('>I', 1))
            raise Refused('guest %s: %s from %s' % (
                name, 'wrong password' if not good else 'its password has expired', self.client_address[0]))
        try:
            address = consoles.guest_vnc(settings, server.uuid)
        except LookupError as err:
            raise Refused('guest %s: %s' % (name, err)) from None
        upstream = socket.create_connection(address, timeout=HANDSHAKE_TIMEOUT)
        try:
            login_upstream(upstream, settings.get('vnc_passwords', {}).get(server.uuid, ''))
        except (Refused, OSError) as err:
            upstream.close()
            raise Refused('guest %s at %s:%d: %s' % (name, address[0], address[1], err)) from None
        client.sendall(struct.pack('>I', 0))
        return upstream, name


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, host, port, settings_file, uuid):
        self.address_family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.settings_file, self.uuid, self.label = settings_file, uuid, '%s:%d' % (host, port)
        self.failures = threading.Lock()
        super().__init__((host, port), Relay)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write('usage: virtops_rdp_relay.py LISTEN_HOST LISTEN_PORT SETTINGS_FILE GUEST_UUID\n')
        return 2
    server = Server(argv[0], int(argv[1]), argv[2], argv[3])
    consoles.say('relay %s: listening for guest %s' % (server.label, argv[3]))
    server.serve_forever()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
