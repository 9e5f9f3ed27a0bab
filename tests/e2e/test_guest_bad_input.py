"""Bad input to the guest module: one clear sentence each, and libvirt left exactly as it was."""
import os
import subprocess

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module

EXISTING = 'lab-bad-existing'


@pytest.fixture(scope='module')
def boot(tiny_image):
    return dict(virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline)


@pytest.fixture(scope='module')
def existing(libvirt_conn, boot):
    run_module('guest', name=EXISTING, state='absent')
    result = run_module('guest', name=EXISTING, state='stopped', **boot)
    assert not result.failed, result.msg
    yield result['guest']
    run_module('guest', name=EXISTING, state='absent')


CASES = [
    ('memory larger than the host', dict(name='lab-bad-1', memory_mb=10 ** 7), ['lab-bad-1', 'memory_mb', 'exceeds']),
    ('missing image', dict(name='lab-bad-2', image='/nonexistent/base.qcow2'), ['lab-bad-2', '/nonexistent/base.qcow2']),
    ('negative vcpus', dict(name='lab-bad-3', vcpus=-2), ['lab-bad-3', 'vcpus']),
    ('bad name', dict(name='bad name/..'), ['name']),
    ('root size without an image', dict(name='lab-bad-4', root_size_gb=5), ['lab-bad-4', 'root_size_gb']),
    ('secure boot without uefi', dict(name='lab-bad-5', secure_boot=True), ['lab-bad-5', 'secure_boot']),
    ('graphics port out of range', dict(name='lab-bad-6', graphics=[dict(type='vnc', port=80)]), ['lab-bad-6', 'graphics[0].port']),
    ('tcp console without a port', dict(name='lab-bad-7', serial_console=dict(type='tcp')), ['lab-bad-7', 'serial_console']),
    ('negative disk qos', dict(name='lab-bad-8', disk_qos=dict(total_iops_sec=-1)), ['lab-bad-8', 'disk_qos.total_iops_sec']),
    ('invalid MAC', dict(name='lab-bad-10', nics=[dict(user=True, mac='52:54:00:zz:00:01')]), ['lab-bad-10', 'nics[0].mac']),
    ('multicast MAC', dict(name='lab-bad-11', nics=[dict(user=True, mac='01:00:5e:00:00:01')]), ['lab-bad-11', 'multicast']),
    ('NIC with two sources', dict(name='lab-bad-12', nics=[dict(user=True, network='default')]), ['lab-bad-12', 'nics[0]']),
    ('NIC on an unknown network', dict(name='lab-bad-13', nics=[dict(network='no-such-net')]), ['lab-bad-13', 'no-such-net']),
    ('VLAN out of range', dict(name='lab-bad-14', nics=[dict(ovs_bridge='br0', vlan=5000)]), ['lab-bad-14', 'nics[0].vlan']),
    ('VNC password too long', dict(name='lab-bad-15', graphics=[dict(type='vnc', password='123456789')]),
     ['lab-bad-15', 'graphics[0].password', 'at most 8']),
    ('nothing to boot', dict(name='lab-bad-9', kernel=None, initrd=None, cmdline=None), ['lab-bad-9', 'image or a kernel']),
]


@pytest.mark.parametrize('params, names', [(case[1], case[2]) for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_and_changes_nothing(libvirt_conn, boot, existing, params, names):
    args = dict(boot)
    args.update(params)
    args = dict((key, value) for key, value in args.items() if value is not None)
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest', **args)
    assert result.failed, 'accepted: %r' % (params,)
    assert_one_sentence(result.msg, *names)
    assert libvirt_snapshot(libvirt_conn) == before


def test_name_clash_with_another_uuid(libvirt_conn, boot, existing):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest', name=EXISTING, uuid='00000000-0000-4000-8000-000000000001', state='stopped', **boot)
    assert result.failed
    assert_one_sentence(result.msg, EXISTING, existing['uuid'], '00000000-0000-4000-8000-000000000001')
    assert libvirt_snapshot(libvirt_conn) == before


def test_unknown_option_value_is_refused_by_the_spec(lab_libvirt):
    result = run_module('guest', name='lab-bad-x', state='exploded')
    assert result.failed and 'state' in result.msg


def test_absent_on_a_missing_guest_is_not_a_change(libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest', name='lab-never-was', state='absent')
    assert not result.failed and not result.changed and result['guest'] is None
    assert libvirt_snapshot(libvirt_conn) == before


def test_absent_removes_files_an_interrupted_run_left(libvirt_conn, tmp_path):
    base = str(tmp_path / 'base.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M'], check=True)
    os.chmod(str(tmp_path), 0o755)
    pool = libvirt_conn.storagePoolLookupByName('virtops-instances')
    pool.createXML("<volume><name>lab-leftover-root.qcow2</name><capacity unit='MiB'>1</capacity>"
                   "<target><format type='qcow2'/></target></volume>", 0)
    refused = run_module('guest', name='lab-leftover', virt_type='qemu', image=base)
    assert refused.failed
    assert_one_sentence(refused.msg, 'lab-leftover', 'left over')
    before = libvirt_snapshot(libvirt_conn)
    assert run_module('guest', check=True, name='lab-leftover', state='absent').changed
    assert libvirt_snapshot(libvirt_conn) == before
    cleaned = run_module('guest', name='lab-leftover', state='absent')
    assert cleaned.changed and 'removed the leftover lab-leftover-root.qcow2' in cleaned['actions']
    assert not run_module('guest', name='lab-leftover', state='absent').changed
