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
