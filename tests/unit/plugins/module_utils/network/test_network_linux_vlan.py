"""The Linux-bridge VLAN plan on a fake /sys/class/net: both kernels (with and without 802.1Q), whichever one the
machine running the tests has (the end-to-end test proves the path its own kernel takes)."""
import os

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.network import linux_vlan

WHERE = "network 'vl10'"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host whose interfaces are directories under tmp_path/net; /proc/net/vlan exists once 8021q is loaded."""
    net = tmp_path / 'net'
    (net / 'trunk0').mkdir(parents=True)
    monkeypatch.setattr(linux_vlan, 'SYS_NET', str(net))
    monkeypatch.setattr(linux_vlan, 'PROC_VLAN', str(tmp_path / 'proc-net-vlan'))
    return tmp_path


def _modprobe(host, works):
    calls = []

    def run_command(argv):
        calls.append(argv)
        if works:
            os.makedirs(str(host / 'proc-net-vlan'), exist_ok=True)
            return 0, '', ''
        return 1, '', 'modprobe: FATAL: Module 8021q not found'
    return run_command, calls


def test_a_kernel_without_8021q_is_one_clear_sentence(host):
    run_command, calls = _modprobe(host, works=False)
    with pytest.raises(VirtopsError) as caught:
        linux_vlan.plan_vlan_bridge(WHERE, 'qemu:///system', 'trunk0', 10, 'br10', run_command)
    assert calls == [['modprobe', '8021q']]
    msg = str(caught.value)
    assert msg.startswith(WHERE) and '802.1Q' in msg and 'trunk0.10' in msg and 'mode ovs' in msg, msg


def test_a_kernel_with_8021q_gets_the_sub_interface_in_a_new_bridge(host):
    run_command, _calls = _modprobe(host, works=True)
    commands = linux_vlan.plan_vlan_bridge(WHERE, 'qemu:///system', 'trunk0', 10, 'br10', run_command)
    assert commands == [['ip', 'link', 'add', 'link', 'trunk0', 'name', 'trunk0.10', 'type', 'vlan', 'id', '10'],
                        ['ip', 'link', 'add', 'name', 'br10', 'type', 'bridge'],
                        ['ip', 'link', 'set', 'trunk0.10', 'master', 'br10'],
                        ['ip', 'link', 'set', 'trunk0.10', 'up'], ['ip', 'link', 'set', 'br10', 'up']]


def test_what_is_in_place_is_not_made_again(host):
    (host / 'proc-net-vlan').mkdir()
    (host / 'net' / 'br10' / 'bridge').mkdir(parents=True)
    (host / 'net' / 'trunk0.10').mkdir()
    os.symlink('../br10', str(host / 'net' / 'trunk0.10' / 'master'))
    assert linux_vlan.plan_vlan_bridge(WHERE, 'qemu:///system', 'trunk0', 10, 'br10', _modprobe(host, True)[0]) == []


@pytest.mark.parametrize('uri, parent, words', [
    ('qemu+ssh://root@compute2/system', 'trunk0', ['must run there with a local uri', 'qemu+ssh://root@compute2']),
    ('qemu:///system', 'nosuch0', ['vlan_parent nosuch0 is not a network interface']),
])
def test_what_cannot_work_is_refused(host, uri, parent, words):
    with pytest.raises(VirtopsError) as caught:
        linux_vlan.plan_vlan_bridge(WHERE, uri, parent, 10, 'br10', _modprobe(host, True)[0])
    assert all(word in str(caught.value) for word in words), str(caught.value)
