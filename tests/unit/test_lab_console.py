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
