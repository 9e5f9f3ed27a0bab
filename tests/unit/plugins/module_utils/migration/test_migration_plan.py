"""Planning a migration: flags, copied disks, refusals, and the statistics summary."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.migration import plan as migration
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

WHERE = "guest 'web1'"


def _domain(devices):
    return Domain.from_xml("<domain type='qemu'><name>web1</name><memory>262144</memory><devices>%s</devices></domain>"
                           % devices)


def _file(dev, path, cache='none', extra=''):
    return ("<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='%s'/><source file='%s'/>"
            "<target dev='%s' bus='virtio'/>%s</disk>" % (cache, path, dev, extra))


ISCSI = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='iscsi' "
         "name='iqn.2026-01.lab:t/1'><host name='127.0.0.1' port='3260'/></source><target dev='vdb' bus='virtio'/></disk>")


def _params(**kw):
    base = dict(live=True, copy_storage='none', auto_converge=False, post_copy=False, allow_unsafe=False,
                bandwidth_mib=None, max_downtime_ms=None, timeout=3600, post_copy_after_seconds=None,
                migration_uri=None)
    return base | kw


def test_default_plan_is_live_peer_to_peer_persistent():
    plan = migration.build_plan(_domain(_file('vda', '/shared/a.qcow2')), _params(migration_uri='tcp://10.0.0.2'), WHERE)
    assert migration.flag_names(plan['flags']) == ['live', 'peer2peer', 'persist_dest', 'undefine_source',
                                                   'abort_on_error']
    assert plan['params'] == {'migrate_uri': 'tcp://10.0.0.2'} and plan['copied_disks'] == []


def test_options_become_flags_and_params():
    plan = migration.build_plan(_domain(_file('vda', '/a.qcow2')), _params(
        auto_converge=True, post_copy=True, bandwidth_mib=50, live=True), WHERE)
    names = migration.flag_names(plan['flags'])
    assert 'auto_converge' in names and 'postcopy' in names
    assert plan['params']['bandwidth'] == 50


def test_copy_storage_lists_local_disks_only():
    domain = _domain(_file('vda', '/local/a.qcow2', cache='writeback') + ISCSI
                     + "<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='sda' bus='sata'/>"
                       "<readonly/></disk>")
    plan = migration.build_plan(domain, _params(copy_storage='all'), WHERE)
    assert plan['copied_disks'] == ['vda'] and plan['params']['migrate_disks'] == ['vda']
    assert 'non_shared_disk' in migration.flag_names(plan['flags'])
    inc = migration.build_plan(domain, _params(copy_storage='incremental'), WHERE)
    assert 'non_shared_inc' in migration.flag_names(inc['flags'])


def test_copy_storage_with_only_network_disks_is_refused():
    domain = _domain(ISCSI.replace("dev='vdb'", "dev='vda'"))
    with pytest.raises(VirtopsError, match=r"vda \(iscsi\).*copy_storage none"):
        migration.build_plan(domain, _params(copy_storage='all'), WHERE)
    # shared (network) storage without copying is fine
    assert migration.build_plan(domain, _params(), WHERE)['copied_disks'] == []


def test_cached_disk_left_in_place_needs_allow_unsafe():
    domain = _domain(_file('vda', '/shared/a.qcow2', cache='writeback'))
    with pytest.raises(VirtopsError, match=r"vda \(cache writeback\).*allow_unsafe"):
        migration.build_plan(domain, _params(), WHERE)
    plan = migration.build_plan(domain, _params(allow_unsafe=True), WHERE)
    assert 'unsafe' in migration.flag_names(plan['flags'])
    assert migration.build_plan(domain, _params(copy_storage='all'), WHERE)['unsafe_disks'] == []


@pytest.mark.parametrize('device, named', [
    ("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>",
     'hostdev'),
    ("<filesystem type='mount'><source dir='/srv/share'/><target dir='share'/></filesystem>", "filesystem) '/srv/share'"),
    ("<interface type='hostdev'><source><address type='pci' bus='2' slot='0' function='0'/></source></interface>",
     'interface type hostdev'),
    ("<shmem name='ivshmem0'><model type='ivshmem-plain'/></shmem>", "shmem) 'ivshmem0'"),
])
def test_unmigratable_devices_are_named(device, named):
    with pytest.raises(VirtopsError, match='cannot be migrated') as err:
        migration.build_plan(_domain(device), _params(), WHERE)
    assert named in str(err.value) and str(err.value).startswith(WHERE)


def test_host_devices_and_blockers_are_reported_for_guest_info():
    domain = _domain("<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x1f'"
                     " function='0x2'/></source></hostdev><hostdev mode='subsystem' type='usb'><source>"
                     "<vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>")
    assert migration.host_devices(domain) == ['pci 0000:01:1f.2', 'usb 0x046d:0xc52b']
    assert migration.migration_blockers(domain, 'running') == [
        "a host device passed through (hostdev) 'pci 0000:01:1f.2'",
        "a host device passed through (hostdev) 'usb 0x046d:0xc52b'"]
    plain = _domain(_file('vda', '/shared/a.qcow2'))
    assert migration.host_devices(plain) == [] and migration.migration_blockers(plain, 'paused') == []
    assert migration.migration_blockers(plain, 'suspended') == [
        'its memory is saved to disk (managed save), so there is nothing running to move']
    assert migration.migration_blockers(plain, 'shutdown') == ['it is not running (shutdown)']


@pytest.mark.parametrize('options, field', [
    (dict(bandwidth_mib=0), 'bandwidth_mib'),
    (dict(timeout=-1), 'timeout'),
    (dict(post_copy_after_seconds=5), 'post_copy'),
    (dict(post_copy=True, live=False), 'live'),
    (dict(migration_uri='10.0.0.2'), 'migration_uri'),
])
def test_bad_option_combinations(options, field):
    with pytest.raises(VirtopsError, match=field):
        migration.validate_options(_params(**options), WHERE)


def test_stalled_needs_a_pass_that_did_not_shrink():
    assert not migration.stalled([100, 60])
    assert not migration.stalled([100, 60, 30])
    assert migration.stalled([100, 60, 58])
    assert not migration.stalled([0, 0, 0])


def test_progress_and_mode():
    assert migration.progress_percent({'data_total': 200, 'data_remaining': 50}) == 75
    assert migration.progress_percent({}) == 0
    assert migration.mode_used(True, True, False, False) == 'auto-converge'
    assert migration.mode_used(True, False, False, False) == 'pre-copy'
    assert migration.mode_used(False, False, False, True) == 'paused'
    assert migration.mode_used(True, True, True, True) == 'post-copy'


def test_summary_counts_memory_and_disk():
    stats = {'memory_processed': 300, 'disk_processed': 100, 'data_processed': 400, 'downtime': 42,
             'memory_iteration': 3}
    summary = migration.summarise(stats, 10.0, 12.5, 'pre-copy', migration.MIGRATE_LIVE, ['vda'], switched_at=11.0)
    assert summary['duration_seconds'] == 2.5 and summary['downtime_ms'] == 42
    assert summary['data_transferred_bytes'] == 400 and summary['iterations'] == 3
    assert summary['flags'] == ['live'] and summary['copied_disks'] == ['vda']
    assert summary['post_copy_after_seconds'] == 1.0
    assert migration.summarise({'memory_processed': 5, 'disk_processed': 7}, 0, 1, 'pre-copy', 0,
                               [])['data_transferred_bytes'] == 12


def test_merge_keeps_the_disk_copy_the_destination_never_saw():
    final = migration.merge_stats({'disk_processed': 100, 'memory_processed': 50, 'downtime': None},
                                  {'disk_processed': 0, 'memory_processed': 80, 'downtime': 30})
    assert final == {'disk_processed': 100, 'memory_processed': 80, 'downtime': 30}


def test_allow_unsafe_always_sets_the_flag():
    plan = migration.build_plan(_domain(_file('vda', '/shared/a.qcow2')), _params(allow_unsafe=True), WHERE)
    assert 'unsafe' in migration.flag_names(plan['flags'])
