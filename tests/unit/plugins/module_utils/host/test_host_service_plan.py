"""host_service without touching the machine's daemons: systemd command lines, pid files, start and stop notes."""
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.host import service as host_service
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError


def probe(active_units):
    return lambda unit: unit in active_units


def test_systemd_start_only_when_something_is_down():
    assert host_service.systemd_plan('started', 'libvirtd', probe({'libvirtd.service', 'virtlogd.service'})) == []
    assert host_service.systemd_plan('started', 'libvirtd', probe({'virtlogd.service'})) == [
        ['systemctl', 'start', 'virtlogd.service', 'libvirtd.service']]
    assert host_service.systemd_plan('started', 'virtqemud', probe(set())) == [
        ['systemctl', 'start', 'virtlogd.service', 'virtqemud.service']]


def test_systemd_stop_takes_the_active_sockets_along():
    active = {'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'virtlogd.service'}
    assert host_service.systemd_plan('stopped', 'libvirtd', probe(active)) == [
        ['systemctl', 'stop', 'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket']]
    assert host_service.systemd_plan('stopped', 'libvirtd', probe({'virtlogd.service'})) == []
    # a stopped service whose socket would start it again is still stopped
    assert host_service.systemd_plan('stopped', 'libvirtd', probe({'libvirtd-tcp.socket'})) == [
        ['systemctl', 'stop', 'libvirtd.service', 'libvirtd-tcp.socket']]


def test_systemd_reload_only_the_running_daemon():
    assert host_service.systemd_plan('reloaded', 'libvirtd', probe({'libvirtd.service'})) == [
        ['systemctl', 'reload', 'libvirtd.service']]
    assert host_service.systemd_plan('reloaded', 'virtqemud', probe(set())) == [
        ['systemctl', 'start', 'virtqemud.service']]


def test_systemd_restart_reloads_virtlogd_in_place():
    assert host_service.systemd_plan('restarted', 'virtqemud', probe(set())) == [
        ['systemctl', 'reload-or-restart', 'virtlogd.service'], ['systemctl', 'restart', 'virtqemud.service']]


def test_pid_file_of_a_live_process(tmp_path):
    pid_file = tmp_path / 'x.pid'
    pid_file.write_text('%d\n' % os.getpid())
    me = host_service.process_name(os.getpid())
    assert host_service.Daemon(me, str(pid_file)).pid == os.getpid()
    assert host_service.Daemon('libvirtd', str(pid_file)).pid == 0       # someone else's pid: not libvirtd
    pid_file.write_text('garbage')
    assert host_service.Daemon(me, str(pid_file)).pid == 0
    assert host_service.Daemon(me, str(tmp_path / 'missing.pid')).pid == 0


def test_default_command_line_carries_args_and_pid_file(tmp_path):
    daemon = host_service.Daemon('libvirtd', str(tmp_path / 'l.pid'), ['--listen'])
    argv = daemon.start_plan()['argv']
    assert os.path.basename(argv[0]) == 'libvirtd'
    assert argv[1:] == ['--daemon', '--listen', '--pid-file', str(tmp_path / 'l.pid')]


def _sleeper(tmp_path, name='sleeper'):
    """A daemon-like process: writes its pid file, then sleeps; its program name is the Python binary."""
    pid_file = tmp_path / (name + '.pid')
    script = 'import os,sys,time; open(sys.argv[1],"w").write(str(os.getpid())); time.sleep(300)'
    proc = subprocess.Popen([sys.executable, '-c', script, str(pid_file)], env=dict(os.environ, SLEEPER_MARK='1'),
                            cwd=str(tmp_path), start_new_session=True)
    for _attempt in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    return proc, str(pid_file)


def test_stop_leaves_a_note_and_start_brings_back_the_same_process(tmp_path):
    proc, pid_file = _sleeper(tmp_path)
    name = host_service.process_name(proc.pid)
    daemon = host_service.Daemon(name, pid_file)
    assert daemon.pid == proc.pid
    daemon.stop(timeout=10)
    proc.wait(timeout=10)
    note = json.loads(open(daemon.note_file).read())
    assert note['argv'][1:] == ['-c', note['argv'][2], pid_file]
    assert note['env']['SLEEPER_MARK'] == '1' and note['cwd'] == str(tmp_path)
    os.unlink(pid_file)
    assert daemon.pid == 0
    started = daemon.start(timeout=10)
    try:
        new_pid = daemon.pid
        assert new_pid and new_pid != proc.pid
        assert started.endswith(pid_file)
        with open('/proc/%d/environ' % new_pid, 'rb') as handle:
            assert b'SLEEPER_MARK=1' in handle.read().split(b'\0')
        assert os.readlink('/proc/%d/cwd' % new_pid) == str(tmp_path)
        assert not os.path.exists(daemon.note_file)       # used up
    finally:
        os.kill(daemon.pid, 15)


def test_start_failure_is_one_sentence(tmp_path):
    daemon = host_service.Daemon('false', str(tmp_path / 'f.pid'))
    daemon.save(dict(argv=['/bin/sh', '-c', 'echo "no such option --bogus" >&2; exit 3', '--daemon'], env=None,
                     cwd='/', cgroups=[]))
    with pytest.raises(VirtopsError) as err:
        daemon.start(timeout=5)
    assert str(err.value) == 'false failed to start (exit 3): no such option --bogus.'


def test_cgroup_files_of_this_process():
    with open('/proc/self/cgroup') as handle:
        lines = [line.rstrip('\n') for line in handle]
    files = host_service.cgroup_procs_files(lines)
    assert files and all(path.endswith('/cgroup.procs') and os.path.exists(path) for path in files)
    assert host_service.cgroup_procs_files(['3:cpuset:/../elsewhere']) == []


def test_a_note_from_another_host_is_refused(tmp_path):
    daemon = host_service.Daemon('libvirtd', str(tmp_path / 'l.pid'))
    daemon.save(dict(argv=['libvirtd', '--daemon'], env=None, cwd='/', cgroups=[], hostname='elsewhere'))
    with pytest.raises(VirtopsError, match="libvirtd was stopped on host 'elsewhere'"):
        daemon.start(timeout=5)
