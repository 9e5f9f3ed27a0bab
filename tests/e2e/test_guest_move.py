"""A cold move to another host (guest_action cold_move with dest_uri): the guest lands there with its data,
identity and power state, and leaves nothing behind here. Its old name, resize, still works, with a deprecation."""
import os
import subprocess

import libvirt
import pytest

from lab import guests
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-move'
PORT = 4576
MAC = '52:54:00:a1:07:01'
MARKER = 'virtops-move-marker'


@pytest.fixture
def move_guest(libvirt_conn, lab_host1, tiny_image):
    base = os.path.join(lab_host1.shared_dir, 'move-base.qcow2')
    if not os.path.exists(base):
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '32M'], check=True)
    # the kernel and initramfs must be where both hosts see them too
    boot = guests.readable_boot_files(tiny_image, lab_host1.shared_dir, prefix='move-')
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, cmdline=tiny_image.cmdline, image=base,
                  nics=[dict(user=True, mac=MAC)], serial_console=dict(type='tcp', port=PORT), shutdown_timeout=15,
                  **boot)
    for uri in (None, lab_host1.uri):
        run_module('guest', name=NAME, state='absent', uri=uri)
    assert not run_module('guest', **params).failed
    yield params
    for uri in (None, lab_host1.uri):
        run_module('guest', name=NAME, state='absent', uri=uri)


def test_move_to_another_host(move_guest, libvirt_conn, lab_host1):
    serial_shell(PORT, 'echo %s | dd of=/dev/vda bs=512 seek=100 conv=notrunc 2>/dev/null; sync' % MARKER)
    uuid = libvirt_conn.lookupByName(NAME).UUIDString()
    moved = run_module('guest_action', name=NAME, action='cold_move', dest_uri=lab_host1.uri)
    assert not moved.failed, moved.msg
    assert moved.changed and moved['power_state'] == 'running'
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.lookupByName(NAME)
    assert not os.path.exists('/var/lib/libvirt/virtops/instances/lab-move-root.qcow2')
    there = libvirt.open(lab_host1.uri)
    try:
        dom = there.lookupByName(NAME)
        assert dom.UUIDString() == uuid and dom.state()[0] == 1 and MAC in dom.XMLDesc(0)
    finally:
        there.close()
    out = serial_shell(PORT, 'dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 24; echo')
    assert MARKER in out, 'the data did not come along: %s' % out
    again = run_module('guest_action', name=NAME, action='cold_move', dest_uri=lab_host1.uri)
    assert not again.failed and not again.changed
    # the deprecated name does the same (here: nothing, the guest is already there) and says it is deprecated
    old_name = run_module('guest_action', name=NAME, action='resize', dest_uri=lab_host1.uri)
    assert not old_name.failed and not old_name.changed, old_name.msg
    # (ansible-core 2.19 keeps the message under 'event', earlier releases under 'msg')
    assert any('cold_move' in repr(entry) and entry.get('version') == '1.0.0'
               for entry in old_name.get('deprecations') or []), old_name.data


def test_move_needs_a_destination(move_guest, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    refused = run_module('guest_action', name=NAME, action='cold_move')
    assert refused.failed
    assert_one_sentence(refused.msg, 'cold_move', 'dest_uri')
    assert libvirt_snapshot(libvirt_conn) == before


def test_move_refuses_attached_volumes(move_guest, libvirt_conn, lab_host1):
    pool = libvirt_conn.storagePoolLookupByName('virtops-instances')
    vol = pool.createXML("<volume><name>lab-move-data.raw</name><capacity unit='MiB'>8</capacity>"
                         "<target><format type='raw'/></target></volume>", 0)
    try:
        assert not run_module('volume_attachment', guest=NAME, target='vdb',
                              volume=dict(pool='virtops-instances', name='lab-move-data.raw')).failed
        before = libvirt_snapshot(libvirt_conn)
        refused = run_module('guest_action', name=NAME, action='cold_move', dest_uri=lab_host1.uri)
        assert refused.failed
        assert_one_sentence(refused.msg, NAME, 'vdb')
        assert libvirt_snapshot(libvirt_conn) == before
    finally:
        run_module('guest', name=NAME, state='absent')
        vol.delete(0)
