"""Talking to a guest through its consoles: the serial log file and a TCP serial shell.

A terminal echoes every command line back, so text a test looks for must be text only the command's run can
produce: ``serial_shell`` returns nothing but the output between two markers the shell computes (an echoed
command line, or an earlier command's late output, cannot hold them), and checks compute what they expect
(``echo $((a+b))``, ``echo A""B``) rather than look for a word the command line itself contains.
"""
import random
import socket
import time

PROMPT = b'tiny# '


class ConsoleTimeout(AssertionError):
    """The guest's shell did not answer, or did not finish a command, within the time allowed."""


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


def _split(word):
    """``word`` with empty quotes after its first character: the shell prints ``word``, its command line does not
    contain it."""
    return word[0] + "''" + word[1:]


def command_line(command, nonce):
    """The one line sent for ``command``: it prints a begin marker, runs ``command``, then prints an end marker with
    the command's exit status. One line, so that any echo of it comes before the begin marker's output."""
    begin, end = '@@BEGIN-%s@@' % nonce, '@@END-%s-' % nonce
    # a command ending in '&' is already terminated: '& ;' would be a syntax error
    joint = ' ' if command.rstrip().endswith('&') else '; '
    return 'echo %s; %s%secho %s$?@@' % (_split(begin), command, joint, _split(end))


def parse_output(data, nonce):
    """(exit status, output) of one ``command_line`` run found in what the console printed, or None while its end
    marker has not arrived."""
    begin, end = '@@BEGIN-%s@@' % nonce, '@@END-%s-' % nonce
    start = data.find(begin)
    if start < 0:
        return None
    stop = data.find(end, start)
    if stop < 0 or '@@' not in data[stop + len(end):]:
        return None
    status = data[stop + len(end):].split('@@', 1)[0]
    output = data[start + len(begin):stop].replace('\r\n', '\n').replace('\r', '')
    return int(status) if status.isdigit() else None, output.lstrip('\n')


def serial_run(port, command, timeout=120, host='127.0.0.1'):
    """Run ``command`` on the tiny guest's shell behind the TCP serial console on ``host``:``port``; returns (exit
    status, what it printed). Raises ConsoleTimeout when no prompt comes within a minute or the command does not
    finish within ``timeout`` seconds."""
    nonce = '%08x' % random.getrandbits(32)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.settimeout(1)
        data, deadline = b'', time.time() + 60
        while PROMPT not in data:
            if time.time() > deadline:
                raise ConsoleTimeout('no shell prompt on the serial console at port %d within 60 s; it printed:\n%s'
                                     % (port, data[-1500:].decode(errors='replace')))
            try:
                data += sock.recv(4096)
            except socket.timeout:
                sock.sendall(b'\r\n')
        sock.sendall(command_line(command, nonce).encode() + b'\r\n')
        data, deadline = b'', time.time() + timeout
        while True:
            found = parse_output(data.decode(errors='replace'), nonce)
            if found:
                return found
            if time.time() > deadline:
                raise ConsoleTimeout('%r did not finish within %d s on the serial console at port %d; it printed:\n%s'
                                     % (command, timeout, port, data[-1500:].decode(errors='replace')))
            try:
                data += sock.recv(4096)
            except socket.timeout:
                continue


def vnc_auth_response(password, challenge):
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


def recv_exactly(sock, count):
    """``count`` bytes from ``sock``; ConnectionError when the server closes the connection first."""
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError('the server closed the connection after %r' % data)
        data += chunk
    return data


def vnc_security(port, password=None, host='127.0.0.1'):
    """RFB 3.8 handshake with a guest's VNC server: ``(security types it offers, result)``; with ``password`` and
    VNC authentication offered, result is True when the server accepted the password, else None."""
    with socket.create_connection((host, port), timeout=10) as sock:
        version = recv_exactly(sock, 12)
        assert version.startswith(b'RFB 003.'), version
        sock.sendall(b'RFB 003.008\n')
        count = recv_exactly(sock, 1)[0]
        assert count, 'the VNC server refused the handshake'
        types = list(recv_exactly(sock, count))
        if password is None or 2 not in types:
            return types, None
        sock.sendall(bytes([2]))
        challenge = recv_exactly(sock, 16)
        sock.sendall(vnc_auth_response(password, challenge))
        status = int.from_bytes(recv_exactly(sock, 4), 'big')
        return types, status == 0


def serial_shell(port, command, timeout=120, host='127.0.0.1'):
    """What ``command`` printed on the tiny guest's serial shell (see serial_run), whatever its exit status."""
    return serial_run(port, command, timeout, host)[1]


def assert_shell_answers(port, timeout=120):
    """The shell on ``port`` runs commands: it prints a sum that its command line does not contain."""
    first, second = random.randint(1000, 9999), random.randint(1000, 9999)
    out = serial_shell(port, 'echo sum-$((%d + %d))' % (first, second), timeout)
    assert 'sum-%d' % (first + second) in out, 'the shell at port %d did not compute the sum: %r' % (port, out)
