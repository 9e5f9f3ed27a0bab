"""The guest role with complete items: a config drive made from metadata, a volume (existing or created),
a flavor and a wait for the guest agent, for three tiny guests in one module run; then cloud-init waits.

Only this module's objects are compared before and after (``lab-gr-`` names): other sessions share the lab.
"""
import base64
import io
import json
import os
import time

import pycdlib
import pytest

from lab import tally
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module, run_playbook

NAMES = ['lab-gr-%d' % index for index in range(3)]
POOL = 'lab-gr-pool'
POOL_DIR = '/var/lib/virtops-lab/shared/lab-gr-pool'
ADMIN_PASS = 'gr-Adm1n-pw'
FLAVORS = dict(lab_tiny=dict(vcpus=1, memory_mb=96))
ROLE_PLAY = """
- name: Converge complete guests through the role
  hosts: localhost
  gather_facts: false
  roles:
    - role: virtops.compute.guest
"""


@pytest.fixture(scope='module', autouse=True)
def quiet_libvirt():
    import libvirt
    # the agent polls below fail until the guest is ready; libvirt would print each failure on stderr
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def mine(conn):
    return dict((key, value) for key, value in libvirt_snapshot(conn).items() if 'lab-gr' in key)


def agent(conn, name, command, arguments=None, timeout=10):
    import libvirt_qemu
    payload = dict(execute=command, **({'arguments': arguments} if arguments is not None else {}))
    return json.loads(libvirt_qemu.qemuAgentCommand(conn.lookupByName(name), json.dumps(payload), timeout, 0))['return']


def guest_file(conn, name, path, timeout=60):
    """A file's text inside the guest, read through its agent (retried while it is not there yet)."""
    import libvirt
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            handle = agent(conn, name, 'guest-file-open', dict(path=path, mode='r'))
            try:
                read = agent(conn, name, 'guest-file-read', dict(handle=handle, count=65536))
            finally:
                agent(conn, name, 'guest-file-close', dict(handle=handle))
            return base64.b64decode(read['buf-b64']).decode()
        except libvirt.libvirtError as err:
            last = err
            time.sleep(1)
    raise AssertionError('%s: %s not readable in the guest within %d s: %s' % (name, path, timeout, last))


def guest_shell(conn, name, script):
    """Run ``script`` with the guest's /bin/sh through the agent; returns what it printed."""
    pid = agent(conn, name, 'guest-exec', {'path': '/bin/sh', 'arg': ['-c', script], 'capture-output': True})['pid']
    for _attempt in range(100):
        status = agent(conn, name, 'guest-exec-status', {'pid': pid})
        if status.get('exited'):
            assert status.get('exitcode') == 0, (script, status)
            return base64.b64decode(status.get('out-data') or '').decode()
        time.sleep(0.2)
    raise AssertionError('%s: %r did not end' % (name, script))


def drive_files(conn, path):
    vol = conn.storageVolLookupByPath(path)
    stream = conn.newStream(0)
    vol.download(stream, 0, vol.info()[1], 0)
    chunks = []
    while True:
        chunk = stream.recv(262144)
        if not chunk:
            break
        chunks.append(chunk)
    stream.finish()
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(b''.join(chunks)))
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path='/openstack/latest/meta_data.json')
    iso.close()
    return json.loads(out.getvalue())


@pytest.fixture(scope='module')
def pool(libvirt_conn):
    import libvirt
    os.makedirs(POOL_DIR, mode=0o755, exist_ok=True)
    for stale in os.listdir(POOL_DIR):
        os.unlink(os.path.join(POOL_DIR, stale))
    try:
        libvirt_conn.storagePoolLookupByName(POOL).destroy()
    except libvirt.libvirtError:
        pass
    # transient: nothing of it is left in libvirt when the module's tests end
    made = libvirt_conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, POOL_DIR), 0)
    made.createXML("<volume><name>lab-gr-0-data.qcow2</name><capacity unit='MiB'>64</capacity>"
                   "<target><format type='qcow2'/></target></volume>", 0)
    yield made
    made.destroy()
    for stale in os.listdir(POOL_DIR):
        os.unlink(os.path.join(POOL_DIR, stale))


@pytest.fixture(scope='module')
def items(libvirt_conn, tiny_image, pool):
    made = []
    for index, name in enumerate(NAMES):
        volume = dict(target='vdb', volume=dict(pool=POOL, name='%s-data.qcow2' % name), serial='gr-data-%d' % index)
        if index:
            volume['size_gb'] = 1       # created by the run; lab-gr-0's exists already
        made.append(dict(name=name, virt_type='qemu', flavor='lab_tiny', kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                         cmdline=tiny_image.cmdline, volumes=[volume], wait_for='agent', wait_timeout=300,
                         config_drive=dict(hostname='%s.lab.example' % name, admin_pass=ADMIN_PASS,
                                           meta=dict(tier='web', index=index), user_data='#cloud-config\n{}\n',
                                           public_keys=dict(ops='ssh-ed25519 AAAAC3Nz lab@gr'))))
    run_module('guests', guests=[dict(name=name, state='absent') for name in NAMES])
    yield made
    run_module('guests', guests=[dict(name=name, state='absent') for name in NAMES + ['lab-gr-bad']])


def _changed_tasks(out):
    import re
    match = re.search(r'localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)', out)
    assert match, out[-2000:]
    return int(match.group(1)), int(match.group(2))


def test_check_mode_plans_drive_volumes_and_guests_and_changes_nothing(libvirt_conn, items):
    before = mine(libvirt_conn)
    result = run_module('guests', check=True, guests=items, flavors=FLAVORS)
    assert not result.failed, result.msg
    assert result['summary'] == dict(total=3, changed=3, failed=0)
    for index, entry in enumerate(result['guests']):
        assert 'config_drive created' in entry['changes'] and 'volumes.vdb disk' in entry['changes'], entry
        assert ('volumes.vdb created' in entry['changes']) == bool(index), entry
    assert mine(libvirt_conn) == before
    assert ADMIN_PASS not in json.dumps(result.data)
    tally.case('check-mode changes compared', 'guests: three new guests with config drives and volumes')


def test_role_converges_drive_volume_and_agent_then_is_a_no_op(libvirt_conn, items):
    extra = dict(guests=items, guest_flavors=FLAVORS)
    started = time.monotonic()
    first = run_playbook(ROLE_PLAY, extra_vars=extra)
    first_seconds = time.monotonic() - started
    assert first.rc == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert _changed_tasks(first.stdout) == (1, 0), 'one task should have done the work'
    assert '3 guests: 3 changed' in first.stdout and ADMIN_PASS not in first.stdout + first.stderr
    for index, name in enumerate(NAMES):
        dom = libvirt_conn.lookupByName(name)
        assert dom.isActive() and dom.info()[2] == 96 * 1024, name      # the flavor's memory
        xml = dom.XMLDesc(0)
        drive = '/var/lib/libvirt/virtops/instances/%s-config.iso' % name
        assert drive in xml and '%s/%s-data.qcow2' % (POOL_DIR, name) in xml, xml
        meta = drive_files(libvirt_conn, drive)
        assert meta['uuid'] == dom.UUIDString() and meta['hostname'] == '%s.lab.example' % name
        assert meta['meta'] == dict(tier='web', index=str(index)) and meta['admin_pass'] == ADMIN_PASS
        # the guest's own view: the drive it mounted, and the volume's size (64 MiB existing, 1 GiB created)
        seen = json.loads(guest_file(libvirt_conn, name, '/mnt/config/openstack/latest/meta_data.json'))
        assert seen['uuid'] == dom.UUIDString() and seen['public_keys'] == dict(ops='ssh-ed25519 AAAAC3Nz lab@gr')
        # the guest names its disks in the order it finds them, so the volume is found by its serial
        sectors = int(guest_shell(libvirt_conn, name, 'cat $(dirname $(grep -l gr-data-%d /sys/block/*/serial))/size' % index))
        assert sectors == (64 if index == 0 else 1024) * 2048, (name, sectors)
    started = time.monotonic()
    again = run_playbook(ROLE_PLAY, extra_vars=extra)
    again_seconds = time.monotonic() - started
    assert again.rc == 0 and _changed_tasks(again.stdout) == (0, 0), again.stdout[-2000:]
    assert '3 guests: 0 changed' in again.stdout
    print('role: converge %.1f s, no-op %.1f s' % (first_seconds, again_seconds))


def test_check_mode_on_converged_guests_reports_the_change_and_makes_none(libvirt_conn, items):
    changed = [dict(items[0], config_drive=dict(items[0]['config_drive'], meta=dict(tier='db'))),
               dict(items[1], volumes=[dict(items[1]['volumes'][0], size_gb=2)]), items[2]]
    before = mine(libvirt_conn)
    result = run_module('guests', check=True, guests=changed, flavors=FLAVORS)
    assert not result.failed, result.msg
    assert [entry['changes'] for entry in result['guests']] == [['config_drive content'], ['volumes.vdb size_gb'], []]
    assert mine(libvirt_conn) == before
    tally.case('check-mode changes compared', 'guests: a config drive content change')
    tally.case('check-mode changes compared', 'guests: a volume grown')


def test_bad_items_fail_naming_guest_and_field_and_change_nothing_of_that_guest(libvirt_conn, items):
    bad_pool = dict(items[0], name='lab-gr-bad', volumes=[dict(target='vdc', volume=dict(pool='lab-gr-nopool', name='x'))])
    cases = [
        ([dict(items[0], flavor='huge')], ['lab-gr-0', "flavor 'huge'", 'lab_tiny']),
        ([dict(items[0], config_drive=dict(hostnam='x'))], ['lab-gr-0', 'config_drive', "'hostnam'"]),
        ([bad_pool, items[1]], ['1 of 2 guests failed', "guest 'lab-gr-bad'", 'volumes[0]', "'lab-gr-nopool'"]),
        # found only once its config drive is written: the drive goes again
        ([dict(items[0], name='lab-gr-bad', kernel=None, initrd=None, cmdline=None, image='/nonexistent/gr.qcow2')],
         ["guest 'lab-gr-bad'", "image '/nonexistent/gr.qcow2'"]),
    ]
    for guests, words in cases:
        before = mine(libvirt_conn)
        result = run_module('guests', guests=guests, flavors=FLAVORS)
        assert result.failed
        assert_one_sentence(result.msg, *words)
        assert mine(libvirt_conn) == before, words
        assert ADMIN_PASS not in json.dumps(result.data)
        tally.case('bad inputs tried', 'guests: ' + ', '.join(words))


def test_cloud_init_wait_is_bounded_and_reads_the_result(libvirt_conn, items):
    name = NAMES[0]
    guest_shell(libvirt_conn, name, 'rm -rf /run/cloud-init')
    waiting = dict(items[0], wait_for='cloud_init', wait_timeout=3)
    late = run_module('guests', guests=[waiting], flavors=FLAVORS)
    assert late.failed
    assert_one_sentence(late.msg, "guest '%s'" % name, 'cloud-init', 'wait_timeout (3 s)', 'does not exist yet')
    guest_shell(libvirt_conn, name, 'mkdir -p /run/cloud-init && echo \'{"v1": {"datasource": "DataSourceConfigDrive",'
                                    ' "errors": []}}\' > /run/cloud-init/result.json')
    done = run_module('guests', guests=[waiting], flavors=FLAVORS)
    assert not done.failed and not done.changed, done.msg
    assert done['guests'][0]['waited']['for'] == 'cloud_init'
    guest_shell(libvirt_conn, name, 'echo \'{"v1": {"errors": ["module apt failed"]}}\' > /run/cloud-init/result.json')
    broken = run_module('guests', guests=[waiting], flavors=FLAVORS)
    assert broken.failed
    assert_one_sentence(broken.msg, "guest '%s'" % name, 'cloud-init finished with 1 error(s)', 'module apt failed')


def test_absent_removes_the_guest_and_its_drive_and_keeps_its_volume(libvirt_conn, items, pool):
    import libvirt
    name = NAMES[2]
    gone = run_module('guests', guests=[dict(name=name, state='absent')])
    assert not gone.failed and gone.changed and 'config_drive removed' in gone['guests'][0]['changes'], gone.data
    instances = libvirt_conn.storagePoolLookupByName('virtops-instances')
    instances.refresh(0)
    with pytest.raises(libvirt.libvirtError):
        instances.storageVolLookupByName('%s-config.iso' % name)
    pool.refresh(0)
    assert pool.storageVolLookupByName('%s-data.qcow2' % name).info()[1] == 1024 ** 3
    assert not run_module('guests', guests=[dict(name=name, state='absent')]).changed
