"""libvirtd restarted under the collection (issue 11), on lab-host8 only (the main host's libvirtd serves
everyone else): in the middle of a playbook, later tasks open a new connection and work; in the middle of a module
waiting for a guest to shut down, the module fails at once with one sentence and the next run converges. The
guest itself lives through both restarts (libvirtd reconnects to its QEMU).

Run as a script (`python test_faults_restart.py restart-libvirtd 8`) it restarts that host's libvirtd: the
playbook's own task for it."""
# pytest fixtures are passed by name: the same names as the fixture functions, some only for their effect
# pylint: disable=redefined-outer-name,unused-argument
import json
import os
import signal
import subprocess
import sys
import threading
import time

import libvirt
import pytest

from lab import hostns, hosts, tally
from lab.checks import assert_one_sentence
from lab.console import assert_shell_answers, serial_shell, wait_for_log
from lab.daemons import libvirt_answers
from lab.fixtures import _lab_host  # pylint: disable=protected-access
from lab.runner import run_module, run_playbook

INDEX = 8
NAME = 'lab-fi-restart'
PORT = 4672
RECORD = '/tmp/lab-fi-restart-qemu-pids.json'


def _qemu_pids(name):
    return sorted(pid for pid, prog in hosts.host_processes(name) if prog.startswith('qemu-system'))


def restart_libvirtd(index, record=None):
    """Stop the host's libvirtd (SIGTERM, as a service restart does) and start it again in the same
    namespaces and cgroups, leaving virtlogd and the guests' QEMU processes running. ``record``: a file to
    write the QEMU pids into just before the restart."""
    host = hosts.get_host(index)
    if not host.libvirtd_pid or not host.virtlogd_pid:
        raise AssertionError('%s is not running' % host.name)
    pidfile = os.path.join(host.state_dir, 'libvirtd.pid')
    if record:
        with open(record, 'w') as handle:
            json.dump(_qemu_pids(host.name), handle)
    os.kill(host.libvirtd_pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while os.path.exists('/proc/%d' % host.libvirtd_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    joins = ' '.join('echo $$ > %s/cgroup.procs;' % directory for _m, _t, _o, directory in hostns.prepare_cgroups(host.name))
    # entered through virtlogd, which shares libvirtd's mount, UTS and cgroup namespaces
    subprocess.run(['sh', '-c', '%s exec nsenter -t %d -m -u -C -- libvirtd -d --listen -p %s'
                    % (joins, host.virtlogd_pid, pidfile)], check=True, timeout=60)
    deadline = time.monotonic() + 60
    while not libvirt_answers(host.uri):
        if time.monotonic() > deadline:
            raise AssertionError('%s libvirtd did not answer again after its restart' % host.name)
        time.sleep(0.3)
    return hosts.get_host(index).libvirtd_pid


@pytest.fixture(scope='module')
def host8(lab_libvirt):
    yield from _lab_host(INDEX)


@pytest.fixture(scope='module')
def params(host8, tiny_image):
    # no guest agent: libvirt then shuts down through ACPI only, which the test can make the guest ignore
    return dict(uri=host8.uri, name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel,
                initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, guest_agent=False,
                serial_console=dict(type='tcp', port=PORT))


@pytest.fixture(scope='module')
def cleanup(host8):
    # no connection is kept across the tests: each restart of libvirtd closes every open one
    yield
    run_module('guest', uri=host8.uri, name=NAME, state='absent')


def _playbook(params):
    guest = {key: value for key, value in params.items() if key != 'uri'}
    restart = [sys.executable, os.path.abspath(__file__), 'restart-libvirtd', str(INDEX), RECORD]
    return json.dumps([{
        'hosts': 'localhost', 'gather_facts': False, 'connection': 'local',
        'module_defaults': {'group/virtops.compute.libvirt': {'uri': params['uri']}},
        'tasks': [
            {'name': 'the guest, before the restart', 'virtops.compute.guest': guest},
            {'name': "restart the host's libvirtd", 'ansible.builtin.command': {'argv': restart}},
            {'name': 'pause the guest, on a new connection', 'virtops.compute.guest': guest | {'state': 'paused'}},
            {'name': 'read it back', 'virtops.compute.guest_info': {'name': NAME}, 'register': 'info'},
            {'name': 'paused', 'ansible.builtin.assert': {'that': ["info.guests[0].state == 'paused'"]}},
            {'name': 'resume it', 'virtops.compute.guest': guest},
        ]}], indent=1)


def test_restart_in_the_middle_of_a_playbook(params, cleanup):
    run_module('guest', uri=params['uri'], name=NAME, state='absent')
    played = run_playbook(_playbook(params))
    assert played.rc == 0, played.stdout[-3000:]
    assert 'failed=0' in played.stdout
    dom = libvirt.open(params['uri']).lookupByName(NAME)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    boot_id = dom.ID()
    assert_shell_answers(PORT)
    with open(RECORD) as handle:
        assert json.load(handle) == _qemu_pids(hosts.host_name(INDEX)), 'the guest did not keep its QEMU'
    # what the playbook left is converged
    again = run_module('guest', **params)
    assert not again.failed and not again.changed, again.msg
    assert libvirt.open(params['uri']).lookupByName(NAME).ID() == boot_id
    tally.case('faults injected', 'libvirtd restarted in the middle of a playbook')


def _outside(host, path):
    """Where a file of the lab host's private directories (/var/lib/libvirt, ...) is seen from this machine."""
    for inside, sub in hostns.PRIVATE_DIRS:
        if path.startswith(inside + '/'):
            return os.path.join(host.state_dir, 'root', sub, path[len(inside) + 1:])
    return path


# the tiny guest's power-button reader (its /init) replaced by one that only says that the button was pressed: a
# clean shutdown never comes, and the serial log tells when the module has asked for one
IGNORE_POWER_BUTTON = (
    'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = head ] && kill ${p#/proc/}; done; '
    'for input in /sys/class/input/event*; do [ "$(cat $input/device/name 2>/dev/null)" = "Power Button" ] && '
    '(head -c 1 /dev/input/${input##*/} >/dev/null && echo "virtops-tiny: power button ig""nored" > /dev/console) & '
    'done; echo DE""AF')


def test_restart_while_a_module_waits(params, host8):
    fresh = libvirt.open(params['uri'])
    dom = fresh.lookupByName(NAME)
    if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
        assert not run_module('guest', **params).failed
    info = run_module('guest_info', uri=params['uri'], name=NAME)
    assert not info.failed, info.msg
    serial_log = _outside(host8, info['guests'][0]['consoles']['serial_log'])
    pressed_before = open(serial_log, errors='replace').read().count('power button ignored')
    assert 'DEAF' in serial_shell(PORT, IGNORE_POWER_BUTTON)
    holder = {}

    def stop():
        started = time.monotonic()
        holder['result'] = run_module('guest', **(params | {'state': 'stopped', 'shutdown_timeout': 120}))
        holder['took'] = time.monotonic() - started

    worker = threading.Thread(target=stop, daemon=True)
    worker.start()
    # the module has asked for the shutdown (the guest saw its power button pressed) and waits for it
    wait_for_log(serial_log, 'power button ignored', count=pressed_before + 1, timeout=120)
    assert worker.is_alive(), 'the module did not wait: %s' % holder.get('result')
    restart_libvirtd(INDEX)
    worker.join(60)
    assert not worker.is_alive(), 'the module hung after libvirtd restarted'
    result = holder['result']
    assert result.failed and holder['took'] < 100, (holder['took'], result.msg)
    assert_one_sentence(result.msg, 'connection to libvirtd was lost', 'run it again')
    after = libvirt.open(params['uri']).lookupByName(NAME)
    assert after.state()[0] == libvirt.VIR_DOMAIN_RUNNING, 'the guest did not live through the restart'
    # the next run converges: it waits again, forces the deaf guest off after its timeout, then nothing to do
    converged = run_module('guest', **(params | {'state': 'stopped', 'shutdown_timeout': 3}))
    assert not converged.failed and converged.changed, converged.msg
    assert converged['guest']['state'] == 'shutdown'
    assert not run_module('guest', **(params | {'state': 'stopped', 'shutdown_timeout': 3})).changed
    fresh.close()
    tally.case('faults injected', 'libvirtd restarted while a module waits for a shutdown')


if __name__ == '__main__':
    if sys.argv[1:2] == ['restart-libvirtd']:
        print('libvirtd restarted, pid %d' % restart_libvirtd(int(sys.argv[2]), *sys.argv[3:4]))
