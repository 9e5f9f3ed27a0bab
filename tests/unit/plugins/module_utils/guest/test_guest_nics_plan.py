"""The NIC plan: which NICs stay, change in place, are replaced, plugged or unplugged."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest.nics import (
    build_interface, nic_of, normal_nic, plan, planned_list, validate_nics,
)


def _current(*nics):
    return [nic_of(build_interface(normal_nic(nic))) for nic in nics]


def _actions(steps):
    return [step[0] for step in steps]


def test_a_nic_reads_back_as_it_was_asked_for():
    for nic in (dict(network='default', mac='52:54:00:00:00:01', portgroup='web'),
                dict(ovs_bridge='br-int', vlan=20, mac='52:54:00:00:00:02', filter='web', filter_params={'IP': '10.0.0.2'}),
                dict(bridge='br0', model='e1000', mac='52:54:00:00:00:03'),
                dict(user=True, mac='52:54:00:00:00:04')):
        assert nic_of(build_interface(normal_nic(nic))) == normal_nic(nic)


def test_nics_without_mac_match_by_order_and_keep_libvirts_mac():
    current = _current(dict(network='a', mac='52:54:00:00:00:01'), dict(network='b', mac='52:54:00:00:00:02'))
    steps = plan(current, [normal_nic(dict(network='a')), normal_nic(dict(network='b'))])
    assert _actions(steps) == ['keep', 'keep']
    assert [nic['mac'] for nic in planned_list(steps)] == ['52:54:00:00:00:01', '52:54:00:00:00:02']


def test_added_removed_changed_and_replaced():
    current = _current(dict(network='a', mac='52:54:00:00:00:01'), dict(network='b', mac='52:54:00:00:00:02'),
                       dict(network='c', mac='52:54:00:00:00:03'))
    wanted = [normal_nic(dict(network='a', mac='52:54:00:00:00:01', filter='web')),
              normal_nic(dict(network='c', mac='52:54:00:00:00:03', model='e1000')),
              normal_nic(dict(user=True))]
    steps = plan(current, wanted)
    # the NIC without a MAC takes the place of the one left unmatched, b, rather than adding a fourth
    assert _actions(steps) == ['update', 'replace', 'replace']
    assert steps[-1][1]['mac'] == '52:54:00:00:00:02' and steps[-1][2]['kind'] == 'user'


def test_a_nic_dropped_from_the_list_is_detached():
    current = _current(dict(network='a', mac='52:54:00:00:00:01'), dict(network='b', mac='52:54:00:00:00:02'))
    steps = plan(current, [normal_nic(dict(network='b', mac='52:54:00:00:00:02'))])
    assert _actions(steps) == ['keep', 'detach'] and steps[1][1]['mac'] == '52:54:00:00:00:01'


def test_an_extra_nic_is_attached():
    steps = plan(_current(dict(network='a', mac='52:54:00:00:00:01')),
                 [normal_nic(dict(network='a')), normal_nic(dict(network='a'))])
    assert _actions(steps) == ['keep', 'attach']


@pytest.mark.parametrize('nic, words', [
    (dict(network='a', mac='52:54:00:00:00'), 'not a MAC'),
    (dict(network='a', mac='03:54:00:00:00:01'), 'multicast'),
    (dict(network='a', bridge='b'), 'exactly one'),
    (dict(), 'exactly one'),
    (dict(bridge='br0', vlan=10), 'vlan needs'),
    (dict(network='a', vlan=0), '1-4094'),
    (dict(bridge='br0', portgroup='x'), 'portgroup needs'),
    (dict(network='a', filter_params={'IP': '1.2.3.4'}), 'filter_params needs'),
])
def test_bad_nics_are_named(nic, words):
    with pytest.raises(VirtopsError) as err:
        validate_nics("guest 'g'", [nic])
    assert words in str(err.value) and 'nics[0]' in str(err.value)


def test_a_mac_used_twice_is_refused():
    with pytest.raises(VirtopsError, match='already used by nics'):
        validate_nics("guest 'g'", [dict(network='a', mac='52:54:00:00:00:01'), dict(network='b', mac='52:54:00:00:00:01')])
