"""The serial shell's framing: only what the command printed comes back, never the echoed command line."""
import subprocess

from lab import console


def _through_sh(command, nonce):
    """What a terminal shows for one command line: the line echoed, then what sh printed running it."""
    line = console.command_line(command, nonce)
    ran = subprocess.run(['sh', '-c', line], capture_output=True, text=True, check=False)
    return line + '\r\n' + ran.stdout.replace('\n', '\r\n') + 'tiny# '


def test_the_output_is_what_the_command_printed():
    assert console.parse_output(_through_sh('echo hello; echo world', 'ab12'), 'ab12') == (0, 'hello\nworld\n')


def test_the_echoed_command_line_is_never_output():
    status, out = console.parse_output(_through_sh('true still-here', 'cd34'), 'cd34')
    assert (status, out) == (0, '') and 'still-here' not in out


def test_a_line_echoed_twice_and_an_earlier_commands_markers_are_ignored():
    earlier = _through_sh('echo old', 'aaaa')
    data = earlier + console.command_line('echo new', 'bbbb') + '\r\n' + _through_sh('echo new', 'bbbb')
    assert console.parse_output(data, 'bbbb') == (0, 'new\n')


def test_the_exit_status_and_a_background_command():
    assert console.parse_output(_through_sh('false', 'ee55'), 'ee55')[0] == 1
    assert console.parse_output(_through_sh('sleep 0 &', 'ff66'), 'ff66') == (0, '')


def test_nothing_until_the_end_marker_arrived():
    data = _through_sh('echo partial', '1234')
    assert console.parse_output(data[:data.index('@@END-1234')], '1234') is None
    assert console.parse_output(console.command_line('echo x', '1234'), '1234') is None


class _FakeConsole:
    """A TCP 'serial console' on 127.0.0.1 that prints the tiny guest's prompt and echoes what it is sent, as a
    terminal does; with ``runs`` it also runs each line with sh and prints its output (a shell that works)."""

    def __init__(self, runs):
        import socket
        import threading
        self.runs = runs
        self.server = socket.socket()
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _addr = self.server.accept()
        with conn:
            conn.sendall(console.PROMPT)
            pending = b''
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)                       # the terminal's echo
                pending += data
                while b'\r\n' in pending:
                    line, pending = pending.split(b'\r\n', 1)
                    if self.runs and line.strip():
                        ran = subprocess.run(['sh', '-c', line.decode()], capture_output=True, check=False)
                        conn.sendall(ran.stdout.replace(b'\n', b'\r\n'))
                    conn.sendall(console.PROMPT)

    def close(self):
        self.server.close()


def test_a_shell_that_only_echoes_is_a_time_out_not_an_answer():
    """The check that could not fail: a console that echoes 'echo still-here' without running it used to pass
    `'still-here' in serial_shell(...)`; now nothing comes back but a ConsoleTimeout."""
    fake = _FakeConsole(runs=False)
    try:
        try:
            out = console.serial_shell(fake.port, 'echo still-here', timeout=2)
        except console.ConsoleTimeout as err:
            assert 'did not finish within 2 s' in str(err)
        else:
            raise AssertionError('serial_shell returned %r from a console that ran nothing' % out)
    finally:
        fake.close()


def test_a_shell_that_runs_commands_answers():
    fake = _FakeConsole(runs=True)
    try:
        assert console.serial_shell(fake.port, 'echo still-here', timeout=10) == 'still-here\n'
    finally:
        fake.close()
    fake = _FakeConsole(runs=True)
    try:
        console.assert_shell_answers(fake.port, timeout=10)
    finally:
        fake.close()
