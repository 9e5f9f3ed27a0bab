"""Consoles of a real tiny guest: serial log, interactive TCP serial, VNC and SPICE handshakes."""
import socket
import struct
import time

import pytest

from lab.console import wait_for_log
from lab.runner import run_module

NAME = 'lab-consoles'
SERIAL_PORT = 4561


@pytest.fixture(scope='module')
def consoles_guest(libvirt_conn, tiny_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=192, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=SERIAL_PORT),
                  graphics=[dict(type='vnc'), dict(type='spice')])
    run_module('guest', name=NAME, state='absent')
    result = run_module('guest', **params)
    assert not result.failed, result.msg
    yield result['guest'], params
    run_module('guest', name=NAME, state='absent')


def _read_until(sock, wanted, timeout=60):
    sock.settimeout(1)
    data = b''
    deadline = time.time() + timeout
    while time.time() < deadline and wanted not in data:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            sock.sendall(b'\r\n')
            continue
        if not chunk:
            break
        data += chunk
    return data


def test_reported_consoles(consoles_guest):
    guest, _params = consoles_guest
    consoles = guest['consoles']
    assert consoles['serial'] == dict(type='tcp', host='127.0.0.1', port=SERIAL_PORT)
    assert consoles['serial_log'].endswith('/%s-console.log' % NAME)
    assert consoles['vnc']['host'] == '127.0.0.1' and consoles['vnc']['port'] >= 5900
    assert consoles['spice']['host'] == '127.0.0.1' and consoles['spice']['port'] >= 5900


def test_interactive_serial_gives_a_shell(consoles_guest):
    with socket.create_connection(('127.0.0.1', SERIAL_PORT), timeout=10) as sock:
        data = _read_until(sock, b'tiny# ')
        assert b'tiny# ' in data, data[-500:]
        sock.sendall(b'echo virtops-$((40+2))\r\n')
        assert b'virtops-42' in _read_until(sock, b'virtops-42', timeout=20)


def test_serial_log_is_readable_while_running(consoles_guest):
    guest, _params = consoles_guest
    wait_for_log(guest['consoles']['serial_log'], 'virtops-tiny: boot complete', timeout=60)


def test_vnc_handshake(consoles_guest):
    guest, _params = consoles_guest
    with socket.create_connection(('127.0.0.1', guest['consoles']['vnc']['port']), timeout=10) as sock:
        assert sock.recv(12).startswith(b'RFB 003.')


def test_spice_handshake(consoles_guest):
    guest, _params = consoles_guest
    # SpiceLinkHeader (magic, major, minor, size) + SpiceLinkMess for the main channel, no capabilities.
    message = struct.pack('<IBBIII', 0, 1, 0, 0, 0, 18)
    header = b'REDQ' + struct.pack('<III', 2, 2, len(message))
    with socket.create_connection(('127.0.0.1', guest['consoles']['spice']['port']), timeout=10) as sock:
        sock.sendall(header + message)
        reply = sock.recv(16)
    assert reply[:4] == b'REDQ' and struct.unpack('<I', reply[4:8])[0] == 2


def test_consoles_are_idempotent(consoles_guest):
    _guest, params = consoles_guest
    again = run_module('guest', **params)
    assert not again.failed and not again.changed, again.get('changes')
