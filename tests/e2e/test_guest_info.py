"""guest_info against real tiny guests (the mandatory "guest instance status" row)."""
import time

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import wait_for_log
from lab.runner import run_module

NAME = 'lab-info'
NIC_GUEST = 'lab-info-nic'


@pytest.fixture(scope='module')
def info_guest(libvirt_conn, tiny_image):
    run_module('guest', name=NAME, state='absent')
    result = run_module('guest', name=NAME, virt_type='qemu', memory_mb=160, vcpus=2, kernel=tiny_image.kernel,
                        initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, guest_agent=True)
    assert not result.failed, result.msg
    yield libvirt_conn.lookupByName(NAME)
    run_module('guest', name=NAME, state='absent')


def _one(name=NAME, **kwargs):
    result = run_module('guest_info', name=name, **kwargs)
    assert not result.failed, result.msg
    return result['guests']


def test_status_matches_libvirt(info_guest):
    first = _one()[0]
    assert first['uuid'] == info_guest.UUIDString()
    assert (first['state'], first['power_state']) == ('running', 1)
    assert first['vcpus'] == 2 and first['max_mem_kb'] == 160 * 1024 and first['mem_kb'] > 0
    assert first['firmware'] == 'bios' and first['managed_save'] is False and first['rescued'] is False
    # a running guest's CPU time grows: waited for, however slowly this machine runs it
    deadline = time.monotonic() + 60
    while _one()[0]['cpu_time_ns'] <= first['cpu_time_ns']:
        assert time.monotonic() < deadline, 'the CPU time of a running guest did not grow in 60 s'
        time.sleep(0.5)
    assert first['cpu_time_ns'] > 0
    wait_for_log(first['consoles']['serial_log'], 'virtops-tiny: boot complete')
    assert first['consoles']['serial']['type'] == 'pty' and first['consoles']['serial']['pty'].startswith('/dev/pts/')
    assert 'vnc' not in first['consoles'] and 'spice' not in first['consoles']


def test_paused_guest(info_guest):
    info_guest.suspend()
    try:
        guest = _one()[0]
        assert (guest['state'], guest['power_state'], guest['paused_reason']) == ('paused', 3, 'user')
    finally:
        info_guest.resume()


def test_all_guests_sorted(info_guest):
    result = run_module('guest_info')
    assert not result.failed, result.msg
    names = [guest['name'] for guest in result['guests']]
    assert NAME in names and names == sorted(names)


def test_unknown_guest_is_an_empty_list(info_guest):
    assert _one('lab-no-such-guest') == []


def test_addresses_from_the_guest_agent(libvirt_conn, tiny_image):
    xml = '''<domain type='qemu'><name>%s</name><memory unit='MiB'>160</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>%s</cmdline></os>
      <devices><serial type='pty'/><console type='pty'/>
        <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
        <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
      </devices></domain>''' % (NIC_GUEST, tiny_image.kernel, tiny_image.initrd, tiny_image.cmdline)
    dom = libvirt_conn.createXML(xml, 0)
    try:
        deadline, addresses = time.time() + 90, []
        while time.time() < deadline and not addresses:
            nics = _one(NIC_GUEST)[0]['interfaces']
            addresses = [a['address'] for a in nics[0]['addresses'] if a['family'] == 'ipv4']
            time.sleep(2)
        assert nics[0]['mac'] == '52:54:00:12:34:56' and nics[0]['type'] == 'user'
        assert '10.0.2.15' in addresses, nics
    finally:
        dom.destroy()


def test_check_mode_reads_the_same_and_changes_nothing(libvirt_conn, info_guest):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest_info', check=True, name=NAME)
    assert not result.failed and not result.changed
    assert result['guests'][0]['uuid'] == info_guest.UUIDString()
    assert libvirt_snapshot(libvirt_conn) == before


def test_bad_uri_is_one_sentence():
    result = run_module('guest_info', uri='qemu+tcp://127.0.0.1:1/system')
    assert result.failed
    assert_one_sentence(result.msg, 'qemu+tcp://127.0.0.1:1/system')
