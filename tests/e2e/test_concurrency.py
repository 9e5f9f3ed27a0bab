"""Concurrency: two ansible-playbook runs converging the same guest at the same moment (conflicting memory) take
turns and leave one intact guest, each run converged or failed with one sentence (both converge when both may
restart it), and a rerun converges; a run, and a guest_action reboot, wait while the guest's lock is held; and the
guest role with forks 2 converges guests on two lab hosts at once, each host getting only its own."""
import json
import os
import re
import shutil
import subprocess
import threading
import time
from xml.etree import ElementTree

import libvirt
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.guest.lock import GuestLock
from lab import guests, hosts, tally
from lab.checks import assert_one_sentence
from lab.events import RebootEvents
from lab.inventory import inventory_data
from lab.proc import cmdline
from lab.runner import REPO_ROOT, run_playbook

NAME = 'lab-ri-conc'
WORK = os.path.join(guests.SHARED_DIR, 'ri-conc')
PER_HOST = 2

# one task on the contested guest (the guest module's or guest_action's), its result kept for the test
TASK_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: %s the contested guest
      virtops.compute.%s: "{{ guest }}"
      register: converged
      ignore_errors: true
    - name: keep the result
      ansible.builtin.copy:
        dest: "{{ result_file }}"
        content: "{{ converged | to_json }}"
        mode: '0600'
"""
PLAY = TASK_PLAY % ('converge', 'guest')
ACTION_PLAY = TASK_PLAY % ('act on', 'guest_action')

ROLE_PLAY = """
- name: Guests on every compute host
  hosts: compute
  gather_facts: false
  roles:
    - role: virtops.compute.guest
"""


@pytest.fixture(scope='module')
def boot(tiny_image):
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK, mode=0o755)
    files = dict(cmdline=tiny_image.cmdline, virt_type='qemu', shutdown_timeout=10,
                 **guests.readable_boot_files(tiny_image, WORK))
    yield files
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope='module')
def lab_two(lab_host2, boot):
    conn = libvirt.open(lab_host2.uri)
    guests.remove_guest(conn, NAME)
    yield lab_host2, conn
    guests.remove_guest(conn, NAME)
    conn.close()


def _qemu_processes(host_name, guest):
    return [pid for pid, prog in hosts.host_processes(host_name)
            if prog.startswith('qemu-system') and any('guest=%s,' % guest in arg for arg in cmdline(pid))]


def _race(wanted, playbook=PLAY):
    """Run ``playbook`` once per item of ``wanted`` at the same moment; returns each run's task result."""
    outcomes = [None] * len(wanted)

    def play(index):
        result_file = os.path.join(REPO_ROOT, '.build', 'ri-conc-%d-%d.json' % (os.getpid(), index))
        run = run_playbook(playbook, timeout=300, extra_vars=dict(guest=wanted[index], result_file=result_file))
        assert run.rc == 0, run.stdout[-2000:]
        with open(result_file) as handle:
            outcomes[index] = json.load(handle)
        os.unlink(result_file)

    threads = [threading.Thread(target=play, args=(index,)) for index in range(len(wanted))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(outcomes), 'a playbook run did not finish: %r' % outcomes
    return outcomes


def _assert_one_intact_guest(host, conn):
    doms = [dom for dom in conn.listAllDomains(0) if dom.name() == NAME]
    assert len(doms) == 1, 'lab-ri-conc is defined %d times' % len(doms)
    dom = doms[0]
    assert dom.isPersistent() and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert len(_qemu_processes(host.name, NAME)) == 1, 'not exactly one QEMU runs the guest'
    path = os.path.join(WORK, 'definition.xml')
    with open(path, 'w') as handle:
        handle.write(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    checked = subprocess.run(['virt-xml-validate', path, 'domain'], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr or checked.stdout
    return ElementTree.fromstring(dom.XMLDesc(0))


def _assert_clean_outcomes(outcomes):
    for outcome in outcomes:
        if outcome.get('failed'):
            assert_one_sentence(outcome['msg'], NAME)


def test_two_playbooks_converging_one_guest(lab_two, boot):
    host, conn = lab_two
    base = dict(boot, name=NAME, uri=host.uri)
    wanted = [dict(base, memory_mb=192, vcpus=1), dict(base, memory_mb=160, vcpus=1)]
    created = _race(wanted)
    _assert_clean_outcomes(created)
    assert any(not o.get('failed') and o['changed'] for o in created), 'neither run created the guest: %r' % created
    _assert_one_intact_guest(host, conn)

    # both now change the running guest, each towards its own size
    bigger = dict(wanted[0], vcpus=2, max_vcpus=2, allow_restart=True)
    changed = _race([bigger, dict(wanted[1], memory_mb=144, allow_restart=True)])
    _assert_clean_outcomes(changed)
    # one converge of a guest at a time: the later run waits for the earlier one and then restarts the guest to
    # its own size, so both succeed (interleaved, one run's roll-back could stop the guest the other had started)
    assert not any(o.get('failed') for o in changed) and all(o['changed'] for o in changed), [
        (o.get('failed', False), o.get('msg', ''), o.get('actions')) for o in changed]
    _assert_one_intact_guest(host, conn)

    final = _race([bigger])[0]
    assert not final.get('failed'), final['msg']
    tree = _assert_one_intact_guest(host, conn)
    assert tree.findtext('currentMemory') == str(192 * 1024) and tree.findtext('vcpu') == '2'
    again = _race([bigger])[0]
    assert not again.get('failed') and not again['changed'], again
    print('race outcomes: %s' % [(o.get('failed', False), o.get('msg', '')) for o in created + changed])


def _opened_by_another_process(path):
    """Whether a process other than this one has ``path`` open (a run waiting on the lock file)."""
    for pid in filter(str.isdigit, os.listdir('/proc')):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir('/proc/%s/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink('/proc/%s/fd/%s' % (pid, fd)) == path:
                    return True
            except OSError:
                continue
    return False


def _start_waiting(held, wanted, playbook, outcome, what):
    """Start ``playbook`` for ``wanted`` in a thread (its results into ``outcome``) while the test holds the lock
    ``held``; returns the thread once the run has opened the lock file and is still waiting on it."""
    waiting = threading.Thread(target=lambda: outcome.extend(_race(wanted, playbook=playbook)))
    waiting.start()
    deadline = time.monotonic() + 120
    while not _opened_by_another_process(held.path):
        assert waiting.is_alive() and time.monotonic() < deadline, (
            '%s never waited on the lock file %s: %r' % (what, held.path, outcome))
        time.sleep(0.2)
    assert waiting.is_alive() and not outcome, '%s finished while the guest was held: %r' % (what, outcome)
    return waiting


def _defined_memory(conn):
    return ElementTree.fromstring(conn.lookupByName(NAME).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).findtext(
        'currentMemory')


def test_a_run_waits_while_another_holds_the_guest(lab_two, boot):
    """The turn deterministically: while this test holds the guest's lock (as a run converging it would), a run
    that changes the guest has opened the lock file and waits, the guest unchanged; once the lock is free it goes on."""
    host, conn = lab_two
    start = dict(boot, name=NAME, uri=host.uri, memory_mb=192, vcpus=1, allow_restart=True)
    first = _race([start])[0]
    assert not first.get('failed'), first['msg']
    host_uuid = ElementTree.fromstring(conn.getCapabilities()).findtext('host/uuid')
    outcome = []
    with GuestLock("guest '%s'" % NAME, host_uuid, NAME, print) as held:
        waiting = _start_waiting(held, [dict(start, memory_mb=160)], PLAY, outcome, 'the run')
        _assert_one_intact_guest(host, conn)
        assert _defined_memory(conn) == str(192 * 1024), 'the guest changed while it was held'
    waiting.join(300)
    assert outcome and not outcome[0].get('failed') and outcome[0]['changed'], outcome
    _assert_one_intact_guest(host, conn)
    assert _defined_memory(conn) == str(160 * 1024)


def test_a_reboot_waits_while_another_run_changes_the_guest(lab_two, boot):
    """guest_action's reboot takes its turn too: while this test holds the guest's lock (a converge under way), a
    hard reboot has opened the lock file and waits, and libvirt reports no reset; once the lock is free the guest
    is reset (the reboot event that the same listener hears is the positive control)."""
    host, conn = lab_two
    first = _race([dict(boot, name=NAME, uri=host.uri, memory_mb=160, vcpus=1, allow_restart=True)])[0]
    assert not first.get('failed'), first['msg']
    host_uuid = ElementTree.fromstring(conn.getCapabilities()).findtext('host/uuid')
    reboots = RebootEvents(host.uri, NAME)
    outcome = []
    try:
        with GuestLock("guest '%s'" % NAME, host_uuid, NAME, print) as held:
            asked = time.monotonic()
            action = dict(name=NAME, uri=host.uri, action='reboot', reboot_type='hard')
            waiting = _start_waiting(held, [action], ACTION_PLAY, outcome, 'the reboot')
            assert reboots.since(asked) == [], 'the guest was reset while another run held it'
            released = time.monotonic()
        waiting.join(300)
        assert outcome and not outcome[0].get('failed') and outcome[0]['changed'], outcome
        assert outcome[0]['method'] == 'reset', outcome
        reboots.wait_since(released)
        assert reboots.since(asked) == reboots.since(released), 'a reset came before the lock was free'
    finally:
        reboots.close()
    _assert_one_intact_guest(host, conn)


@pytest.fixture(scope='module')
def two_hosts(lab_host2, lab_host9, boot):
    conns = [libvirt.open(h.uri) for h in (lab_host2, lab_host9)]
    names = ['lab-ri-f%d-%d' % (h.index, i) for h in (lab_host2, lab_host9) for i in range(PER_HOST)]
    for conn in conns:
        # this file's other guest too: its volumes (the console log) live in the instance pool
        for name in names + [NAME]:
            guests.remove_guest(conn, name)
        _drop_instance_pool(conn)
    yield (lab_host2, lab_host9), conns
    for conn in conns:
        for name in names:
            guests.remove_guest(conn, name)
        conn.close()


INSTANCE_POOL = 'virtops-instances'


def _has_instance_pool(conn):
    return INSTANCE_POOL in conn.listStoragePools() + conn.listDefinedStoragePools()


def _drop_instance_pool(conn):
    """Make the host one without the instance pool, so the forks race to create it as on a new host; its volumes
    go too, unless a guest still uses one (then the test cannot start as it says, and fails saying why)."""
    if not _has_instance_pool(conn):
        return
    pool = conn.storagePoolLookupByName(INSTANCE_POOL)
    if pool.isActive():
        pool.refresh(0)
        volumes = pool.listAllVolumes(0)
        definitions = ''.join(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) for dom in conn.listAllDomains(0))
        in_use = [vol.name() for vol in volumes if vol.path() in definitions]
        assert not in_use, ('%s: the instance pool holds volumes guests use (%s): the test cannot start from a host '
                            'without it' % (conn.getURI(), ', '.join(in_use)))
        for vol in volumes:
            vol.delete(0)
        pool.destroy()
    pool.undefine()


def _recaps(out):
    return {m.group(1): dict(changed=int(m.group(2)), failed=int(m.group(3)))
            for m in re.finditer(r'(lab-host\d+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)', out)}


def test_guest_role_with_forks_across_hosts(two_hosts, boot, tmp_path):
    lab_hosts, conns = two_hosts
    # the state this test says it starts from: new hosts, without the instance pool the role's guests need
    assert not any(_has_instance_pool(conn) for conn in conns), 'a host already has the instance pool'
    data = inventory_data(lab_hosts)
    for host in lab_hosts:
        # each host its own guests, as host variables: one play, the hosts in parallel forks
        data['compute']['hosts'][host.name]['guests'] = [
            dict(boot, name='lab-ri-f%d-%d' % (host.index, i), memory_mb=96) for i in range(PER_HOST)]
    inventory = str(tmp_path / 'inventory.json')
    with open(inventory, 'w') as handle:
        json.dump(data, handle)
    args = ['-i', inventory, '--forks', '2']
    first = run_playbook(ROLE_PLAY, args=args, timeout=600)
    assert first.rc == 0, first.stdout[-3000:]
    recaps = _recaps(first.stdout)
    assert set(recaps) == {h.name for h in lab_hosts} and all(r['failed'] == 0 for r in recaps.values()), recaps
    for host, conn in zip(lab_hosts, conns):
        mine = sorted(d.name() for d in conn.listAllDomains(0) if d.name().startswith('lab-ri-f'))
        assert mine == ['lab-ri-f%d-%d' % (host.index, i) for i in range(PER_HOST)], (host.name, mine)
        assert all(conn.lookupByName(n).state()[0] == libvirt.VIR_DOMAIN_RUNNING for n in mine)
        for name in mine:
            assert len(_qemu_processes(host.name, name)) == 1
    again = run_playbook(ROLE_PLAY, args=args, timeout=600)
    assert again.rc == 0, again.stdout[-3000:]
    assert all(r['changed'] == 0 for r in _recaps(again.stdout).values()), again.stdout[-2000:]
    for host in lab_hosts:
        tally.case('concurrent converges checked', 'guest role with forks: %d guests on %s beside another host'
                   % (PER_HOST, host.name))
