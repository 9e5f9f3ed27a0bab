"""The placement filters on hand-made host_info results: who gets the guest, and why nobody does."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.virtops.compute.plugins.filter.placement import FilterModule, pick_host, pick_hosts


def info(name, free, cpus=2, used=0, state='enabled', **extra):
    """A registered host_info result as a loop over hosts leaves it."""
    host = dict(hostname=name, uri='qemu+tcp://%s/system' % name, memory_mb=dict(total=24000, free=free),
                cpu=dict(count=cpus, vcpus_used=used), service_state=state, maintenance_reason=None)
    return dict(host=host, changed=False, **extra)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'pick_host', 'pick_hosts'}


def test_most_free_memory_among_enabled_hosts_wins():
    hosts = [info('a', 4000), info('b', 9000, state='disabled'), info('c', 6000), info('d', 8000, state='maintenance')]
    chosen = pick_host(hosts, dict(name='web1', memory_mb=1024, vcpus=1))
    assert chosen == dict(name='c', uri='qemu+tcp://c/system', memory_mb_free=6000, vcpus_free=8)


def test_ties_go_to_the_first_name():
    assert pick_host([info('z', 5000), info('m', 5000)], dict(memory_mb=1))['name'] == 'm'


def test_reserved_memory_is_subtracted_per_host_and_by_default():
    hosts = [info('a', 6000, reserved_memory_mb=5500), info('b', 3000)]
    assert pick_host(hosts, dict(memory_mb=1024))['name'] == 'b'
    assert pick_host(hosts, dict(memory_mb=256))['name'] == 'b'
    # the filter-wide default applies only where the entry sets none
    assert pick_host(hosts, dict(memory_mb=256), reserved_memory_mb=2900)['name'] == 'a'


def test_vcpus_count_against_the_allocation_ratio():
    hosts = [info('big', 9000, cpus=2, used=8), info('small', 2000, cpus=2, used=0)]
    # big has 2 * 4.0 - 8 = 0 vCPUs left under the default ratio
    assert pick_host(hosts, dict(memory_mb=512, vcpus=2))['name'] == 'small'
    assert pick_host(hosts, dict(memory_mb=512, vcpus=2), vcpu_allocation_ratio=5)['name'] == 'big'
    hosts[0]['vcpu_allocation_ratio'] = 16
    assert pick_host(hosts, dict(memory_mb=512, vcpus=2))['name'] == 'big'


def test_exclude_by_name_or_uri():
    hosts = [info('a', 9000), info('b', 5000), info('c', 1000)]
    assert pick_host(hosts, dict(memory_mb=512), exclude=['a'])['name'] == 'b'
    assert pick_host(hosts, dict(memory_mb=512), exclude=['qemu+tcp://a/system', 'b'])['name'] == 'c'
    assert pick_host(hosts, dict(memory_mb=512), exclude='a')['name'] == 'b'


def test_dict_input_keys_name_the_hosts_and_bare_facts_work():
    hosts = {'compute1': info('x', 3000)['host'], 'compute2': info('y', 7000)}
    assert pick_host(hosts, dict(memory_mb=512))['name'] == 'compute2'
    loop = dict(results=[info('a', 1000), info('b', 2000)], changed=False)
    assert pick_host(loop, dict(memory_mb=512))['name'] == 'b'


def test_unknown_service_state_counts_as_enabled():
    hosts = [info('remote', 5000, state=None)]
    assert pick_host(hosts, dict(memory_mb=512))['name'] == 'remote'


def test_no_room_is_one_sentence_naming_guest_and_hosts():
    hosts = [info('a', 900), info('b', 9000, state='maintenance'), info('c', 9000, state='disabled'),
             info('d', 9000, cpus=1, used=4)]
    with pytest.raises(AnsibleFilterError) as err:
        pick_host(hosts, dict(name='web1', memory_mb=1024, vcpus=1))
    msg = str(err.value)
    assert msg == ("no host has room for guest 'web1' (1024 MiB, 1 vCPUs): a has 900 MiB free, b is in maintenance, "
                   "c is disabled, d has 0 vCPUs free.")


def test_everything_excluded():
    with pytest.raises(AnsibleFilterError, match='every host is excluded'):
        pick_host([info('a', 9000)], dict(name='g', memory_mb=1), exclude=['a'])


def test_bad_inputs_are_named():
    with pytest.raises(AnsibleFilterError, match="guest 'g' has no memory_mb"):
        pick_host([info('a', 9000)], dict(name='g'))
    with pytest.raises(AnsibleFilterError, match="host 'a' has no memory_mb.free"):
        pick_host([dict(name='a')], dict(memory_mb=1))
    with pytest.raises(AnsibleFilterError, match='list or a dict'):
        pick_host('a', dict(memory_mb=1))
    with pytest.raises(AnsibleFilterError, match="guest 'g' memory_mb must be a number"):
        pick_host([info('a', 9000)], dict(name='g', memory_mb='lots'))


def test_pick_hosts_accounts_for_what_it_placed():
    hosts = [info('a', 3000), info('b', 2500)]
    guests = [dict(name='s1', memory_mb=1000), dict(name='big', memory_mb=2000), dict(name='s2', memory_mb=1000)]
    plan = pick_hosts(hosts, guests)
    # big first (a, 3000 -> 1000), then s1 on b (2500 -> 1500), then s2 on b (1500 > 1000 left on a)
    assert [(p['guest'], p['name']) for p in plan] == [('s1', 'b'), ('big', 'a'), ('s2', 'b')]
    assert plan[1] == dict(guest='big', name='a', uri='qemu+tcp://a/system', memory_mb=2000, vcpus=1)


def test_pick_hosts_counts_vcpus_too():
    hosts = [info('a', 9000, cpus=1), info('b', 1000, cpus=1)]
    plan = pick_hosts(hosts, [dict(name='g%d' % i, memory_mb=100, vcpus=2) for i in range(3)])
    assert [p['name'] for p in plan] == ['a', 'a', 'b']
    with pytest.raises(AnsibleFilterError, match="guest 'g4' .*a has 0 vCPUs free, b has 0 vCPUs free"):
        pick_hosts(hosts, [dict(name='g%d' % i, memory_mb=100, vcpus=2) for i in range(5)])


def test_pick_hosts_takes_guest_info_output_and_dicts():
    hosts = [info('a', 3000)]
    guests = [dict(name='lab-x', mem_kb=262144, max_mem_kb=524288, vcpus=1, state='running')]
    assert pick_hosts(hosts, guests) == [dict(guest='lab-x', name='a', uri='qemu+tcp://a/system', memory_mb=256, vcpus=1)]
    assert pick_hosts(hosts, {'w': dict(memory_mb=100)})[0]['guest'] == 'w'
    assert pick_hosts(hosts, []) == []


def test_pick_hosts_fails_when_together_they_do_not_fit():
    with pytest.raises(AnsibleFilterError, match="no host has room for guest 'second' \\(1000 MiB, 1 vCPUs\\): a has 500 MiB free."):
        pick_hosts([info('a', 1500)], [dict(name='first', memory_mb=1000), dict(name='second', memory_mb=1000)])
