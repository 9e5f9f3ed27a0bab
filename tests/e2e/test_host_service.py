"""service: restarted / stopped / started on a lab host's daemons (no systemd here: the pid-file path),
with a tiny guest that must live through all of it."""
import json
import os
import time

import libvirt
import pytest

from lab import guests, hosts
from lab.checks import assert_one_sentence
from lab.console import assert_shell_answers
from lab.runner import run_module

GUEST = 'lab-hsv'
SERIAL_PORT = 4640


def pid_files(host):
    return dict(libvirtd_pid_file=os.path.join(host.state_dir, 'libvirtd.pid'),
                virtlogd_pid_file=os.path.join(host.state_dir, 'virtlogd.pid'))


def ns_pid(host):
    """A process inside the lab host's namespaces: libvirtd, or virtlogd while libvirtd is stopped."""
    current = hosts.get_host(host.index)
    pid = current.libvirtd_pid or current.virtlogd_pid
    # both gone would mean the host's namespaces are gone; never fall back to the machine itself
    assert pid and hosts.uts_hostname(pid) == host.name, 'nothing runs inside %s' % host.name
    return pid


def service(host, action, check=False, **extra):
    return run_module('host', nsenter_pid=ns_pid(host), check=check, uri='qemu:///system', service=action,
                      timeout=60, **pid_files(host), **extra)


def answers(uri):
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def qemu_pid(host):
    with open(os.path.join(host.state_dir, 'root', 'run', 'qemu', GUEST + '.pid')) as handle:
        return int(handle.read())


def alive(pid):
    return os.path.exists('/proc/%d' % pid)


def cgroups(pid):
    with open('/proc/%d/cgroup' % pid) as handle:
        return handle.read()


@pytest.fixture(scope='module')
def guest(lab_host3, tiny_image):
    note = os.path.join(lab_host3.state_dir, 'libvirtd.pid.virtops.json')
    if os.path.exists(note):
        os.unlink(note)        # a stop note of an earlier, failed run would be taken for this run's
    boot = guests.readable_boot_files(tiny_image, lab_host3.shared_dir, prefix='hsv-')
    params = dict(uri=lab_host3.uri, name=GUEST, virt_type='qemu', memory_mb=192, cmdline=tiny_image.cmdline,
                  serial_console=dict(type='tcp', port=SERIAL_PORT), **boot)
    run_module('guest', uri=lab_host3.uri, name=GUEST, state='absent')
    made = run_module('guest', **params)
    assert not made.failed, made.msg
    assert_shell_answers(SERIAL_PORT)
    yield lab_host3
    if not answers(lab_host3.uri):
        service(lab_host3, 'started')
    run_module('guest', uri=lab_host3.uri, name=GUEST, state='absent')


def test_restart_keeps_the_guest_running(guest):
    host = guest
    before = hosts.get_host(3)
    qemu = qemu_pid(host)
    old_cgroups = cgroups(before.libvirtd_pid)

    check = service(host, 'restarted', check=True)
    assert check.changed and not check.failed, check.data
    assert hosts.get_host(3).libvirtd_pid == before.libvirtd_pid

    started = time.time()
    result = service(host, 'restarted')
    assert not result.failed, result.msg
    assert result.changed and result['service']['manager'] == 'direct'
    after = hosts.get_host(3)
    assert after.libvirtd_pid and after.libvirtd_pid != before.libvirtd_pid
    # virtlogd re-executed itself in place, keeping the guest's log pipe
    assert after.virtlogd_pid == before.virtlogd_pid
    assert result['service']['daemons']['libvirtd'] == dict(pid=after.libvirtd_pid, running=True)
    # the same command line (with --listen: the TCP URI answers) and the same cgroups
    assert answers(host.uri)
    assert cgroups(after.libvirtd_pid) == old_cgroups
    assert time.time() - started < 60
    assert qemu_pid(host) == qemu and alive(qemu)
    conn = libvirt.open(host.uri)
    try:
        assert conn.lookupByName(GUEST).isActive()
    finally:
        conn.close()
    assert_shell_answers(SERIAL_PORT)
    # restarted always changes
    assert service(host, 'restarted').changed


def test_stop_then_start(guest):
    host = guest
    qemu = qemu_pid(host)
    before = hosts.get_host(3)

    check = service(host, 'stopped', check=True)
    assert check.changed and hosts.get_host(3).libvirtd_pid == before.libvirtd_pid and answers(host.uri)

    stopped = service(host, 'stopped')
    assert not stopped.failed, stopped.msg
    assert stopped.changed
    now = hosts.get_host(3)
    assert now.libvirtd_pid == 0 and not answers(host.uri)
    # virtlogd stays for the running guest, and says why
    assert now.virtlogd_pid == before.virtlogd_pid
    # ansible-core 2.19 reports warnings as summaries (dicts); the text is inside
    assert 'virtlogd is left running' in json.dumps(stopped.get('warnings', []))
    assert alive(qemu)
    assert_shell_answers(SERIAL_PORT)

    again = service(host, 'stopped')
    assert not again.failed and not again.changed, again.data

    check = service(host, 'started', check=True)
    assert check.changed and not answers(host.uri)

    started = service(host, 'started')
    assert not started.failed, started.msg
    assert started.changed and answers(host.uri)
    assert any('--listen' in line for line in started['service']['actions'])
    assert not service(host, 'started').changed
    conn = libvirt.open(host.uri)
    try:
        assert conn.lookupByName(GUEST).isActive()
    finally:
        conn.close()
    assert qemu_pid(host) == qemu


def test_a_libvirtd_that_does_not_come_up_is_one_sentence(guest):
    host = guest
    # the daemons run; waiting for a URI nobody serves must time out clearly
    dead = 'qemu+unix:///system?socket=/run/libvirt/no-such-sock'
    result = run_module('host', nsenter_pid=ns_pid(host), uri=dead, service='restarted', timeout=3, **pid_files(host))
    assert result.failed
    assert_one_sentence(result.msg, dead, '3 seconds')
    deadline = time.time() + 30
    while not answers(host.uri) and time.time() < deadline:
        time.sleep(0.5)
    assert answers(host.uri)


def test_bad_service_value(guest):
    result = service(guest, 'bounced')
    assert result.failed and 'service' in result.msg and 'bounced' in result.msg
