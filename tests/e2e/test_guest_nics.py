"""Guest NICs: launch on a libvirt network, hot-plug and unplug on a running guest, change in place."""
import re
import time

import pytest

from lab.checks import libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-nics'
SERIAL_PORT = 4564
FIRST = dict(network='default', mac='52:54:00:a1:00:01')


@pytest.fixture(scope='module')
def nic_guest(libvirt_conn, lab_default_network, tiny_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=192, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=SERIAL_PORT), nics=[FIRST])
    run_module('guest', name=NAME, state='absent')
    result = run_module('guest', **params)
    assert not result.failed, result.msg
    yield params
    run_module('guest', name=NAME, state='absent')


def _guest_links(timeout=60, expect=None):
    """The guest's own view: its ethN links, waited for until they are ``expect``."""
    deadline = time.time() + timeout
    while True:
        out = serial_shell(SERIAL_PORT, 'ls /sys/class/net')
        # only whole words: kernel messages on the same console can carry 'eth0:'
        links = sorted(set(word for word in out.split() if re.match(r'^eth\d+$', word)))
        if expect is None or links == expect or time.time() > deadline:
            return links
        time.sleep(2)


def _live_macs(conn):
    from xml.etree import ElementTree
    root = ElementTree.fromstring(conn.lookupByName(NAME).XMLDesc(0))
    return [mac.get('address') for mac in root.findall('devices/interface/mac')]


def test_launch_on_a_network_gets_a_lease(nic_guest, libvirt_conn):
    deadline = time.time() + 90
    while time.time() < deadline:
        info = run_module('guest_info', name=NAME)['guests'][0]
        addresses = [a['address'] for a in info['interfaces'][0]['addresses'] if a['family'] == 'ipv4']
        if addresses:
            break
        time.sleep(3)
    assert info['interfaces'][0]['mac'] == FIRST['mac'] and info['interfaces'][0]['source'] == 'default'
    assert addresses and addresses[0].startswith('192.168.122.'), info['interfaces']
    again = run_module('guest', **nic_guest)
    assert not again.failed and not again.changed, again.get('changes')


def test_adding_a_nic_in_check_mode_changes_nothing(nic_guest, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('guest', check=True, **dict(nic_guest, nics=[FIRST, dict(user=True)]))
    assert not result.failed and result.changed and result['changes'] == ['nics']
    assert libvirt_snapshot(libvirt_conn) == before


def test_hot_plug_and_unplug_on_the_running_guest(nic_guest, libvirt_conn):
    boot_id = libvirt_conn.lookupByName(NAME).ID()
    assert _guest_links() == ['eth0']
    two = dict(nic_guest, nics=[FIRST, dict(user=True)])
    added = run_module('guest', diff=True, **two)
    assert not added.failed, added.msg
    assert added.changed and added['changes'] == ['nics'], added
    assert any(action.startswith('attached a NIC') for action in added['actions'])
    assert len(_live_macs(libvirt_conn)) == 2
    assert len(added['diff']['after']['nics']) == 2 and len(added['diff']['before']['nics']) == 1
    assert _guest_links(expect=['eth0', 'eth1']) == ['eth0', 'eth1']
    assert not run_module('guest', **two).changed

    removed = run_module('guest', **nic_guest)
    assert not removed.failed, removed.msg
    assert removed.changed and any(action.startswith('detached NIC') for action in removed['actions'])
    assert _live_macs(libvirt_conn) == [FIRST['mac']]
    assert _guest_links(expect=['eth0']) == ['eth0']
    assert libvirt_conn.lookupByName(NAME).ID() == boot_id, 'the guest was restarted for a NIC change'


def test_changing_a_nic_model_replaces_it_and_keeps_its_mac(nic_guest, libvirt_conn):
    swapped = dict(nic_guest, nics=[dict(FIRST, model='e1000')])
    result = run_module('guest', **swapped)
    assert not result.failed, result.msg
    assert result.changed and _live_macs(libvirt_conn) == [FIRST['mac']]
    from xml.etree import ElementTree
    model = ElementTree.fromstring(libvirt_conn.lookupByName(NAME).XMLDesc(0)).find('devices/interface/model')
    assert model.get('type') == 'e1000'
    assert not run_module('guest', **swapped).changed
    back = run_module('guest', **nic_guest)
    assert not back.failed and back.changed, back.msg


def test_nics_of_a_stopped_guest_change_its_definition(nic_guest, libvirt_conn):
    stopped = dict(nic_guest, state='stopped', shutdown_timeout=20)
    assert not run_module('guest', **stopped).failed
    result = run_module('guest', **dict(stopped, nics=[FIRST, dict(user=True, mac='52:54:00:a1:00:02')]))
    assert not result.failed and result.changed, result.msg
    assert libvirt_conn.lookupByName(NAME).isActive() == 0
    assert _live_macs(libvirt_conn) == [FIRST['mac'], '52:54:00:a1:00:02']
    assert not run_module('guest', **dict(stopped, nics=[FIRST, dict(user=True, mac='52:54:00:a1:00:02')])).changed
    none = run_module('guest', **dict(stopped, nics=[]))
    assert not none.failed and _live_macs(libvirt_conn) == []
