"""A new user's first hour: the defaults and messages a user meets first, against real guests.

- a guest launched without ``virt_type`` gets the best type this host really runs (what ``host_info``'s probe
  finds, never what this machine is assumed to have) and boots: its serial log shows the tiny image's marker;
- a type the host lists but cannot run is refused in one sentence naming what it runs, and changes nothing;
- ``--check --diff`` through the guest role shows every guest's flavor change and which need ``allow_restart``,
  instead of failing the batch; the real run then refuses each naming ``max_vcpus``, and ``allow_restart`` applies it;
- ``state: suspended`` on a stopped guest is refused and changes nothing, from running it suspends;
- a guest that ignores ACPI: the shutdown and the reboot say how long they waited and why.
"""
import json
import os
import re
import stat
import time

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import read_log, serial_shell, wait_for_log
from lab.runner import run_module, run_playbook

PREFIX = 'lab-fh-'
MARKER = 'virtops-tiny: boot complete'
CACHE_DIR = '/var/cache/virtops-compute/virt-types'
SERIAL_PORTS = {PREFIX + 'role-a': 4571, PREFIX + 'role-b': 4572}

ROLE_PLAY = """
- name: The web tier, through the guest role
  hosts: localhost
  gather_facts: false
  roles:
    - role: virtops.compute.guest
"""


@pytest.fixture(scope='module')
def boot(libvirt_conn, tiny_image):
    """The tiny image's direct-boot options (no virt_type: that is what is under test) and a clean slate."""
    def gone():
        for dom in libvirt_conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                assert not run_module('guest', name=dom.name(), state='absent', shutdown_timeout=0).failed
    gone()
    yield dict(memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd, cmdline=tiny_image.cmdline)
    gone()


@pytest.fixture(scope='module')
def probed(lab_libvirt):
    """What host_info's probe finds here: the types libvirt lists and those that really boot a guest."""
    result = run_module('host_info', uri=lab_libvirt)
    assert not result.failed, result.msg
    virt = result['host']['virt_types']
    return dict(available=virt['available'], usable=virt['usable'], uuid=result['host']['host_uuid'],
                best='kvm' if 'kvm' in virt['usable'] else 'qemu')


def _unwrapped(output):
    """Playbook output with the YAML callback's line wrapping undone (it folds long strings at spaces)."""
    return re.sub(r'\s*\n\s*', ' ', output)


def _mine(conn):
    return dict((key, value) for key, value in libvirt_snapshot(conn).items() if PREFIX in key)


def test_a_guest_without_virt_type_gets_the_best_type_and_boots(libvirt_conn, boot, probed):
    cache = os.path.join(CACHE_DIR, probed['uuid'] + '.json')
    if os.path.exists(cache):
        os.unlink(cache)            # so that this run probes, as on a host the module meets for the first time
    name = PREFIX + 'default'
    made = run_module('guest', name=name, **boot)
    assert not made.failed, made.msg
    assert 'chose virt_type %s, the best this host runs' % probed['best'] in ' '.join(made['actions'])
    dom = libvirt_conn.lookupByName(name)
    assert re.search(r"<domain type='%s'" % probed['best'], dom.XMLDesc(0)), 'the guest is not a %s guest' % probed['best']
    wait_for_log(made['guest']['consoles']['serial_log'], MARKER, timeout=120)
    if 'kvm' in probed['available'] and 'kvm' not in probed['usable']:
        # ansible-core 2.19 reports warnings as summaries (dicts); the text is inside
        assert 'kvm is listed but does not run guests here' in json.dumps(made.get('warnings', [])), made.data
    # the probe's answer is kept, root-only, and the next guest reads it instead of probing again
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600 and stat.S_IMODE(os.stat(CACHE_DIR).st_mode) == 0o700
    written = os.stat(cache).st_mtime_ns
    second = run_module('guest', name=PREFIX + 'default2', **boot)
    assert not second.failed, second.msg
    assert os.stat(cache).st_mtime_ns == written, 'the second guest probed again instead of reading the cache'
    wait_for_log(second['guest']['consoles']['serial_log'], MARKER, timeout=120)
    assert not run_module('guest', name=name, **boot).changed, 'an existing guest changed on a second run'


def test_a_listed_type_the_host_cannot_run_is_refused_naming_what_it_runs(libvirt_conn, boot, probed):
    assert probed['usable'], 'the probe found no type that boots a guest here'
    for virt_type in ('kvm', 'qemu'):
        name = PREFIX + 'asked-' + virt_type
        before = _mine(libvirt_conn)
        result = run_module('guest', name=name, virt_type=virt_type, **boot)
        if virt_type in probed['usable']:
            # the positive control: a type that runs is taken as asked
            assert not result.failed, result.msg
            assert "<domain type='%s'" % virt_type in libvirt_conn.lookupByName(name).XMLDesc(0)
            wait_for_log(result['guest']['consoles']['serial_log'], MARKER, timeout=120)
        else:
            assert result.failed, '%s was taken though the probe says it does not run guests here' % virt_type
            assert_one_sentence(result.msg, name, 'virt_type %s' % virt_type, 'it runs ' + ' and '.join(probed['usable']))
            assert _mine(libvirt_conn) == before, 'a refused guest changed something'


def test_a_remote_host_gets_its_own_probe_and_its_guest_answers(lab_host1, tiny_image):
    conn = libvirt.open(lab_host1.uri)
    try:
        host_uuid = re.search(r'<uuid>([^<]+)</uuid>', conn.getCapabilities()).group(1)
        name = PREFIX + 'remote'
        made = run_module('guest', uri=lab_host1.uri, name=name, memory_mb=128, guest_agent=True,
                          kernel=tiny_image.kernel, initrd=tiny_image.initrd, cmdline=tiny_image.cmdline)
        try:
            assert not made.failed, made.msg
            # the cache lives where the module runs (here), one file per host UUID
            assert os.path.exists(os.path.join(CACHE_DIR, host_uuid + '.json'))
            dom = conn.lookupByName(name)
            deadline = time.monotonic() + 120
            while True:
                try:
                    import libvirt_qemu
                    libvirt_qemu.qemuAgentCommand(dom, '{"execute": "guest-ping"}', 5, 0)
                    break
                except libvirt.libvirtError:
                    assert time.monotonic() < deadline, 'the remote guest never booted far enough for its agent'
                    time.sleep(1)
        finally:
            assert not run_module('guest', uri=lab_host1.uri, name=name, state='absent').failed
    finally:
        conn.close()


def test_check_mode_of_the_role_shows_every_guest_and_which_need_allow_restart(libvirt_conn, boot, probed):
    names = sorted(SERIAL_PORTS)
    items = [dict(boot, name=name, flavor='tiny', memory_mb=128, serial_console=dict(type='tcp', port=SERIAL_PORTS[name]),
                  shutdown_timeout=30) for name in names]
    flavors = dict(tiny=dict(vcpus=1), bigger=dict(vcpus=2))
    made = run_playbook(ROLE_PLAY, extra_vars=dict(guests=items, guest_flavors=flavors))
    assert made.rc == 0, made.stdout[-3000:]
    for name in names:
        # booted, so that the restart below finds the guest listening for the ACPI power button
        log = re.search(r"<log file='([^']+)'", libvirt_conn.lookupByName(name).XMLDesc(0)).group(1)
        wait_for_log(log, MARKER, timeout=120)
    pids = dict((name, libvirt_conn.lookupByName(name).ID()) for name in names)
    before = _mine(libvirt_conn)

    bigger = [dict(item, flavor='bigger') for item in items]
    checked = run_playbook(ROLE_PLAY, extra_vars=dict(guests=bigger, guest_flavors=flavors), check=True, diff=True)
    assert checked.rc == 0, 'the check run failed instead of reporting:\n' + checked.stdout[-3000:]
    out = _unwrapped(checked.stdout)
    assert '2 guests: 2 would change, 0 already as wanted; 2 need allow_restart: true' in out, out[-3000:]
    for name in names:
        assert '%s: would change vcpus; a restart for vcpus needs allow_restart: true' % name in out, out[-3000:]
    assert _mine(libvirt_conn) == before and pids == dict((n, libvirt_conn.lookupByName(n).ID()) for n in names)

    refused = run_playbook(ROLE_PLAY, extra_vars=dict(guests=bigger, guest_flavors=flavors))
    assert refused.rc != 0
    assert '2 of 2 guests failed' in refused.stdout and 'give it max_vcpus above vcpus' in _unwrapped(refused.stdout)
    assert _mine(libvirt_conn) == before

    allowed = [dict(item, allow_restart=True) for item in bigger]
    applied = run_playbook(ROLE_PLAY, extra_vars=dict(guests=allowed, guest_flavors=flavors))
    assert applied.rc == 0, applied.stdout[-3000:]
    for name in names:
        line = '%s: changed vcpus, power_state; a restart for vcpus is allowed; shut down cleanly' % name
        assert line in _unwrapped(applied.stdout), applied.stdout[-3000:]
        # seen inside: the shell counts its processors (the command line holds no "cpus=2")
        assert 'cpus=2' in serial_shell(SERIAL_PORTS[name], 'echo cpus=$(grep -c ^processor /proc/cpuinfo)')


def test_suspending_a_stopped_guest_is_refused_and_a_running_one_suspends(libvirt_conn, boot):
    name = PREFIX + 'suspend'
    made = run_module('guest', name=name, state='stopped', **boot)
    assert not made.failed, made.msg
    before = _mine(libvirt_conn)
    refused = run_module('guest', name=name, state='suspended', **boot)
    assert refused.failed
    assert_one_sentence(refused.msg, name, 'stopped', 'state running')
    assert _mine(libvirt_conn) == before and not libvirt_conn.lookupByName(name).isActive()
    unborn = run_module('guest', name=PREFIX + 'never', state='suspended', **boot)
    assert unborn.failed and 'does not exist yet' in unborn.msg
    assert _mine(libvirt_conn) == before

    running = run_module('guest', name=name, **boot)
    wait_for_log(running['guest']['consoles']['serial_log'], MARKER, timeout=120)
    suspended = run_module('guest', name=name, state='suspended', **boot)
    assert not suspended.failed, suspended.msg
    dom = libvirt_conn.lookupByName(name)
    assert dom.hasManagedSaveImage(0) and not dom.isActive()


def test_sizes_name_their_unit(libvirt_conn, boot):
    before = _mine(libvirt_conn)
    for option, value, unit in (('memory_mb', '2G', 'MiB'), ('root_size_gb', '10G', 'GiB')):
        result = run_module('guest', name=PREFIX + 'units', **dict(boot, **{option: value}))
        assert result.failed
        assert_one_sentence(result.msg, option, unit)
    batch = run_module('guests', guests=[dict(boot, name=PREFIX + 'units', memory_mb='2G')])
    assert batch.failed and 'whole number of MiB' in batch.msg
    assert _mine(libvirt_conn) == before


def test_a_guest_that_ignores_acpi_says_how_long_shutdown_and_reboot_waited(libvirt_conn, boot):
    # acpi=off: the kernel has no power button, so the ACPI requests go unheard (no agent to ask instead)
    deaf = PREFIX + 'deaf'
    made = run_module('guest', name=deaf, **dict(boot, cmdline=boot['cmdline'] + ' acpi=off'))
    assert not made.failed, made.msg
    log = made['guest']['consoles']['serial_log']
    wait_for_log(log, MARKER, timeout=120)

    rebooted = run_module('guest_action', name=deaf, action='reboot', reboot_timeout=6)
    assert not rebooted.failed, rebooted.msg
    assert rebooted['method'] == 'reset' and rebooted['waited_seconds'] >= 6
    assert rebooted['how'] == 'reset: the guest ignored the ACPI reboot request for reboot_timeout (6 s)'
    wait_for_log(log, MARKER, count=2, timeout=120)      # the reset is a fresh boot

    stopped = run_module('guest', name=deaf, state='stopped', shutdown_timeout=6, **dict(boot, cmdline=boot['cmdline'] + ' acpi=off'))
    assert not stopped.failed, stopped.msg
    assert not libvirt_conn.lookupByName(deaf).isActive()
    shutdown = stopped['shutdown']
    assert shutdown['clean'] is False and shutdown['timeout'] == 6 and shutdown['seconds'] >= 6
    assert shutdown['how'] == 'turned off: the guest ignored the ACPI shutdown request for shutdown_timeout (6 s)'
    assert any(action.startswith('forced off after') for action in stopped['actions'])

    # the positive control: the same image with ACPI shuts down cleanly and at once
    hearing = PREFIX + 'hearing'
    made = run_module('guest', name=hearing, **boot)
    wait_for_log(made['guest']['consoles']['serial_log'], MARKER, timeout=120)
    clean = run_module('guest', name=hearing, state='stopped', shutdown_timeout=60, **boot)
    assert not clean.failed, clean.msg
    assert clean['shutdown']['clean'] is True and clean['shutdown']['seconds'] < 60
    assert clean['shutdown']['how'] == 'shut down cleanly on the ACPI request'
    assert 'power button pressed' in read_log(made['guest']['consoles']['serial_log'])
