"""Talking to a guest through its consoles: the serial log file and a TCP serial shell."""
import socket
import time

PROMPT = b'tiny# '


def read_log(path):
    with open(path, errors='replace') as handle:
        return handle.read()


def wait_for_log(path, text, count=1, timeout=90):
    """Wait until ``text`` stands ``count`` times in the serial log at ``path``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if read_log(path).count(text) >= count:
            return
        time.sleep(0.5)
    raise AssertionError('%r appeared fewer than %d times in %s:\n%s' % (text, count, path, read_log(path)[-1500:]))


def serial_shell(port, command, timeout=120):
    """Run ``command`` on the tiny guest's shell behind a TCP serial console; returns what it printed, which ends
    with the marker @@DONE@@ once the shell has run it (the next prompt may or may not have arrived by then, so a
    test that the guest answers looks for the marker, not for the prompt)."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.settimeout(1)
        data, deadline = b'', time.time() + 60
        while PROMPT not in data and time.time() < deadline:
            try:
                data += sock.recv(4096)
            except socket.timeout:
                sock.sendall(b'\r\n')
        # quoted so that the echoed command line (echoed twice when it arrives while the shell is busy) never
        # carries the marker, only the command's output does
        sock.sendall(command.encode() + b"; echo @@DO''NE@@\r\n")
        data, deadline = b'', time.time() + timeout
        while b'@@DONE@@' not in data and time.time() < deadline:
            try:
                data += sock.recv(4096)
            except socket.timeout:
                continue
        return data.decode(errors='replace')


def _vnc_des(password, challenge):
    """The VNC authentication response: the challenge encrypted with DES, keyed by the password's first 8 bytes
    with each byte's bits reversed (RFB 6.2.2)."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:     # cryptography before 43
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    key = bytes(int('{:08b}'.format(byte)[::-1], 2) for byte in password.encode()[:8].ljust(8, b'\0'))
    # TripleDES with one 8-byte key repeated is single DES
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def _recv_exactly(sock, count):
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise AssertionError('the VNC server closed the connection after %r' % data)
        data += chunk
    return data


def vnc_security(port, password=None, host='127.0.0.1'):
    """RFB 3.8 handshake with a guest's VNC server: ``(security types it offers, result)``; with ``password`` and
    VNC authentication offered, result is True when the server accepted the password, else None."""
    with socket.create_connection((host, port), timeout=10) as sock:
        version = _recv_exactly(sock, 12)
        assert version.startswith(b'RFB 003.'), version
        sock.sendall(b'RFB 003.008\n')
        count = _recv_exactly(sock, 1)[0]
        assert count, 'the VNC server refused the handshake'
        types = list(_recv_exactly(sock, count))
        if password is None or 2 not in types:
            return types, None
        sock.sendall(bytes([2]))
        challenge = _recv_exactly(sock, 16)
        sock.sendall(_vnc_des(password, challenge))
        status = int.from_bytes(_recv_exactly(sock, 4), 'big')
        return types, status == 0
