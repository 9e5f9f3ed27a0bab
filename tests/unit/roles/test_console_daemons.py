"""The console_proxy role's daemon control without systemd (virtops_daemons.py): real processes (Python's own
http.server, as the unprivileged user nobody) started, left alone, restarted when what they were started with
changes, reported in check mode without a change, and stopped; one that cannot start is one sentence."""
import json
import os
import socket
import subprocess
import sys

import pytest

from test_console_tokens import FILES

CTL = os.path.join(FILES, 'virtops_daemons.py')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ctl(action, spec):
    done = subprocess.run([sys.executable, CTL, action], input=json.dumps(spec), capture_output=True, text=True,
                          timeout=60, check=False)
    return done.returncode, json.loads(done.stdout)


def owner(pid):
    with open('/proc/%d/status' % pid) as handle:
        return next(line.split()[1] for line in handle if line.startswith('Uid:'))


@pytest.fixture
def spec(tmp_path):
    if os.geteuid() != 0:
        pytest.fail('these tests start daemons as another user: run them as root, as the lab does')
    port = free_port()
    made = dict(run_dir=str(tmp_path / 'run'), log_dir=str(tmp_path / 'log'), user='nobody', group='nogroup', unit='',
                daemons={'web': {'argv': ['/usr/bin/python3', '-m', 'http.server', '--bind', '127.0.0.1', str(port)],
                                 'env': {}, 'port': port, 'stamp': 'one'}})
    yield made
    ctl('stop', made)


def pid_of(spec, name='web'):
    with open(os.path.join(spec['run_dir'], name + '.json')) as handle:
        return json.load(handle)['pid']


def test_start_keep_restart_stop(spec):
    assert ctl('ensure', spec) == (0, {'started': ['web'], 'restarted': [], 'stopped': [], 'changed': True})
    first = pid_of(spec)
    assert owner(first) == str(65534)
    socket.create_connection(('127.0.0.1', spec['daemons']['web']['port']), timeout=5).close()
    assert ctl('ensure', spec)[1]['changed'] is False and pid_of(spec) == first

    spec['daemons']['web']['stamp'] = 'two'
    assert ctl('check', spec)[1] == {'would start': [], 'would restart': ['web'], 'would stop': [], 'changed': True}
    assert pid_of(spec) == first
    assert ctl('ensure', spec)[1]['restarted'] == ['web'] and pid_of(spec) != first
    assert not os.path.exists('/proc/%d' % first) or open('/proc/%d/stat' % first).read().split()[2] == 'Z'

    # no longer wanted: stopped, its record gone, its log kept for the role to remove
    second = pid_of(spec)
    spec_without = dict(spec, daemons={})
    assert ctl('check', spec_without)[1]['would stop'] == ['web']
    assert ctl('ensure', spec_without)[1] == {'started': [], 'restarted': [], 'stopped': ['web'], 'changed': True}
    assert not os.listdir(spec['run_dir']) and os.listdir(spec['log_dir']) == ['web.log']
    assert not os.path.exists('/proc/%d' % second) or open('/proc/%d/stat' % second).read().split()[2] == 'Z'
    assert ctl('stop', spec)[1]['changed'] is False


def test_a_daemon_that_cannot_start_is_one_sentence(spec):
    spec['daemons']['web']['argv'] = ['/usr/bin/python3', '-c', 'import sys; sys.exit("no such thing here")']
    rc, out = ctl('ensure', spec)
    assert rc == 1 and out['failed']
    assert out['msg'] == 'web exited at start (its log %s/web.log ends with: no such thing here).' % spec['log_dir']
    assert not os.path.exists(os.path.join(spec['run_dir'], 'web.json'))
