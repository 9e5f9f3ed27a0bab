"""Rescue: the guest boots a rescue image with its own root disk beside it, keeps its identity, and comes back
exactly as it was."""
import json
import os
import re
import subprocess

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell, vnc_security
from lab.runner import run_module

NAME = 'lab-rescue'
PORT = 4569
MAC = '52:54:00:a1:05:01'
MARKER = 'virtops-rescue-marker'
BASE_DIR = '/var/lib/virtops-lab/shared/rescue'


def _blank(name):
    path = os.path.join(BASE_DIR, name)
    if not os.path.exists(path):
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, '32M'], check=True)
    return path


@pytest.fixture(scope='module')
def rescue_guest(libvirt_conn, tiny_image):
    os.makedirs(BASE_DIR, exist_ok=True)
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=_blank('root-base.qcow2'), nics=[dict(user=True, mac=MAC)],
                  serial_console=dict(type='tcp', port=PORT), shutdown_timeout=20)
    run_module('guest', name=NAME, state='absent')
    assert not run_module('guest', **params).failed
    yield params
    run_module('guest', name=NAME, state='absent')


def _disks_with_marker():
    out = serial_shell(PORT, 'for d in /sys/block/vd*; do n=${d##*/}; '
                             'echo "$n:$(dd if=/dev/$n bs=512 skip=100 count=1 2>/dev/null | head -c 21)"; done')
    return dict(re.findall(r'^(vd[a-z]):(\S*)', out.replace('\r', ''), re.M))


def test_rescue_and_back(rescue_guest, libvirt_conn):
    serial_shell(PORT, 'echo %s | dd of=/dev/vda bs=512 seek=100 conv=notrunc 2>/dev/null; sync' % MARKER)
    dom = libvirt_conn.lookupByName(NAME)
    uuid = dom.UUIDString()
    original = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    rescue = dict(rescue_guest, state='rescued', rescue_image=_blank('rescue-base.qcow2'))

    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('guest', check=True, **rescue)
    assert not checked.failed and checked.changed and libvirt_snapshot(libvirt_conn) == before

    result = run_module('guest', **rescue)
    assert not result.failed, result.msg
    assert result.changed and result['guest']['rescued'] and result['guest']['state'] == 'running'
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.UUIDString() == uuid and MAC in dom.XMLDesc(0)
    xml = dom.XMLDesc(0)
    assert 'lab-rescue-rescue.qcow2' in xml and 'lab-rescue-root.qcow2' in xml
    seen = _disks_with_marker()
    assert len(seen) == 2 and sorted(seen.values()).count(MARKER) == 1, seen
    assert not run_module('guest', **rescue).changed

    back = run_module('guest', **rescue_guest)
    assert not back.failed, back.msg
    assert back.changed and not back['guest']['rescued'] and back['guest']['state'] == 'running'
    assert libvirt_conn.lookupByName(NAME).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == original
    assert not os.path.exists('/var/lib/libvirt/virtops/instances/lab-rescue-rescue.qcow2')
    assert _disks_with_marker() == {'vda': MARKER}
    assert not run_module('guest', **rescue_guest).changed


def test_rescue_without_an_image_is_refused(rescue_guest, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest', **dict(rescue_guest, state='rescued'))
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'rescue_image')
    assert libvirt_snapshot(libvirt_conn) == before


VNC_NAME = 'lab-rescue-vnc'
VNC_PASSWORD = 'Rsq-7qZ9'


@pytest.fixture
def vnc_guest(libvirt_conn, tiny_image):
    os.makedirs(BASE_DIR, exist_ok=True)
    params = dict(name=VNC_NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=_blank('root-base.qcow2'), shutdown_timeout=5,
                  graphics=[dict(type='vnc', password=VNC_PASSWORD)])
    run_module('guest', name=VNC_NAME, state='absent')
    made = run_module('guest', **params)
    assert not made.failed, made.msg
    yield params
    run_module('guest', name=VNC_NAME, state='absent')


def _vnc_port(conn):
    return int(re.search(r"<graphics type='vnc' port='(\d+)'", conn.lookupByName(VNC_NAME).XMLDesc(0)).group(1))


def test_rescue_keeps_the_vnc_password_out_of_what_readers_see(vnc_guest, libvirt_conn, tmp_path):
    """The definition kept for unrescue must not carry the console password into metadata, which read-only
    connections, guest_info and the inventory plugin all read; unrescue still gives the guest its password."""
    from lab.inventory_plugin import inventory_list, write_inventory
    secure = libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE
    assert "passwd='%s'" % VNC_PASSWORD in libvirt_conn.lookupByName(VNC_NAME).XMLDesc(secure)
    # positive control: the running guest's VNC server asks for the password and takes only the right one
    assert vnc_security(_vnc_port(libvirt_conn), VNC_PASSWORD) == ([2], True)
    assert vnc_security(_vnc_port(libvirt_conn), 'wrong-password')[1] is False

    rescued = run_module('guest', **dict(vnc_guest, state='rescued', rescue_image=_blank('rescue-base.qcow2')))
    assert not rescued.failed and rescued['guest']['rescued'], rescued.msg
    readonly = libvirt.openReadOnly('qemu:///system')
    try:
        dom = readonly.lookupByName(VNC_NAME)
        for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):
            xml = dom.XMLDesc(flags)
            assert 'unrescued_definition' in xml, 'the read-only view lost the metadata the test looks into'
            assert VNC_PASSWORD not in xml, 'a read-only connection sees the VNC password'
    finally:
        readonly.close()
    info = run_module('guest_info', name=VNC_NAME)
    assert not info.failed and VNC_PASSWORD not in json.dumps(info.data)
    listing = inventory_list(write_inventory(tmp_path, 'rescue.libvirt.yml', uris=['qemu:///system']))
    assert listing['_meta']['hostvars'][VNC_NAME]['virtops_metadata']['rescued'] is True
    assert VNC_PASSWORD not in json.dumps(listing), 'the inventory shows the VNC password'
    # the rescue boot itself still has its console password, kept where libvirt keeps it
    assert vnc_security(_vnc_port(libvirt_conn), VNC_PASSWORD) == ([2], True)

    back = run_module('guest', **vnc_guest)
    assert not back.failed and not back['guest']['rescued'], back.msg
    assert "passwd='%s'" % VNC_PASSWORD in libvirt_conn.lookupByName(VNC_NAME).XMLDesc(secure)
    assert vnc_security(_vnc_port(libvirt_conn), VNC_PASSWORD) == ([2], True)
    assert vnc_security(_vnc_port(libvirt_conn), 'wrong-password')[1] is False
    assert not run_module('guest', **vnc_guest).changed
