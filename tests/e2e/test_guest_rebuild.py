"""Rebuild: a new root disk from another image; identity, volumes and power state kept."""
import os
import re

import libvirt
import pytest

from lab import guests
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-rebuild'
PORT = 4575
MAC = '52:54:00:a1:06:01'
BASE_DIR = '/var/lib/virtops-lab/shared/rebuild'


def _image_with_marker(marker):
    return guests.image_with_marker(BASE_DIR, marker)


def _sector_100(device):
    out = serial_shell(PORT, 'dd if=/dev/%s bs=512 skip=100 count=1 2>/dev/null | head -c 24; echo' % device)
    return out


@pytest.fixture(scope='module')
def rebuild_guest(libvirt_conn, tiny_image):
    os.makedirs(BASE_DIR, exist_ok=True)
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, image=_image_with_marker('image-A-marker'), nics=[dict(user=True, mac=MAC)],
                  serial_console=dict(type='tcp', port=PORT), shutdown_timeout=15)
    run_module('guest', name=NAME, state='absent')
    assert not run_module('guest', **params).failed
    pool = libvirt_conn.storagePoolLookupByName('virtops-instances')
    try:
        pool.storageVolLookupByName('lab-rebuild-data.raw').delete(0)
    except libvirt.libvirtError:
        pass
    pool.createXML("<volume><name>lab-rebuild-data.raw</name><capacity unit='MiB'>16</capacity>"
                   "<target><format type='raw'/></target></volume>", 0)
    attached = run_module('volume_attachment', guest=NAME, target='vdc', serial='vops-rebuild',
                          volume=dict(pool='virtops-instances', name='lab-rebuild-data.raw'))
    assert not attached.failed, attached.msg
    yield params
    run_module('guest', name=NAME, state='absent')
    pool.storageVolLookupByName('lab-rebuild-data.raw').delete(0)


def test_rebuild_keeps_identity_volume_and_power(rebuild_guest, libvirt_conn):
    assert 'image-A-marker' in _sector_100('vda')
    out = serial_shell(PORT, 'grep -l vops-rebuild /sys/block/*/serial')
    data_dev = re.search(r'/sys/block/(\w+)/serial', out).group(1)
    serial_shell(PORT, 'echo volume-data-kept | dd of=/dev/%s bs=512 seek=100 conv=notrunc 2>/dev/null; sync' % data_dev)
    dom = libvirt_conn.lookupByName(NAME)
    uuid = dom.UUIDString()
    image_b = _image_with_marker('image-B-marker')
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('guest_action', check=True, name=NAME, action='rebuild', image=image_b)
    assert not checked.failed and checked.changed and libvirt_snapshot(libvirt_conn) == before

    result = run_module('guest_action', name=NAME, action='rebuild', image=image_b)
    assert not result.failed, result.msg
    assert result['previous_image'].endswith('image-A-marker.qcow2') and result['power_state'] == 'running'
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.UUIDString() == uuid and dom.state()[0] == 1 and MAC in dom.XMLDesc(0)
    assert 'lab-rebuild-data.raw' in dom.XMLDesc(0), 'the attached volume was dropped'
    root = _sector_100('vda')
    assert 'image-B-marker' in root and 'image-A-marker' not in root, root
    out = serial_shell(PORT, 'grep -l vops-rebuild /sys/block/*/serial')
    data_dev = re.search(r'/sys/block/(\w+)/serial', out).group(1)
    assert 'volume-data-kept' in _sector_100(data_dev)


@pytest.mark.parametrize('params, words', [
    (dict(name=NAME, action='rebuild', image='/nonexistent/new.qcow2'), [NAME, '/nonexistent/new.qcow2']),
    (dict(name='lab-rebuild-nobody', action='rebuild', image='/nonexistent/new.qcow2'), ['lab-rebuild-nobody']),
    # refused by the argument spec (required_if), before any guest is looked up: it names the action and the option
    (dict(name=NAME, action='rebuild'), ['rebuild', 'image']),
])
def test_bad_input(rebuild_guest, libvirt_conn, params, words):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_action', **params)
    assert result.failed
    assert_one_sentence(result.msg, *words)
    assert libvirt_snapshot(libvirt_conn) == before
