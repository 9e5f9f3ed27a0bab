"""config_drive end to end: the module's file handling, then guests that read the drive at boot.

1. The module: created, a second run changes nothing, check mode writes nothing, a changed field rewrites the
   image, mode 0600, the admin password nowhere in results or diff, bad inputs refused in one sentence with
   nothing written.
2. The tiny guest mounts a drive labelled config-2 at boot; what it reads there (iso9660 and vfat) is what the
   module wrote.
3. The full Debian guest's cloud-init applies the drive: hostname, ssh key, root's password from admin_pass,
   user_data, static address from network_data.json, injected file, each checked inside the guest through the
   guest agent.
"""
import base64
import json
import os
import pathlib
import shutil
import stat
import tempfile
import time
import warnings

import libvirt
import libvirt_qemu
import pytest

from lab.checks import assert_one_sentence
from lab.console import serial_shell, wait_for_log
from lab.runner import run_module

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt  # the host's libcrypt checks the guest's SHA-512 and yescrypt hashes

PASSWORD = 'Adm1n-Pa55-for-config-drive'
SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZpcnRvcHMtY29uZmlnLWRyaXZlLXRlc3Qta2V5 ops@virtops'
TINY_PORTS = {'iso9660': 4571, 'vfat': 4572}
FULL_NAME = 'lab-cd-full'
FULL_MAC = '52:54:00:cd:00:01'
STATIC_ADDRESS = '10.0.2.77'
LAB_DIR = '/var/lib/virtops-lab'


def drive_params(dest, **overrides):
    params = dict(dest=dest, name='cd-guest', hostname='cd-guest', public_keys={'ops': SSH_KEY}, admin_pass=PASSWORD,
                  meta={'role': 'test'}, user_data='#!/bin/sh\necho from-user-data > /var/tmp/virtops-user-data\n',
                  network_data_from_nics=[dict(mac=FULL_MAC, address=STATIC_ADDRESS + '/24', gateway='10.0.2.2',
                                               dns=['10.0.2.3'])],
                  files=[dict(path='/etc/virtops-injected', content='injected by the config drive\n')])
    params.update(overrides)
    return params


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


@pytest.fixture
def drive_dir():
    # qemu runs as libvirt-qemu and must reach the image, which pytest's private tmp_path (under a 0700
    # directory) does not allow
    os.makedirs(LAB_DIR, exist_ok=True)
    path = tempfile.mkdtemp(prefix='config-drive-', dir=LAB_DIR)
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- 1. the module


@pytest.mark.parametrize('fmt', ['iso9660', 'vfat'])
def test_create_is_idempotent_private_and_keeps_the_password_out(drive_dir, fmt):
    dest = str(drive_dir / ('drive.' + ('iso' if fmt == 'iso9660' else 'img')))
    params = drive_params(dest, format=fmt)

    checked = run_module('config_drive', check=True, diff=True, **params)
    assert not checked.failed and checked.changed, checked.msg
    assert not os.path.exists(dest) and os.listdir(str(drive_dir)) == []

    created = run_module('config_drive', diff=True, **params)
    assert not created.failed and created.changed, created.msg
    assert created['changes'] == ['created']
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert created['config_drive']['sha256'] == checked['config_drive']['sha256']
    assert created['metadata']['meta_data']['admin_pass'] == '********'
    assert created['diff']['after']['config_drive']['meta_data']['admin_pass'] == '********'
    for result in (checked, created):
        assert PASSWORD not in json.dumps(result.data) and PASSWORD not in result.stderr
    first = read(dest)
    assert PASSWORD.encode() in first, 'the password is meant for the guest, inside the image'

    again = run_module('config_drive', diff=True, **params)
    assert not again.failed and not again.changed, again.msg
    assert again['diff'] == {'before': {}, 'after': {}}
    assert read(dest) == first

    changed = run_module('config_drive', check=True, diff=True, **(params | {'hostname': 'cd-guest-2'}))
    assert changed.changed and read(dest) == first
    diff = changed['diff']
    assert diff['before']['config_drive']['meta_data']['hostname'] == 'cd-guest'
    assert diff['after']['config_drive']['meta_data']['hostname'] == 'cd-guest-2'
    assert PASSWORD not in json.dumps(changed.data)
    rewritten = run_module('config_drive', **(params | {'hostname': 'cd-guest-2'}))
    assert rewritten.changed and rewritten['changes'] == ['content'] and read(dest) != first
    assert sorted(os.listdir(str(drive_dir))) == [os.path.basename(dest)], 'a temporary file was left behind'

    os.chmod(dest, 0o644)
    fixed = run_module('config_drive', **(params | {'hostname': 'cd-guest-2'}))
    assert fixed.changed and fixed['changes'] == ['mode'] and stat.S_IMODE(os.stat(dest).st_mode) == 0o600

    assert run_module('config_drive', dest=dest, state='absent', check=True).changed and os.path.exists(dest)
    removed = run_module('config_drive', dest=dest, state='absent')
    assert removed.changed and not os.path.exists(dest)
    assert not run_module('config_drive', dest=dest, state='absent').changed


@pytest.mark.parametrize('overrides, must_name', [
    (dict(network_data_from_nics=[], network_data=dict(
        links=[dict(id='eth0', type='phy', ethernet_mac_address=FULL_MAC)],
        networks=[dict(id='net0', link='eth9', type='ipv4', ip_address='10.0.0.5', netmask='255.255.255.0')])),
     "link 'eth9'"),
    (dict(files=[dict(path='etc/motd', content='file text for a bad input')]), "'etc/motd'"),
    (dict(user_data='#!/bin/sh\n' + 'x' * 65536), '65546 bytes'),
    (dict(dest='/nonexistent-virtops-dir/drive.iso'), '/nonexistent-virtops-dir'),
])
def test_bad_input_is_refused_in_one_sentence_and_nothing_is_written(drive_dir, overrides, must_name):
    params = drive_params(str(drive_dir / 'drive.iso'))
    params.update(overrides)
    result = run_module('config_drive', **params)
    assert result.failed
    assert_one_sentence(result.msg, params['dest'], must_name)
    assert os.listdir(str(drive_dir)) == []
    assert not os.path.exists('/nonexistent-virtops-dir')


POOL = 'lab-cd-pool'


@pytest.fixture
def pool(libvirt_conn):
    for leftover in [p for p in libvirt_conn.listAllStoragePools(0) if p.name() == POOL]:
        if leftover.isActive():
            leftover.destroy()
        leftover.undefine()
    directory = tempfile.mkdtemp(prefix='config-drive-pool-', dir=LAB_DIR)
    made = libvirt_conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, directory), 0)
    made.create(0)
    yield made
    for vol in made.listAllVolumes(0):
        vol.delete(0)
    made.destroy()
    made.undefine()
    shutil.rmtree(directory, ignore_errors=True)


def test_drive_as_a_pool_volume_through_the_storage_api(pool, drive_dir):
    params = drive_params(None, format='vfat')
    params.pop('dest')
    params.update(pool=POOL, volume='cd-guest-config.img', uri='qemu:///system')
    created = run_module('config_drive', **params)
    assert not created.failed and created.changed, created.msg
    path = created['config_drive']['path']
    assert path and os.path.dirname(path) == pool.storageVolLookupByName('cd-guest-config.img').path().rsplit('/', 1)[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    local = run_module('config_drive', **drive_params(str(drive_dir / 'same.img'), format='vfat'))
    assert read(path) == read(local['config_drive']['dest']), 'the volume holds other bytes than the file'
    assert not run_module('config_drive', **params).changed
    changed = run_module('config_drive', **(params | {'hostname': 'other'}))
    assert changed.changed and changed['changes'] == ['content'] and read(path) != read(local['config_drive']['dest'])
    removed = run_module('config_drive', **dict(params, state='absent'))
    assert removed.changed and not [vol.name() for vol in pool.listAllVolumes(0)]


# ---------------------------------------------------------------- 2. the tiny guest reads it


@pytest.mark.parametrize('fmt', ['iso9660', 'vfat'])
def test_tiny_guest_reads_the_drive(libvirt_conn, tiny_image, drive_dir, fmt):
    name = 'lab-cd-tiny-' + ('iso' if fmt == 'iso9660' else 'vfat')
    port = TINY_PORTS[fmt]
    dest = str(drive_dir / ('drive.' + ('iso' if fmt == 'iso9660' else 'img')))
    written = run_module('config_drive', **drive_params(dest, format=fmt))
    assert not written.failed, written.msg
    params = dict(name=name, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=port), config_drive=dest,
                  shutdown_timeout=20)
    run_module('guest', name=name, state='absent')
    try:
        booted = run_module('guest', **params)
        assert not booted.failed, booted.msg
        wait_for_log(booted['guest']['consoles']['serial_log'], 'mounted at /mnt/config', timeout=180)
        listing = serial_shell(port, 'ls /mnt/config/openstack /mnt/config/ec2')
        for version in ('2012-08-10', '2015-10-15', '2018-08-27', 'latest', 'content', '2009-04-04'):
            assert version in listing, listing
        meta = serial_shell(port, 'cat /mnt/config/openstack/latest/meta_data.json')
        assert '"hostname": "cd-guest"' in meta and SSH_KEY in meta and '"content_path": "/content/0000"' in meta
        network = serial_shell(port, 'cat /mnt/config/openstack/2015-10-15/network_data.json')
        assert STATIC_ADDRESS in network and FULL_MAC in network
        injected = serial_shell(port, 'cat /mnt/config/openstack/content/0000')
        assert 'injected by the config drive' in injected
        assert 'from-user-data' in serial_shell(port, 'cat /mnt/config/openstack/latest/user_data')
    finally:
        run_module('guest', name=name, state='absent')


# ---------------------------------------------------------------- 3. cloud-init on the full guest applies it


def _agent(domain, command, arguments=None, timeout=10):
    payload = {'execute': command}
    if arguments is not None:
        payload['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(domain, json.dumps(payload), timeout, 0)).get('return')


def _wait_for_agent(domain, serial_log, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            _agent(domain, 'guest-ping', timeout=5)
            return
        except libvirt.libvirtError:
            time.sleep(2)
    with open(serial_log, errors='replace') as handle:
        tail = handle.read()[-2000:]
    raise AssertionError('the guest agent did not answer within %d s; serial log ends:\n%s' % (timeout, tail))


def guest_exec(domain, path, *args, timeout=120):
    """(exit code, stdout) of a command run inside the guest through the agent."""
    started = _agent(domain, 'guest-exec', {'path': path, 'arg': list(args), 'capture-output': True})
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = _agent(domain, 'guest-exec-status', {'pid': started['pid']})
        if status.get('exited'):
            return status.get('exitcode'), base64.b64decode(status.get('out-data', '')).decode(errors='replace')
        time.sleep(1)
    raise AssertionError('%s %s did not finish in the guest within %d s' % (path, ' '.join(args), timeout))


def _wait_for_cloud_init(domain, timeout):
    """Until cloud-init's last stage has written its result file. Not `cloud-init status --wait`: this cloud-init
    reports "error" (and stops waiting) as soon as an earlier stage has failed, while the final stage that runs the
    user-data script may still be to come; the image's locale stage always fails (no locales package)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if guest_exec(domain, '/usr/bin/test', '-e', '/run/cloud-init/result.json')[0] == 0:
            return
        time.sleep(3)
    raise AssertionError('cloud-init did not finish within %d s' % timeout)


@pytest.mark.slow
def test_full_guest_cloud_init_applies_the_drive(libvirt_conn, full_image, drive_dir):
    dest = str(drive_dir / 'full.iso')
    written = run_module('config_drive', **drive_params(dest, name=FULL_NAME, hostname='cd-full-guest'))
    assert not written.failed, written.msg
    params = dict(name=FULL_NAME, virt_type='qemu', memory_mb=512, image=full_image.disk, kernel=full_image.kernel,
                  initrd=full_image.initrd, cmdline=full_image.cmdline, guest_agent=True, config_drive=dest,
                  nics=[dict(user=True, mac=FULL_MAC)], shutdown_timeout=30)
    run_module('guest', name=FULL_NAME, state='absent')
    try:
        booted = run_module('guest', **params)
        assert not booted.failed, booted.msg
        domain = libvirt_conn.lookupByName(FULL_NAME)
        _wait_for_agent(domain, booted['guest']['consoles']['serial_log'], timeout=600)
        _wait_for_cloud_init(domain, timeout=900)
        # what cloud-init reported, shown when an effect below is missing
        status = guest_exec(domain, '/usr/bin/cloud-init', 'status', '--long')[1]
        problems = guest_exec(domain, '/usr/bin/grep', '-E', 'WARNING|ERROR|Traceback', '/var/log/cloud-init.log')[1]
        print('cloud-init status:\n%s\nits warnings and errors:\n%s' % (status, problems[-4000:]))

        assert guest_exec(domain, '/usr/bin/hostname')[1].strip() == 'cd-full-guest'
        # admin_pass: root (locked in the image) now has a hash of the drive's password, set by cloud-init
        shadow = guest_exec(domain, '/usr/bin/getent', 'shadow', 'root')[1].split(':')[1]
        assert crypt.crypt(PASSWORD, shadow) == shadow, 'root\'s password is not the admin_pass: %r' % shadow[:3]
        assert crypt.crypt(PASSWORD + 'x', shadow) != shadow
        keys = guest_exec(domain, '/usr/bin/cat', '/root/.ssh/authorized_keys')[1]
        assert SSH_KEY in keys, keys
        assert guest_exec(domain, '/usr/bin/cat', '/var/tmp/virtops-user-data')[1] == 'from-user-data\n'
        assert guest_exec(domain, '/usr/bin/cat', '/etc/virtops-injected')[1] == 'injected by the config drive\n'
        instance = guest_exec(domain, '/usr/bin/cat', '/var/lib/cloud/data/instance-id')[1].strip()
        assert instance == written['config_drive']['uuid']
        # cloud-init turned network_data.json into ifupdown configuration ...
        rendered = guest_exec(domain, '/usr/bin/cat', '/etc/network/interfaces.d/50-cloud-init')[1]
        assert 'address %s/24' % STATIC_ADDRESS in rendered or 'address %s' % STATIC_ADDRESS in rendered, rendered
        # ... and the interface carries the address (ifupdown reads interfaces.d only through a `source` line in
        # /etc/network/interfaces, which the lab image must keep)
        addresses = guest_exec(domain, '/usr/sbin/ip', '-4', '-o', 'addr', 'show')[1]
        interfaces = guest_exec(domain, '/usr/bin/cat', '/etc/network/interfaces')[1]
        assert ' %s/24 ' % STATIC_ADDRESS in addresses, (
            'no static address in the guest:\n%s\n/etc/network/interfaces:\n%s\n50-cloud-init:\n%s'
            % (addresses, interfaces, rendered))
    finally:
        run_module('guest', name=FULL_NAME, state='absent')
