"""disk_inject and grow_root on real images: a fresh overlay of the lab's full Debian image, enlarged by
1 GiB, grown, injected, read back with libguestfs, then booted (one boot) and checked from inside."""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.disk_image import grow
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import guestfs as guestfs_ops
from lab import guests
from lab.checks import assert_one_sentence
from lab.proc import LAB_ROOT
from lab.runner import run_module

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt

pytestmark = pytest.mark.slow

GUEST = 'lab-inject'
GIB = 1024 ** 3
MAC = '52:54:00:6a:00:42'
ADDRESS = '10.0.2.42'
PASSWORD = 'Inj3cted-Root-pw'
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxhYi1pbmplY3Qta2V5LWZvci10ZXN0cy0wMDAwMDAw lab@inject'
FILES = [dict(path='/etc/virtops/hello.txt', content='injected by disk_inject\n', mode='0640', owner='root:adm'),
         dict(path='/opt/lab/run.sh', content='#!/bin/sh\necho ran\n', mode='0750', owner='nobody')]
# QEMU's user-mode network is 10.0.2.0/24 with its gateway at .2 and DNS at .3; .42 is outside its DHCP range
NETWORK = dict(interfaces=[dict(name='ens3', address=ADDRESS + '/24', gateway='10.0.2.2', dns=['10.0.2.3'])])
# the overlay's base image lies outside the host's pools: format vouches for the overlay's header
INJECT = dict(files=FILES, ssh_keys=[dict(user='root', key=KEY)], admin_password=PASSWORD, network=NETWORK,
              libguestfs_tcg=True, format='qcow2')
# the virtio NIC sits in PCI slot 3, which systemd names ens3 on i440fx
NIC = ("<interface type='user'><mac address='%s'/><model type='virtio'/>"
       "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>" % MAC)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _log(msg):
    print('[test_disk_inject] %s' % msg, flush=True)


@pytest.fixture(scope='module')
def work_dir(lab_session):
    os.makedirs(LAB_ROOT, exist_ok=True)
    path = tempfile.mkdtemp(prefix='inject-', dir=LAB_ROOT)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def prepared(libvirt_conn, full_image):
    """The boot overlay, enlarged by 1 GiB and grown, plus what each step reported."""
    guests.remove_guest(libvirt_conn, GUEST, log=_log)
    overlay = guests.make_overlay(full_image, GUEST, log=_log)
    subprocess.run(['qemu-img', 'resize', '-q', overlay, '+1G'], check=True)
    started = time.time()
    grown = grow.grow_root(overlay, 'qcow2', _log, tcg=True)
    steps = dict(overlay=overlay, grown=grown, grow_seconds=time.time() - started)

    before = _sha256(overlay)
    steps['check'] = run_module('disk_inject', check=True, diff=True, image=overlay, **INJECT)
    steps['check_unchanged'] = _sha256(overlay) == before
    steps['first'] = run_module('disk_inject', diff=True, diff_content=True, image=overlay, **INJECT)
    after_first = _sha256(overlay)
    steps['second'] = run_module('disk_inject', image=overlay, **INJECT)
    steps['second_unchanged'] = _sha256(overlay) == after_first
    yield steps
    guests.remove_guest(libvirt_conn, GUEST, log=_log)
    guests.remove_guest_files(GUEST)


@pytest.fixture(scope='module')
def booted(libvirt_conn, full_image, prepared):
    """The injected overlay booted as a full guest with a user-mode NIC, its agent answering."""
    kernel, initrd = guests.stage_boot_files(full_image, GUEST)
    serial_log = guests.serial_log_path(GUEST)
    xml = guests.domain_xml(GUEST, kernel, initrd, full_image.cmdline, serial_log, memory_mib=512,
                            disk=prepared['overlay'])
    xml = xml.replace("<memballoon model='none'/>", NIC + "\n    <memballoon model='none'/>")
    dom = libvirt_conn.defineXML(xml)
    dom.create()
    guest = guests.LabGuest(name=GUEST, uuid=dom.UUIDString(), uri=libvirt_conn.getURI(), serial_log=serial_log,
                            conn=libvirt_conn, marker=full_image.marker)
    guest.wait_for_agent(timeout=400)
    return guest


def _exec(guest, path, *args):
    started = guest.agent('guest-exec', {'path': path, 'arg': list(args), 'capture-output': True})
    deadline = time.time() + 60
    while time.time() < deadline:
        status = guest.agent('guest-exec-status', {'pid': started['pid']})
        if status.get('exited'):
            return status.get('exitcode'), base64.b64decode(status.get('out-data', '')).decode()
        time.sleep(0.5)
    raise AssertionError('%s %s did not finish in the guest' % (path, ' '.join(args)))


def _wait_for_address(guest, name, address, timeout=180):
    """Interface -> (MAC, addresses) once ``address`` is up (networking.service may finish after the agent starts)."""
    deadline = time.time() + timeout
    while True:
        addresses = {}
        for nic in guest.agent('guest-network-get-interfaces'):
            addresses[nic['name']] = (nic.get('hardware-address'), [a['ip-address'] for a in nic.get('ip-addresses', [])])
        if address in addresses.get(name, (None, []))[1] or time.time() > deadline:
            return addresses
        time.sleep(3)


def test_grow_root_fills_the_enlarged_disk(prepared):
    old_bytes, new_bytes = prepared['grown']
    assert old_bytes == 2 * GIB
    assert new_bytes - old_bytes > 0.99 * GIB, prepared['grown']
    _log('grow_root took %.0f s' % prepared['grow_seconds'])


def test_check_mode_reports_changes_and_writes_nothing(prepared):
    check = prepared['check']
    assert not check.failed, check.msg
    assert check.changed and prepared['check_unchanged']
    paths = set(change['path'] for change in check['changes'])
    assert {'/etc/virtops/hello.txt', '/opt/lab/run.sh', '/root/.ssh/authorized_keys', '/etc/shadow',
            '/etc/network/interfaces.d/virtops'} <= paths
    assert PASSWORD not in repr(check.data)
    # without diff_content the diff names sizes and digests, never a file's text (the image's own included)
    for entry in check['diff']:
        for side in ('before', 'after'):
            assert entry[side] == '' or re.fullmatch(r'\(\d+ bytes, sha256 [0-9a-f]{16}\.\.\.\)\n', entry[side]), entry
    assert FILES[0]['content'] not in repr(check.data) and 'root:' not in repr(check['diff'])


def test_first_run_changes_and_redacts_the_password(prepared):
    first = prepared['first']
    assert not first.failed, first.msg
    assert first.changed and first['os']['id'] == 'debian'
    assert first['changes'] == prepared['check']['changes']
    assert PASSWORD not in repr(first.data)
    shadow_diff = [entry for entry in first['diff'] if entry['before_header'] == '/etc/shadow'][0]
    assert shadow_diff['after'].startswith('root:********:') and '$6$' not in shadow_diff['after']


def test_second_run_is_unchanged_and_leaves_the_bytes(prepared):
    second = prepared['second']
    assert not second.failed, second.msg
    assert not second.changed and second['changes'] == []
    assert prepared['second_unchanged']


@pytest.fixture(scope='module')
def read_back(prepared):
    """What libguestfs reads from the injected overlay (before the boot: QEMU then locks the image)."""
    with guestfs_ops.GuestImage(prepared['overlay'], 'qcow2', readonly=True, tcg=True) as image:
        image.mount_root()
        g = image.g
        return dict(
            hello=(g.read_file('/etc/virtops/hello.txt'), g.statns('/etc/virtops/hello.txt')),
            script=g.statns('/opt/lab/run.sh'),
            keys=(g.read_file('/root/.ssh/authorized_keys'), g.statns('/root/.ssh/authorized_keys'),
                  g.statns('/root/.ssh')),
            shadow=g.read_file('/etc/shadow').decode(),
            ifupdown=g.read_file('/etc/network/interfaces.d/virtops').decode(),
            interfaces=g.read_file('/etc/network/interfaces').decode(),
            statvfs=g.statvfs('/'))


def test_libguestfs_sees_what_was_injected(read_back):
    data, stat = read_back['hello']
    assert data == FILES[0]['content'].encode()
    assert (stat['st_mode'] & 0o7777, stat['st_uid'], stat['st_gid']) == (0o640, 0, 4)
    assert (read_back['script']['st_mode'] & 0o7777, read_back['script']['st_uid']) == (0o750, 65534)
    keys, key_stat, dir_stat = read_back['keys']
    assert keys.decode().splitlines() == [KEY]
    assert key_stat['st_mode'] & 0o7777 == 0o600 and dir_stat['st_mode'] & 0o7777 == 0o700
    root_hash = read_back['shadow'].splitlines()[0].split(':')[1]
    assert root_hash.startswith('$6$') and crypt.crypt(PASSWORD, root_hash) == root_hash
    assert 'iface ens3 inet static\n    address 10.0.2.42/24\n    gateway 10.0.2.2\n' in read_back['ifupdown']
    assert 'source /etc/network/interfaces.d/*' in read_back['interfaces']
    size = read_back['statvfs']['blocks'] * read_back['statvfs']['frsize']
    assert size > 2.7 * GIB, size


def test_inside_the_booted_guest(read_back, booted):
    code, out = _exec(booted, '/usr/bin/stat', '-c', '%a %U %G', '/etc/virtops/hello.txt', '/opt/lab/run.sh')
    assert (code, out.split('\n')[:2]) == (0, ['640 root adm', '750 nobody nogroup']), out
    assert _exec(booted, '/bin/cat', '/etc/virtops/hello.txt') == (0, FILES[0]['content'])
    code, out = _exec(booted, '/bin/cat', '/root/.ssh/authorized_keys')
    assert KEY in out
    code, out = _exec(booted, '/usr/bin/getent', 'shadow', 'root')
    root_hash = out.split(':')[1]
    assert crypt.crypt(PASSWORD, root_hash) == root_hash
    addresses = _wait_for_address(booted, 'ens3', ADDRESS)
    assert addresses.get('ens3', (None, []))[0] == MAC and ADDRESS in addresses['ens3'][1], (
        addresses, _exec(booted, '/bin/journalctl', '-b', '-u', 'networking', '--no-pager'),
        _exec(booted, '/bin/systemctl', 'is-enabled', 'networking'))
    # ifup sets the address before the route: wait for the route too
    deadline = time.time() + 60
    code, out = _exec(booted, '/sbin/ip', 'route', 'show', 'default')
    while 'via 10.0.2.2 dev ens3' not in out and time.time() < deadline:
        time.sleep(2)
        code, out = _exec(booted, '/sbin/ip', 'route', 'show', 'default')
    assert 'via 10.0.2.2 dev ens3' in out, out
    code, out = _exec(booted, '/bin/df', '-B1', '--output=size', '/')
    size = int(out.split()[-1])
    assert size > 2.7 * GIB, out


def test_image_of_a_running_guest_is_refused(booted, prepared, full_image):
    backing = os.path.join(guests.DISK_DIR, 'base', '%s-%s.qcow2' % (full_image.name, full_image.recipe_hash[:12]))
    for path in (prepared['overlay'], backing):
        result = run_module('disk_inject', image=path, files=FILES[:1], libguestfs_tcg=True)
        assert result.failed
        assert_one_sentence(result.msg, GUEST, 'in use')


def test_blank_qcow2_is_one_clear_sentence(work_dir):
    blank = os.path.join(work_dir, 'blank.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', blank, '64M'], check=True)
    result = run_module('disk_inject', image=blank, files=FILES[:1], libguestfs_tcg=True)
    assert result.failed
    assert_one_sentence(result.msg, blank, 'no recognisable operating system')


@pytest.mark.parametrize('params, words', [
    (dict(uri='qemu+ssh://root@elsewhere/system'), 'remote'),
    (dict(files=[dict(path='etc/motd', content='file text for a bad input')]), 'absolute'),
    (dict(files=[dict(path='/etc/../motd', content='file text for a bad input')]), 'absolute'),
    (dict(network=dict(interfaces=[dict(name='ens3', address='10.0.2.300/24')])), 'CIDR'),
    (dict(image='/nonexistent/disk.qcow2'), 'does not exist'),
    (dict(files=[dict(path='/etc/motd', content='file text for a bad input', owner='\u00b2')]), 'numeric id'),
    (dict(files=[dict(path='/etc/motd', content='file text for a bad input', owner='j\u00f6rg:adm')]), 'numeric id'),
    (dict(network=dict(interfaces=[dict(name='ens3', dhcp=True, mtu=-1)])), 'mtu'),
    (dict(network=dict(interfaces=[dict(name='ens3\n', dhcp=True)])), 'interface name'),
])
def test_bad_input_is_refused_before_libguestfs_starts(work_dir, params, words):
    args = dict(image=os.path.join(work_dir, 'absent-is-fine-for-these.qcow2'), libguestfs_tcg=True)
    args.update(params)
    started = time.time()
    result = run_module('disk_inject', **args)
    assert result.failed and time.time() - started < 10
    assert_one_sentence(result.msg, words)


def test_grow_root_on_a_gpt_partition(work_dir):
    """Real cloud images keep root in the last partition of a GPT disk: the partition and its file system grow."""
    disk = os.path.join(work_dir, 'gpt.raw')
    subprocess.run(['truncate', '-s', '256M', disk], check=True)
    g = guestfs_ops.guestfs.GuestFS(python_return_dict=True)
    g.set_backend('direct')
    g.set_backend_settings(['force_tcg'])
    g.add_drive_opts(disk, format='raw')
    g.launch()
    g.part_init('/dev/sda', 'gpt')
    g.part_add('/dev/sda', 'p', 2048, 206847)
    g.part_add('/dev/sda', 'p', 206848, 411647)
    g.mkfs('ext4', '/dev/sda2')
    g.mount('/dev/sda2', '/')
    g.mkdir('/etc')
    g.write('/etc/os-release', b'ID=lab\nPRETTY_NAME="lab"\n')
    g.shutdown()
    g.close()
    subprocess.run(['truncate', '-s', '512M', disk], check=True)

    old_bytes, new_bytes = grow.grow_root(disk, 'raw', _log, tcg=True)
    assert old_bytes == 100 * 1024 * 1024 and new_bytes > 350 * 1024 * 1024, (old_bytes, new_bytes)
    assert grow.grow_root(disk, 'raw', _log, tcg=True) is None
