"""Pure helpers of host_facts: version unpacking, the uptime line, URI addresses, the state file."""
import json

from ansible_collections.virtops.compute.plugins.module_utils.host import facts as host_facts


def test_version_string_unpacks_libvirt_versions():
    assert host_facts.version_string(9000000) == '9.0.0'
    assert host_facts.version_string(7002022) == '7.2.22'


def test_uptime_line_like_uptime():
    assert host_facts.format_uptime_line(10336) == 'up 2:52'
    assert host_facts.format_uptime_line(59 * 60) == 'up 59 min'
    assert host_facts.format_uptime_line(86400 * 3 + 3600 + 120) == 'up 3 days, 1:02'
    assert host_facts.format_uptime_line(86400 + 60) == 'up 1 day, 1 min'
    line = host_facts.format_uptime_line(10336, load=(0.01, 0.11, 0.07))
    assert line == 'up 2:52,  load average: 0.01, 0.11, 0.07'


def test_remote_host_ip_from_uri():
    assert host_facts.remote_host_ip('qemu+tcp://127.0.0.1:16509/system') == '127.0.0.1'
    assert host_facts.remote_host_ip('qemu+ssh://root@127.0.0.1/system') == '127.0.0.1'
    assert host_facts.remote_host_ip('qemu+tcp://[::1]:16509/system') == '::1'


def test_service_state_file(tmp_path):
    assert host_facts.read_service_state(str(tmp_path / 'missing.fact')) == ('enabled', None)
    path = tmp_path / 'virtops_compute.fact'
    path.write_text(json.dumps({'service_state': 'maintenance', 'reason': 'disk swap'}))
    assert host_facts.read_service_state(str(path)) == ('maintenance', 'disk swap')
    path.write_text('not json')
    assert host_facts.read_service_state(str(path)) == ('enabled', None)
