"""host_info against the real libvirtd and a second lab host.

What KVM can do is not assumed from any one machine: the tests ask the machine they run on (lab.kvm boots the
tiny image under KVM with QEMU directly) and expect host_info's probe to agree, so the suite holds on a host
without /dev/kvm, on one whose /dev/kvm cannot run guests and on a hypervisor host where KVM works."""
import os
import subprocess

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.kvm import kvm_runs_guests
from lab.runner import run_module, run_playbook


def _proc_uptime():
    with open('/proc/uptime') as handle:
        return float(handle.read().split()[0])


@pytest.fixture(scope='module')
def facts(lab_libvirt):
    before = _proc_uptime()
    result = run_module('host_info', uri=lab_libvirt)
    assert not result.failed, result.msg
    # the module reads the uptime at some moment of its run (which probes the virt types first): between these two
    return dict(result['host'], _uptime_window=(before, _proc_uptime()))


def _version(packed):
    return '%d.%d.%d' % (packed // 1000000, (packed // 1000) % 1000, packed % 1000)


def test_reports_what_libvirt_says(facts, libvirt_conn):
    arch, memory_mb, cpus, _mhz, _nodes, sockets, cores, threads = libvirt_conn.getInfo()
    assert facts['hostname'] == libvirt_conn.getHostname()
    assert facts['hypervisor_type'] == 'QEMU'
    assert facts['hypervisor_version'] == _version(libvirt_conn.getVersion())
    assert facts['libvirt_version'] == _version(libvirt_conn.getLibVersion())
    assert facts['cpu']['count'] == cpus
    assert facts['cpu']['arch'] == arch
    assert facts['cpu']['topology'] == dict(sockets=sockets, cores=cores, threads=threads, numa_nodes=_nodes)
    assert facts['memory_mb']['total'] == memory_mb
    assert 0 < facts['memory_mb']['free'] <= memory_mb
    domains = libvirt_conn.listAllDomains(0)
    assert facts['guests'] == dict(total=len(domains), running=sum(1 for d in domains if d.isActive()))
    assert facts['service_state'] in ('enabled', 'disabled', 'maintenance')


def test_uptime_matches_proc_uptime(facts):
    before, after = facts['_uptime_window']
    assert facts['uptime_source'] == 'proc'
    # whole seconds, read between the two readings of /proc/uptime around the module's run
    assert before - 1 <= facts['uptime_seconds'] <= after + 1, (before, facts['uptime_seconds'], after)
    assert ' up ' in ' ' + facts['uptime'] and 'load average' in facts['uptime']


def test_host_ip_is_an_address_of_this_host(facts):
    addresses = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True, text=True, check=True).stdout
    assert facts['host_ip'] and ' %s/' % facts['host_ip'] in addresses


def test_usable_virt_types_found_by_probing(facts, tiny_image):
    virt = facts['virt_types']
    # TCG runs every lab guest of this suite: qemu is always listed and usable
    assert 'qemu' in virt['available'] and 'qemu' in virt['usable']
    assert virt['probe']['qemu']['usable'] is True
    kvm_works, why = kvm_runs_guests(tiny_image)
    if not os.path.exists('/dev/kvm'):
        # libvirt lists kvm only where /dev/kvm exists
        assert 'kvm' not in virt['available'] and 'kvm' not in virt['usable'], virt
        return
    assert 'kvm' in virt['available'], virt
    assert ('kvm' in virt['usable']) == kvm_works, 'host_info says kvm %s usable; booting under KVM: %s (%s)' % (
        '' if 'kvm' in virt['usable'] else 'not', why, virt['probe']['kvm'])
    if not kvm_works:
        assert virt['probe']['kvm']['reason'], virt['probe']['kvm']


def test_probe_leaves_nothing_behind_and_can_be_skipped(lab_libvirt, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    probed = run_module('host_info', uri=lab_libvirt, probe_timeout=3)
    assert not probed.failed, probed.msg
    assert libvirt_snapshot(libvirt_conn) == before
    skipped = run_module('host_info', uri=lab_libvirt, probe=False)
    assert skipped['host']['virt_types']['usable'] is None
    assert skipped['host']['virt_types']['available'] == probed['host']['virt_types']['available']


def test_check_mode_reports_the_same_and_changes_nothing(lab_libvirt, libvirt_conn):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('host_info', uri=lab_libvirt, check=True)
    assert not result.failed and not result.changed
    assert result['host']['virt_types']['usable']
    assert libvirt_snapshot(libvirt_conn) == before


def test_remote_lab_host(lab_host1):
    result = run_module('host_info', uri=lab_host1.uri)
    assert not result.failed, result.msg
    host = result['host']
    assert host['uri'] == lab_host1.uri
    assert host['host_ip'] == '127.0.0.1'
    assert host['uptime_source'] == 'cpu_times'
    with open('/proc/uptime') as handle:
        proc_uptime = float(handle.read().split()[0])
    # The lab host shares this kernel, so its CPU-time estimate must land near the real uptime.
    assert abs(host['uptime_seconds'] - proc_uptime) < max(60, proc_uptime * 0.05)
    assert 'qemu' in host['virt_types']['usable']
    assert host['service_state'] is None


def test_remote_lab_host_is_a_different_host(facts, lab_host1):
    remote = run_module('host_info', uri=lab_host1.uri, probe=False)['host']
    assert remote['host_uuid'] != facts['host_uuid']
    assert remote['hostname'] != facts['hostname']


@pytest.mark.parametrize('uri, names', [
    ('qemu+tcp://127.0.0.1:1/system', 'qemu+tcp://127.0.0.1:1/system'),
    ('nosuchdriver:///system', 'nosuchdriver:///system'),
])
def test_bad_uri_is_one_clear_sentence(uri, names):
    result = run_module('host_info', uri=uri)
    assert result.failed
    assert_one_sentence(result.msg, names)


def test_bad_probe_timeout_is_refused(lab_libvirt):
    result = run_module('host_info', uri=lab_libvirt, probe_timeout=0)
    assert result.failed
    assert_one_sentence(result.msg, 'probe_timeout')


def test_uri_from_module_defaults_group(lab_host1):
    play = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/virtops.compute.libvirt:
      uri: %s
  tasks:
    - virtops.compute.host_info:
        probe: false
      register: compute
    - ansible.builtin.assert:
        that: compute.host.uri == "%s"
''' % (lab_host1.uri, lab_host1.uri)
    result = run_playbook(play)
    assert result.rc == 0, result.stdout + result.stderr


def test_uri_from_environment(lab_host1):
    result = run_module('host_info', probe=False, env={'LIBVIRT_DEFAULT_URI': lab_host1.uri})
    assert not result.failed, result.msg
    assert result['host']['uri'] == lab_host1.uri
