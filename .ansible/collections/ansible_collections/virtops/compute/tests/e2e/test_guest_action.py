"""guest_action on a real tiny guest: reboots, NMI, password through the agent, and bad input."""
import re
import time

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import read_log, serial_shell, wait_for_log
from lab.runner import run_module

NAME = 'lab-action'
NO_AGENT = 'lab-action-noagent'
SERIAL_PORT = 4563
MARKER = 'virtops-tiny: boot complete'


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
    wait_for_log(log, MARKER)
    wait_for_log(log, 'guest agent started')
    yield log
    for name in (NAME, NO_AGENT):
        run_module('guest', name=name, state='absent')


def _shell(command):
    return serial_shell(SERIAL_PORT, command, timeout=30)


def _root_hash(shell_output):
    match = re.search(r'^root:([^:\r\n]*):\d', shell_output, re.M)
    assert match, shell_output
    return match.group(1)


def test_hard_reboot_is_a_fresh_boot(action_guest):
    count = read_log(action_guest).count(MARKER)
    result = run_module('guest_action', name=NAME, action='reboot', reboot_type='hard')
    assert not result.failed, result.msg
    assert result.changed and result['method'] == 'reset'
    wait_for_log(action_guest, MARKER, count + 1)


def test_soft_reboot_goes_through_the_guest(action_guest):
    wait_for_log(action_guest, 'guest agent started', read_log(action_guest).count(MARKER))
    count = read_log(action_guest).count(MARKER)
    result = run_module('guest_action', name=NAME, action='reboot', reboot_timeout=60)
    assert not result.failed, result.msg
    assert result['method'] == 'guest', 'the guest did not reboot itself'
    assert 'virtops-tiny: rebooting' in read_log(action_guest)
    wait_for_log(action_guest, MARKER, count + 1)


def test_nmi_reaches_the_guest_kernel(action_guest):
    result = run_module('guest_action', name=NAME, action='trigger_crash_dump')
    assert not result.failed and result.changed, result.msg
    wait_for_log(action_guest, 'NMI received', 1, timeout=30)


def test_set_password_through_the_agent(action_guest):
    wait_for_log(action_guest, 'guest agent started', read_log(action_guest).count(MARKER))
    before = _shell('grep ^root: /etc/shadow')
    result = run_module('guest_action', name=NAME, action='set_password', user='root', password='s3cret-Pass')
    assert not result.failed, result.msg
    assert 's3cret-Pass' not in repr(result.data)
    after = _shell('grep ^root: /etc/shadow')
    old_hash = _root_hash(before)
    new_hash = _root_hash(after)
    assert new_hash != old_hash and new_hash.startswith('$'), (before, after)


def test_check_mode_does_nothing(libvirt_conn, action_guest):
    count = read_log(action_guest).count(MARKER)
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_action', check=True, name=NAME, action='reboot', reboot_type='hard')
    assert not result.failed and result.changed
    time.sleep(3)
    assert libvirt_snapshot(libvirt_conn) == before and read_log(action_guest).count(MARKER) == count


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
