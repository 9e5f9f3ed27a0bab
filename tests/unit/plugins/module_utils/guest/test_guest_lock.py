"""One change of a guest at a time: the lock file per host and guest (real files and flock, a fake clock), and
which of guest_action's actions take it."""
import os
import threading

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest import actions, lock
from ansible_collections.virtops.compute.plugins.module_utils.guest.lock import GuestLock

HOST = '743d5d8a-0d49-591b-8150-6486f81761c2'


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_second_run_waits_its_turn_and_gives_up_in_one_sentence(tmp_path):
    fake, lines = FakeTime(), []
    with GuestLock("guest 'web'", HOST, 'web', print, directory=str(tmp_path)):
        with pytest.raises(VirtopsError) as refused:
            second = GuestLock("guest 'web'", HOST, 'web', lines.append, wait=30, directory=str(tmp_path),
                               clock=fake.clock, sleep=fake.sleep)
            with second:
                raise AssertionError('took a lock that another run holds')
    assert fake.now >= 30
    assert str(refused.value) == ("guest 'web': another run has been changing it on this host for 30 s, so this "
                                  "run did not touch it; run again once that one has finished.")
    assert lines and all('waiting for another run that is changing it' in line for line in lines)


def test_the_lock_passes_to_the_waiting_run_when_the_first_ends(tmp_path):
    order = []
    waiting = threading.Event()

    def second():
        waiting.set()
        with GuestLock("guest 'web'", HOST, 'web', order.append, directory=str(tmp_path)):
            order.append('second')

    with GuestLock("guest 'web'", HOST, 'web', order.append, directory=str(tmp_path)):
        thread = threading.Thread(target=second)
        thread.start()
        waiting.wait(5)
        thread.join(1)
        assert thread.is_alive(), 'the second run did not wait for the first'
        order.append('first')
    thread.join(10)
    assert order == ['first', 'second']


def test_other_guests_and_other_hosts_do_not_wait(tmp_path):
    with GuestLock("guest 'web'", HOST, 'web', print, directory=str(tmp_path)):
        for host, name in ((HOST, 'db'), ('another-host-uuid', 'web')):
            with GuestLock("guest '%s'" % name, host, name, print, wait=0, directory=str(tmp_path)):
                pass


def test_a_lock_directory_others_can_write_is_refused(tmp_path):
    shared = tmp_path / 'locks'
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    with pytest.raises(VirtopsError, match='is not a private directory of this user'):
        GuestLock("guest 'web'", HOST, 'web', print, directory=str(shared))
    assert os.listdir(str(shared)) == []


def test_the_lock_file_name_holds_neither_the_host_nor_the_guest(tmp_path):
    lock = GuestLock("guest 'web'", HOST, 'web', print, directory=str(tmp_path))
    assert 'web' not in os.path.basename(lock.path) and HOST not in lock.path
    with lock:
        assert oct(os.stat(lock.path).st_mode & 0o777) == '0o600'


class FakeConn:
    @staticmethod
    def getCapabilities():
        return '<capabilities><host><uuid>%s</uuid></host></capabilities>' % HOST


class FakeModule:
    def __init__(self, action, check_mode=False):
        self.params = dict(name='web', action=action, reboot_timeout=120)
        self.check_mode = check_mode
        self.conn = FakeConn()
        self.lines = []

    def log(self, line):
        self.lines.append(line)


def _held_by_the_action(tmp_path, monkeypatch, module):
    """Run guest_action's dispatcher with the action replaced by a probe; whether the guest's lock was held while
    the action ran."""
    held = []

    def probe(_module):
        try:
            with GuestLock("guest 'web'", HOST, 'web', print, wait=0, directory=str(tmp_path)):
                held.append(False)
        except VirtopsError:
            held.append(True)
        return dict(changed=True)

    monkeypatch.setattr(lock, 'lock_dir', lambda: str(tmp_path))
    monkeypatch.setitem(actions.ACTIONS, module.params['action'], probe)
    assert actions.run(module) == dict(changed=True)
    return held == [True]


@pytest.mark.parametrize('action', ['reboot', 'rebuild', 'cold_move', 'resize'])
def test_actions_that_restart_or_redefine_the_guest_take_its_lock(tmp_path, monkeypatch, action):
    assert _held_by_the_action(tmp_path, monkeypatch, FakeModule(action))


@pytest.mark.parametrize('action', ['trigger_crash_dump', 'set_password', 'migration_abort',
                                    'migration_force_complete'])
def test_actions_that_leave_power_and_definition_alone_do_not_wait(tmp_path, monkeypatch, action):
    assert not _held_by_the_action(tmp_path, monkeypatch, FakeModule(action))


def test_a_check_run_of_an_action_does_not_wait(tmp_path, monkeypatch):
    assert not _held_by_the_action(tmp_path, monkeypatch, FakeModule('reboot', check_mode=True))
