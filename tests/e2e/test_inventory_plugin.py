"""The virtops.compute.libvirt inventory plugin against two real compute hosts: the main host and lab host 1.

Only this file's own guests (lab-inv-*) are asserted on; the hosts may hold other guests meanwhile."""
import json
import os
import time

import pytest

from lab.checks import assert_one_sentence
from lab.inventory_plugin import ansible_inventory, inventory_list, plain, write_inventory
from lab.runner import run_module

MANAGED = 'lab-inv-managed'
STOPPED = 'lab-inv-off'
REMOTE = 'lab-inv-remote'
LATE = 'lab-inv-late'
DEAD_URI = 'qemu+tcp://127.0.0.1:1/system'


def members(listing, group):
    return set(listing.get(group, {}).get('hosts', []))


def group_of(host):
    return 'libvirt_host_' + host.replace('-', '_').replace('.', '_')


@pytest.fixture(scope='module')
def two_hosts(libvirt_conn, lab_host1, tiny_image):
    """The main host with a managed running guest (user NIC, agent) and a stopped one, lab host 1 with a running one."""
    import libvirt
    from lab import guests
    remote = libvirt.open(lab_host1.uri)
    run_module('guest', name=MANAGED, state='absent')
    made = run_module('guest', name=MANAGED, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel,
                      initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, guest_agent=True, nics=[dict(user=True)])
    assert not made.failed, made.msg
    guests.start_guest(libvirt_conn, STOPPED, tiny_image, memory_mib=96)
    libvirt_conn.lookupByName(STOPPED).destroy()
    guests.start_guest(remote, REMOTE, tiny_image, memory_mib=96)
    yield dict(main=libvirt_conn.getHostname(), remote=remote.getHostname(), remote_uri=lab_host1.uri)
    run_module('guest', name=MANAGED, state='absent')
    for conn, name in ((libvirt_conn, STOPPED), (remote, REMOTE), (remote, LATE)):
        guests.remove_guest(conn, name)
        guests.remove_guest_files(name)
    remote.close()


@pytest.fixture(scope='module')
def inventory_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('inventory')


def test_groups_by_compute_host_state_and_metadata(two_hosts, inventory_dir):
    path = write_inventory(inventory_dir, 'two.libvirt.yml', uris=['qemu:///system', two_hosts['remote_uri']],
                           keyed_groups=[dict(key="virtops_metadata.storage_pool | default('unmanaged') | replace('-', '_')",
                                              prefix='pool'), dict(key='virtops_guest.vcpus | string', prefix='vcpus')],
                           groups=dict(tiny="virtops_guest.max_mem_kb <= 163840"),
                           compose=dict(memory_mb='virtops_guest.max_mem_kb // 1024'))
    listing = inventory_list(path)
    main_group, remote_group = group_of(two_hosts['main']), group_of(two_hosts['remote'])
    assert {MANAGED, STOPPED} <= members(listing, main_group) and REMOTE not in members(listing, main_group)
    assert REMOTE in members(listing, remote_group) and MANAGED not in members(listing, remote_group)
    assert {MANAGED, REMOTE} <= members(listing, 'libvirt_state_running')
    assert STOPPED in members(listing, 'libvirt_state_shutdown')
    assert STOPPED not in members(listing, 'libvirt_state_running')
    # only the guest the collection created carries its metadata
    assert MANAGED in members(listing, 'libvirt_managed')
    assert not {STOPPED, REMOTE} & members(listing, 'libvirt_managed')
    assert MANAGED in members(listing, 'pool_virtops_instances')
    assert {STOPPED, REMOTE} <= members(listing, 'pool_unmanaged') and {MANAGED, REMOTE} <= members(listing, 'vcpus_1')
    assert {MANAGED, STOPPED, REMOTE} <= members(listing, 'tiny')

    hostvars = listing['_meta']['hostvars']
    managed = hostvars[MANAGED]
    assert managed['virtops_uri'] == 'qemu:///system' and managed['virtops_compute_host'] == two_hosts['main']
    assert managed['virtops_state'] == 'running' and managed['memory_mb'] == 160
    assert managed['virtops_metadata']['managed_by'] == 'virtops.compute'
    guest = managed['virtops_guest']
    assert guest['name'] == MANAGED and guest['power_state'] == 1 and guest['vcpus'] == 1
    assert guest['uuid'] == run_module('guest_info', name=MANAGED)['guests'][0]['uuid']
    assert guest['interfaces'][0]['type'] == 'user' and 'serial_log' in guest['consoles']
    remote = hostvars[REMOTE]
    assert remote['virtops_uri'] == two_hosts['remote_uri'] and remote['virtops_compute_host'] == two_hosts['remote']
    assert remote['virtops_metadata'] == {} and remote['memory_mb'] == 96
    assert hostvars[STOPPED]['virtops_guest']['state'] == 'shutdown' and hostvars[STOPPED]['virtops_guest']['power_state'] == 4

    graph = ansible_inventory(path, '--graph')
    assert graph.returncode == 0, graph.stderr[-2000:]
    assert '@%s:' % remote_group in graph.stdout and '|--%s' % REMOTE in graph.stdout
    assert '@libvirt_state_shutdown:' in graph.stdout and '@libvirt_managed:' in graph.stdout


def test_ansible_host_is_the_address_the_guest_agent_reports_once_opted_in(two_hosts, inventory_dir):
    """A user-mode NIC has no host network that knows its address: only the agent does, when it is a source."""
    path = write_inventory(inventory_dir, 'main.libvirt.yml', uris=['qemu:///system'], states=['running'],
                           address_sources=['static', 'lease', 'agent'])
    deadline, hostvars = time.time() + 60, {}
    while time.time() < deadline and 'ansible_host' not in hostvars:
        listing = inventory_list(path)
        hostvars = listing['_meta']['hostvars'][MANAGED]
        time.sleep(2)
    assert hostvars.get('ansible_host') == '10.0.2.15', hostvars['virtops_guest']['interfaces']
    assert hostvars['virtops_guest']['interfaces'][0]['addresses'][0]['source'] == 'agent'
    # states: [running] leaves the stopped guest out
    assert STOPPED not in listing['_meta']['hostvars']
    # by default the guest's word is not taken
    default = inventory_list(write_inventory(inventory_dir, 'default.libvirt.yml', uris=['qemu:///system']))
    assert 'ansible_host' not in default['_meta']['hostvars'][MANAGED]


def test_second_run_reads_the_cache_until_it_is_flushed(two_hosts, inventory_dir, tiny_image):
    import libvirt
    from lab import guests
    path = write_inventory(inventory_dir, 'cached.libvirt.yml', uris=[two_hosts['remote_uri']], cache=True,
                           cache_plugin='ansible.builtin.jsonfile',
                           cache_connection=str(inventory_dir / 'cache'), cache_timeout=3600)
    first = inventory_list(path)
    assert REMOTE in first['_meta']['hostvars'] and LATE not in first['_meta']['hostvars']
    assert os.listdir(inventory_dir / 'cache'), 'the first run wrote no cache'
    remote = libvirt.open(two_hosts['remote_uri'])
    try:
        remote.defineXML(guests.domain_xml(LATE, tiny_image.kernel, tiny_image.initrd, tiny_image.cmdline,
                                           guests.serial_log_path(LATE), memory_mib=64))
    finally:
        remote.close()
    cached = inventory_list(path)
    assert LATE not in cached['_meta']['hostvars'], 'the second run asked libvirt instead of reading the cache'
    assert cached == first
    flushed = inventory_list(path, '--flush-cache')
    assert flushed['_meta']['hostvars'][LATE]['virtops_state'] == 'shutdown'
    # the flushed run stored the fresh answer: the next cached run has the late guest too
    assert LATE in inventory_list(path)['_meta']['hostvars']


def test_unreachable_host_fails_the_source_in_one_sentence(two_hosts, inventory_dir):
    path = write_inventory(inventory_dir, 'dead.libvirt.yml', uris=['qemu:///system', DEAD_URI])
    proc = ansible_inventory(path, '--list', env={'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true'})
    assert proc.returncode != 0
    line = next(line for line in proc.stderr.splitlines() if DEAD_URI in line)
    message = line.split('virtops.compute.libvirt inventory: ', 1)[1]
    assert_one_sentence(message, "cannot connect to libvirt at '%s'" % DEAD_URI)


def test_skip_unreachable_warns_and_lists_the_other_hosts(two_hosts, inventory_dir):
    path = write_inventory(inventory_dir, 'skip.libvirt.yml', uris=[DEAD_URI, two_hosts['remote_uri']],
                           skip_unreachable=True)
    proc = ansible_inventory(path, '--list')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert REMOTE in plain(json.loads(proc.stdout))['_meta']['hostvars']
    assert DEAD_URI in proc.stderr and 'WARNING' in proc.stderr
