"""Secret properties: every usage type, the usage id helper, valid XML, a real define."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError
from ansible_collections.virtops.compute.plugins.module_utils.model.secret import Secret

ISCSI_SECRET = """<secret ephemeral='no' private='yes'>
  <uuid>5c1a9e6a-3c2b-4f7e-9b8d-0e1f2a3b4c5d</uuid>
  <description>CHAP secret for iqn.2026-01.org.example:storage</description>
  <usage type='iscsi'>
    <target>virtops-chap-storage</target>
  </usage>
</secret>"""

VOLUME_SECRET = """<secret ephemeral='no' private='no'>
  <uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid>
  <usage type='volume'>
    <volume>/var/lib/libvirt/images/encrypted.qcow2</volume>
  </usage>
</secret>"""

CEPH_SECRET = """<secret ephemeral='yes' private='yes'>
  <uuid>2ec115d7-3a88-3ceb-bc12-0ac909a6fd87</uuid>
  <usage type='ceph'>
    <name>client.admin secret</name>
  </usage>
  <future-field>x</future-field>
</secret>"""


@pytest.mark.parametrize('text', [ISCSI_SECRET, VOLUME_SECRET, CEPH_SECRET], ids=['iscsi', 'volume', 'ceph'])
def test_round_trip_is_lossless(lossless, text):
    lossless(Secret, text)


def test_reads_every_usage_type():
    iscsi = Secret.from_xml(ISCSI_SECRET)
    assert (iscsi.ephemeral, iscsi.private, iscsi.uuid) == (False, True, '5c1a9e6a-3c2b-4f7e-9b8d-0e1f2a3b4c5d')
    assert (iscsi.description, iscsi.usage_type, iscsi.usage_target, iscsi.usage_id) == (
        'CHAP secret for iqn.2026-01.org.example:storage', 'iscsi', 'virtops-chap-storage', 'virtops-chap-storage')
    volume = Secret.from_xml(VOLUME_SECRET)
    path = '/var/lib/libvirt/images/encrypted.qcow2'
    assert (volume.usage_type, volume.usage_volume, volume.usage_id) == ('volume', path, path)
    ceph = Secret.from_xml(CEPH_SECRET)
    assert (ceph.ephemeral, ceph.usage_type, ceph.usage_name, ceph.usage_id) == (True, 'ceph', 'client.admin secret', 'client.admin secret')
    assert Secret().usage_id is None


def test_set_usage_replaces_the_whole_usage():
    secret = Secret.from_xml(ISCSI_SECRET)
    secret.set_usage('ceph', 'client.x')
    assert secret.find('usage/target') is None and (secret.usage_type, secret.usage_id) == ('ceph', 'client.x')
    secret.usage_id = 'client.y'
    assert secret.usage_name == 'client.y'
    secret.set_usage(None, None)
    assert secret.find('usage') is None
    with pytest.raises(ModelError, match='set usage_type before usage_id'):
        secret.usage_id = 'x'
    with pytest.raises(ModelError, match='not one of'):
        secret.set_usage('nfs', 'x')
    secret.description = None
    secret.private = None
    assert secret.to_xml(pretty=False) == '<secret ephemeral="no"><uuid>5c1a9e6a-3c2b-4f7e-9b8d-0e1f2a3b4c5d</uuid></secret>'


def build_secret(usage_type, usage_id):
    secret = Secret()
    secret.ephemeral = False
    secret.private = True
    secret.description = 'virtops model test'
    secret.set_usage(usage_type, usage_id)
    return secret


@pytest.mark.parametrize('usage_type, usage_id', [('iscsi', 'virtops-chap'), ('volume', '/var/lib/x.qcow2'), ('ceph', 'client.a')])
def test_built_secrets_validate(validate_xml, usage_type, usage_id):
    validate_xml(build_secret(usage_type, usage_id), 'secret')


def test_libvirt_keeps_what_the_model_built(conn, unique_name, lossless):
    secret = conn.secretDefineXML(build_secret('iscsi', unique_name).to_xml(), 0)
    try:
        read = lossless(Secret, secret.XMLDesc(0))
        assert (read.uuid, read.usage_type, read.usage_id, read.private, read.ephemeral) == (
            secret.UUIDString(), 'iscsi', unique_name, True, False)
        assert read.description == 'virtops model test'
    finally:
        secret.undefine()
