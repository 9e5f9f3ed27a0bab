"""The virt type a guest gets, and the per-host cache of the probe behind it (a fake connection and probe:
what the probe finds on real hosts is the e2e tests' business, here only the choice and the cache's rules)."""
import os
import stat

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.host import virt_types

WHERE = "guest 'web1'"
WORKS = {'usable': True, 'seconds': 0.4}
HANGS = {'usable': False, 'seconds': 10.0, 'reason': 'the probe guest printed nothing within 10 seconds'}


# ---------------------------------------------------------------- the choice

def test_kvm_that_works_is_the_default():
    probes = {'qemu': WORKS, 'kvm': WORKS}
    assert virt_types.choose(None, ['qemu', 'kvm'], probes, WHERE) == 'kvm'
    assert virt_types.why_not_better('kvm', ['qemu', 'kvm'], probes) == ''
    # asked for, both are fine
    assert virt_types.choose('qemu', ['qemu', 'kvm'], probes, WHERE) == 'qemu'
    assert virt_types.choose('kvm', ['qemu', 'kvm'], probes, WHERE) == 'kvm'


def test_kvm_listed_but_unusable_gives_qemu_and_says_why():
    probes = {'qemu': WORKS, 'kvm': HANGS}
    assert virt_types.choose(None, ['qemu', 'kvm'], probes, WHERE) == 'qemu'
    why = virt_types.why_not_better('qemu', ['qemu', 'kvm'], probes)
    assert why == 'kvm is listed but does not run guests here: the probe guest printed nothing within 10 seconds'


def test_kvm_listed_but_unusable_is_refused_when_asked_for_naming_what_runs():
    with pytest.raises(VirtopsError) as raised:
        virt_types.choose('kvm', ['qemu', 'kvm'], {'qemu': WORKS, 'kvm': HANGS}, WHERE)
    msg = str(raised.value)
    assert msg.startswith("guest 'web1': virt_type kvm is listed by this host but does not run guests there")
    assert 'printed nothing within 10 seconds' in msg and 'it runs qemu' in msg and msg.endswith('.')


def test_kvm_absent_gives_qemu_and_kvm_asked_for_is_refused():
    probes = {'qemu': WORKS}
    assert virt_types.choose(None, ['qemu'], probes, WHERE) == 'qemu'
    assert virt_types.why_not_better('qemu', ['qemu'], probes) == ''
    with pytest.raises(VirtopsError, match=r"virt_type kvm is not offered by this host; it runs qemu \("):
        virt_types.choose('kvm', ['qemu'], probes, WHERE)


def test_nothing_that_runs_is_one_sentence_with_every_reason():
    probes = {'qemu': dict(HANGS), 'kvm': dict(HANGS, reason='the probe guest did not start: permission denied')}
    with pytest.raises(VirtopsError) as raised:
        virt_types.choose(None, ['qemu', 'kvm'], probes, WHERE)
    msg = str(raised.value)
    assert 'no virt type runs guests on this host' in msg and 'permission denied' in msg and 'qemu: the probe' in msg
    with pytest.raises(VirtopsError, match='virt_type qemu does not run guests on this host, and no other type'):
        virt_types.choose('qemu', ['qemu', 'kvm'], probes, WHERE)


# ---------------------------------------------------------------- when an entry still holds

IDENTITY = dict(format=virt_types.CACHE_FORMAT, host_uuid='68a69bd9-16f7-4543-bd79-f340e6ae91bf', arch='x86_64',
                available=['qemu', 'kvm'], hypervisor_version=7002000, libvirt_version=9000000)


def _entry(**changes):
    return dict(dict(IDENTITY, boot_id='b1', uptime_seconds=1000.0, probed_at=5000.0, probes={'qemu': WORKS}), **changes)


def test_local_entry_holds_until_the_boot_id_changes():
    now = dict(IDENTITY, boot_id='b1', uptime_seconds=10.0)      # the boot id decides, not the uptime
    assert virt_types.still_valid(_entry(), now, now=9000.0)
    assert not virt_types.still_valid(_entry(), dict(now, boot_id='b2'), now=9000.0)


@pytest.mark.parametrize('field, value', [('hypervisor_version', 8000000), ('libvirt_version', 9001000),
                                          ('available', ['qemu']), ('host_uuid', 'another'), ('format', 0)])
def test_an_upgrade_or_another_host_means_probing_again(field, value):
    now = dict(IDENTITY, boot_id='b1', uptime_seconds=5000.0)
    assert virt_types.still_valid(_entry(), now, now=9000.0)
    assert not virt_types.still_valid(_entry(), dict(now, **{field: value}), now=9000.0)


def test_remote_entry_holds_while_the_uptime_keeps_pace_with_the_clock():
    entry = _entry(boot_id=None)
    # 4000 s later, the host's CPU-time uptime grew by 3990 s: the same boot
    assert virt_types.still_valid(entry, dict(IDENTITY, boot_id=None, uptime_seconds=4990.0), now=9000.0)
    # rebooted 600 s ago: its uptime starts again at zero
    assert not virt_types.still_valid(entry, dict(IDENTITY, boot_id=None, uptime_seconds=600.0), now=9000.0)
    # rebooted early and has run longer since than before the probe: still less than the clock moved on
    assert not virt_types.still_valid(entry, dict(IDENTITY, boot_id=None, uptime_seconds=3500.0), now=9000.0)
    # a clock that went backwards proves nothing
    assert not virt_types.still_valid(entry, dict(IDENTITY, boot_id=None, uptime_seconds=1000.0), now=4000.0)


def test_broken_entries_never_hold():
    now = dict(IDENTITY, boot_id=None, uptime_seconds=5000.0)
    assert not virt_types.still_valid(None, now, now=9000.0)
    assert not virt_types.still_valid('text', now, now=9000.0)
    assert not virt_types.still_valid(dict(_entry(boot_id=None), probes=None), now, now=9000.0)
    assert not virt_types.still_valid(dict(_entry(boot_id=None), probed_at='soon'), now, now=9000.0)


# ---------------------------------------------------------------- the cache through a fake host

CAPS = """<capabilities><host><uuid>%s</uuid><cpu><arch>x86_64</arch></cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
</capabilities>"""


class FakeHost:
    """The libvirt calls the cache makes: capabilities, versions, CPU times (uptime = busy + idle over CPUs)."""

    def __init__(self, uuid='host-a', qemu=7002000, uptime=1000.0):
        self.uuid, self.qemu, self.uptime = uuid, qemu, uptime

    def getCapabilities(self):
        return CAPS % self.uuid

    def getVersion(self):
        return self.qemu

    def getLibVersion(self):
        return 9000000

    def getInfo(self):
        return ['x86_64', 24000, 2, 2000, 1, 1, 2, 1]

    def getCPUStats(self, _cpu):
        return {'kernel': 0, 'user': 0, 'idle': int(self.uptime * 2 * 1e9), 'iowait': 0}


class FakeProbe:
    def __init__(self, results):
        self.results = list(results)
        self.calls = []

    def __call__(self, conn, virt_types_listed, arch, timeout, log):
        self.calls.append(timeout)
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


@pytest.fixture
def probe(monkeypatch):
    def install(*results):
        fake = FakeProbe(results)
        monkeypatch.setattr(virt_types.virt_probe, 'probe_virt_types', fake)
        return fake
    return install


def test_probed_once_then_read_from_a_root_only_file(tmp_path, probe):
    fake = probe({'qemu': WORKS, 'kvm': HANGS})
    host = FakeHost()
    directory = str(tmp_path / 'cache')
    first = virt_types.usable_virt_types(host, 'qemu+tcp://cn1/system', directory=directory, clock=lambda: 5000.0)
    assert first == (['qemu', 'kvm'], {'qemu': WORKS, 'kvm': HANGS}, False)
    host.uptime += 60
    again = virt_types.usable_virt_types(host, 'qemu+tcp://cn1/system', directory=directory, clock=lambda: 5060.0)
    assert again == (['qemu', 'kvm'], {'qemu': WORKS, 'kvm': HANGS}, True)
    assert fake.calls == [virt_types.PROBE_TIMEOUT]
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(directory, 'host-a.json')).st_mode) == 0o600
    assert os.listdir(directory) == ['host-a.json']      # no temporary file left behind


def test_a_qemu_upgrade_a_reboot_and_another_host_each_probe_again(tmp_path, probe):
    fake = probe({'qemu': WORKS, 'kvm': WORKS})
    directory = str(tmp_path)
    virt_types.usable_virt_types(FakeHost(), 'qemu+tcp://cn1/system', directory=directory, clock=lambda: 5000.0)
    assert virt_types.usable_virt_types(FakeHost(qemu=8000000, uptime=1010.0), 'qemu+tcp://cn1/system',
                                        directory=directory, clock=lambda: 5010.0)[2] is False
    assert virt_types.usable_virt_types(FakeHost(qemu=8000000, uptime=5.0), 'qemu+tcp://cn1/system',
                                        directory=directory, clock=lambda: 5020.0)[2] is False
    assert virt_types.usable_virt_types(FakeHost(uuid='host-b'), 'qemu+tcp://cn2/system',
                                        directory=directory, clock=lambda: 5030.0)[2] is False
    assert len(fake.calls) == 4
    assert sorted(os.listdir(directory)) == ['host-a.json', 'host-b.json']


def test_a_probe_where_nothing_booted_is_tried_again_slower_and_not_kept(tmp_path, probe):
    nothing = {'qemu': HANGS, 'kvm': HANGS}
    fake = probe(nothing, nothing)
    available, probes, cached = virt_types.usable_virt_types(FakeHost(), 'qemu+tcp://cn1/system',
                                                             directory=str(tmp_path), clock=lambda: 5000.0)
    assert probes == nothing and not cached
    assert fake.calls == [virt_types.PROBE_TIMEOUT, virt_types.RETRY_TIMEOUT]
    assert os.listdir(str(tmp_path)) == []


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, probe):
    probe({'qemu': WORKS})
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    result = virt_types.usable_virt_types(FakeHost(), 'qemu+tcp://cn1/system', directory=str(blocker / 'cache'),
                                          clock=lambda: 5000.0)
    assert result[1] == {'qemu': WORKS}


def test_one_probe_per_run_for_all_the_workers_of_a_batch(tmp_path, probe, monkeypatch):
    fake = probe({'qemu': WORKS})
    monkeypatch.setattr(virt_types, 'cache_dir', lambda: str(tmp_path))
    host_cache = {}
    first = virt_types.for_run(FakeHost(), 'qemu+tcp://cn1/system', host_cache)
    os.unlink(str(tmp_path / 'host-a.json'))
    assert virt_types.for_run(FakeHost(), 'qemu+tcp://cn1/system', host_cache) is first
    assert len(fake.calls) == 1
