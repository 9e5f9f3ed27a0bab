"""The lab's session lock, as scripts/run-tests.sh holds it for both of its lanes."""
import os

from lab import proc


def test_a_session_of_a_run_that_holds_the_lock_does_not_wait_for_it(monkeypatch, tmp_path):
    monkeypatch.setattr(proc, 'STATE_DIR', str(tmp_path / 'never-made'))
    monkeypatch.setenv(proc.HELD_ENV, str(os.getpid()))
    said = []
    lock = proc.SessionLock(log=said.append).acquire(timeout=1)
    assert lock.fh is None and said == ['the lab is held for this session by the test run of pid %d' % os.getpid()]
    assert not (tmp_path / 'never-made').exists(), 'the session touched the lock itself'
    lock.release()


def test_a_dead_holder_is_not_trusted(monkeypatch, tmp_path):
    monkeypatch.setattr(proc, 'STATE_DIR', str(tmp_path))
    monkeypatch.setattr(proc, 'LOCK_FILE', str(tmp_path / 'session.lock'))
    monkeypatch.setenv(proc.HELD_ENV, '999999999')
    lock = proc.SessionLock(log=lambda _msg: None).acquire(timeout=1)
    try:
        assert lock.fh is not None and proc.read_pid(str(tmp_path / 'session.lock')) == os.getpid()
    finally:
        lock.release()
