"""guest_action on a real tiny guest: reboots, NMI, password through the agent, and bad input."""
import re
import socket
import time

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module

NAME = 'lab-action'
NO_AGENT = 'lab-action-noagent'
SERIAL_PORT = 4563
MARKER = 'virtops-tiny: boot complete'


def _log(path):
    with open(path, errors='replace') as handle:
        return handle.read()


def _wait_count(path, text, count, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _log(path).count(text) >= count:
            return
        time.sleep(0.5)
    raise AssertionError('%r appeared fewer than %d times:\n%s' % (text, count, _log(path)[-1500:]))


@pytest.fixture(scope='module')
def action_guest(libvirt_conn, tiny_image):
    boot = dict(virt_type='qemu', memory_mb=192, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline)
    for name in (NAME, NO_AGENT):
        run_module('guest', name=name, state='absent')
    with_agent = run_module('guest', name=NAME, guest_agent=True, serial_console=dict(type='tcp', port=SERIAL_PORT), **boot)
    assert not with_agent.failed, with_agent.msg
    without = run_module('guest', name=NO_AGENT, **boot)
    assert not without.failed, without.msg
    log = with_agent['guest']['consoles']['serial_log']
    _wait_count(log, MARKER, 1)
    _wait_count(log, 'guest agent started', 1)
    yield log
    for name in (NAME, NO_AGENT):
        run_module('guest', name=name, state='absent')


def _shell(command):
    with socket.create_connection(('127.0.0.1', SERIAL_PORT), timeout=10) as sock:
        sock.settimeout(1)
        sock.sendall(b'\r\n' + command.encode() + b'; echo @@END@@\r\n')
        data, deadline = b'', time.time() + 30
        while data.count(b'@@END@@') < 2 and time.time() < deadline:
            try:
                data += sock.recv(4096)
            except socket.timeout:
                continue
        return data.decode(errors='replace')


def _root_hash(shell_output):
    match = re.search(r'^root:([^:\r\n]*):\d', shell_output, re.M)
    assert match, shell_output
    return match.group(1)


def test_hard_reboot_is_a_fresh_boot(action_guest):
    count = _log(action_guest).count(MARKER)
    result = run_module('guest_action', name=NAME, action='reboot', reboot_type='hard')
    assert not result.failed, result.msg
    assert result.changed and result['method'] == 'reset'
    _wait_count(action_guest, MARKER, count + 1)


def test_soft_reboot_goes_through_the_guest(action_guest):
    _wait_count(action_guest, 'guest agent started', _log(action_guest).count(MARKER))
    count = _log(action_guest).count(MARKER)
    result = run_module('guest_action', name=NAME, action='reboot', reboot_timeout=60)
    assert not result.failed, result.msg
    assert result['method'] == 'guest', 'the guest did not reboot itself'
    assert 'virtops-tiny: rebooting' in _log(action_guest)
    _wait_count(action_guest, MARKER, count + 1)


def test_nmi_reaches_the_guest_kernel(action_guest):
    result = run_module('guest_action', name=NAME, action='trigger_crash_dump')
    assert not result.failed and result.changed, result.msg
    _wait_count(action_guest, 'NMI received', 1, timeout=30)


def test_set_password_through_the_agent(action_guest):
    _wait_count(action_guest, 'guest agent started', _log(action_guest).count(MARKER))
    before = _shell('grep ^root: /etc/shadow')
    result = run_module('guest_action', name=NAME, action='set_password', user='root', password='s3cret-Pass')
    assert not result.failed, result.msg
    assert 's3cret-Pass' not in repr(result.data)
    after = _shell('grep ^root: /etc/shadow')
    old_hash = _root_hash(before)
    new_hash = _root_hash(after)
    assert new_hash != old_hash and new_hash.startswith('$'), (before, after)


def test_check_mode_does_nothing(libvirt_conn, action_guest):
    count = _log(action_guest).count(MARKER)
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_action', check=True, name=NAME, action='reboot', reboot_type='hard')
    assert not result.failed and result.changed
    time.sleep(3)
    assert libvirt_snapshot(libvirt_conn) == before and _log(action_guest).count(MARKER) == count


@pytest.mark.parametrize('params, names', [
    (dict(name='lab-no-such-guest', action='reboot'), ['lab-no-such-guest', 'does not exist']),
    (dict(name=NO_AGENT, action='set_password', password='x'), [NO_AGENT, 'guest agent']),
], ids=['unknown guest', 'no agent'])
def test_bad_input(libvirt_conn, action_guest, params, names):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_action', **params)
    assert result.failed
    assert_one_sentence(result.msg, *names)
    assert libvirt_snapshot(libvirt_conn) == before
