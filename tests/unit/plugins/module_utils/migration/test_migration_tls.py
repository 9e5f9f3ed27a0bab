"""The migrate module's tls option becomes libvirt's VIR_MIGRATE_TLS flag, named in the result."""
from ansible_collections.virtops.compute.plugins.module_utils.migration import plan as migration
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

DOMAIN = Domain.from_xml("<domain type='qemu'><name>web1</name><memory>262144</memory><devices>"
                         "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
                         "<source file='/shared/a.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>")


def test_tls_sets_libvirts_flag():
    plan = migration.build_plan(DOMAIN, dict(tls=True), "guest 'web1'")
    assert plan['flags'] & 65536 and 'tls' in migration.flag_names(plan['flags'])


def test_no_tls_by_default():
    plan = migration.build_plan(DOMAIN, dict(), "guest 'web1'")
    assert 'tls' not in migration.flag_names(plan['flags'])
