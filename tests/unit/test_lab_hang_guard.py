"""The lab's hang guard (lab/hang_guard.py) ends a test stuck outside Python, which pytest-timeout cannot.

A test stands in for one blocked in libguestfs: SIGALRM blocked (the pending time-out cannot run, as in a C call
that retries poll) while it waits on a child. The guard must name the test, then free it by killing its QEMU
child, or end the run when nothing it may kill frees it. Each case runs pytest in a child process."""
import os
import signal
import subprocess
import sys
import textwrap

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STUCK_TEST = textwrap.dedent('''
    import os, signal, subprocess, sys
    import pytest

    @pytest.mark.timeout(1)
    def test_stuck_in_c(tmp_path):
        program = tmp_path / {name!r}
        program.symlink_to(sys.executable)
        child = subprocess.Popen([str(program), '-c', 'import time; time.sleep(600)'])
        with open({pid_file!r}, 'w') as handle:
            handle.write(str(child.pid))
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        os.waitpid(child.pid, 0)  # blocked, like a libguestfs call waiting on its appliance
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
''')
CONFTEST = 'import lab.hang_guard as guard\nguard.GRACE_SECONDS = 2\nguard.POLL_SECONDS = 0.2\n'


def _run(tmp_path, child_name):
    pid_file = str(tmp_path / 'child.pid')
    (tmp_path / 'test_stuck.py').write_text(STUCK_TEST.format(name=child_name, pid_file=pid_file))
    (tmp_path / 'conftest.py').write_text(CONFTEST)
    (tmp_path / 'pytest.ini').write_text('[pytest]\ntimeout_method = signal\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO_ROOT, 'tests'),
                                                       os.path.join(REPO_ROOT, '.build', 'collections')]))
    try:
        # away from the repository, without pytest-ansible: it would make a collections/ tree of links in the cwd
        proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-p', 'no:pytest-ansible',
                               '-p', 'lab.hang_guard', '-c', str(tmp_path / 'pytest.ini'), '--rootdir', str(tmp_path),
                               str(tmp_path)],
                              capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=90, check=False)
    finally:
        if os.path.exists(pid_file):
            try:
                os.kill(int(open(pid_file).read()), signal.SIGKILL)
            except OSError:
                pass
    return proc.returncode, proc.stdout + proc.stderr


def test_a_test_stuck_on_a_qemu_child_is_freed_and_fails_by_its_time_limit(tmp_path):
    code, output = _run(tmp_path, 'qemu-system-x86_64')
    assert 'test_stuck.py::test_stuck_in_c still runs 2 s after its time limit' in output, output
    assert 'Killing the QEMU processes it started' in output
    assert 'Timeout' in output, 'the pending time-out did not fail the test: %s' % output
    assert code == 1, output  # a test failed; the run itself went on to its end


def test_a_test_nothing_frees_ends_the_run_with_its_name(tmp_path):
    code, output = _run(tmp_path, 'not-an-emulator')
    assert 'Killing the QEMU processes it started (none)' in output, output
    assert 'test_stuck.py::test_stuck_in_c still runs; ending this test run.' in output, output
    assert code == 3, output
