"""/proc/PID/stat read right for names with spaces and brackets, for zombies and for processes gone."""
import os
import subprocess
import sys

from ansible_collections.virtops.compute.plugins.module_utils.host import procfs


def test_a_name_with_spaces_and_brackets_keeps_the_fields_in_place(tmp_path):
    odd = tmp_path / 'a) b (c'
    odd.symlink_to(sys.executable)
    proc = subprocess.Popen([str(odd), '-c', 'import time; time.sleep(600)'])
    try:
        name, fields = procfs.stat(proc.pid)
        assert name == 'a) b (c'
        assert fields[1] == str(os.getpid()), 'the parent pid is not where it should be'
        assert procfs.alive(fields)
    finally:
        proc.kill()
        proc.wait()
    assert procfs.stat(proc.pid) is None


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    try:
        _name, fields = procfs.stat(proc.pid)
        assert not procfs.alive(fields)
    finally:
        proc.wait()
