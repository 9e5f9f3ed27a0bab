"""Rescue: the guest boots a rescue image with its own root disk beside it, keeps its identity, and comes back
exactly as it was."""
import os
import re
import subprocess

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
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
