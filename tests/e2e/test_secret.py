"""The secret module against libvirt: private values, idempotent through the digest, never printed."""
import base64
import hashlib
import os

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module, run_playbook

from ansible_collections.virtops.compute.plugins.module_utils.model.secret import Secret

USAGE_ID = 'iqn.2026-11.lab.virtops:secret-test'
VALUE = 'Chap-Secret-42'


@pytest.fixture
def clean(libvirt_conn):
    def remove():
        try:
            libvirt_conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, USAGE_ID).undefine()
        except libvirt.libvirtError:
            pass
    remove()
    yield
    remove()


def test_secret_lifecycle(libvirt_conn, clean):
    wanted = dict(usage='iscsi', usage_id=USAGE_ID, value=VALUE, description='lab CHAP')
    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('secret', check=True, **wanted)
    assert not checked.failed and checked.changed and libvirt_snapshot(libvirt_conn) == before
    made = run_module('secret', diff=True, **wanted)
    assert not made.failed and made['changes'] == ['created', 'value'], made.msg
    assert VALUE not in repr(made.data)
    secret = libvirt_conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, USAGE_ID)
    assert "private='yes'" in secret.XMLDesc(0) and VALUE not in secret.XMLDesc(0)
    with pytest.raises(libvirt.libvirtError):
        secret.value(0)     # private: not even root reads it back through the API
    assert made['secret']['description'] == 'lab CHAP' and made['secret']['value_known']
    assert not run_module('secret', **wanted).changed
    rotated = run_module('secret', **(wanted | {'value': VALUE + '!'}))
    assert rotated.changed and rotated['changes'] == ['value']
    assert not run_module('secret', **(wanted | {'value': VALUE + '!'})).changed
    assert run_module('secret', **(wanted | {'value': VALUE + '!', 'description': 'renamed'}))['changes'] == ['description']
    gone = run_module('secret', usage='iscsi', usage_id=USAGE_ID, state='absent')
    assert gone.changed and not run_module('secret', usage='iscsi', usage_id=USAGE_ID, state='absent').changed


def test_value_is_set_in_libvirt(libvirt_conn, clean):
    """A non-private secret made outside the module lets the test read what the module stored."""
    xml = "<secret ephemeral='no' private='no'><usage type='iscsi'><target>%s</target></usage></secret>" % USAGE_ID
    libvirt_conn.secretDefineXML(xml, 0)
    result = run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE)
    assert result.changed and result['changes'] == ['value']
    secret = libvirt_conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, USAGE_ID)
    assert secret.value(0) == VALUE.encode()
    assert not run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE).changed
    assert base64.b64encode(VALUE.encode()).decode() not in repr(result.data)


def test_value_stays_out_of_verbose_output(libvirt_conn, clean):
    play = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - virtops.compute.secret: {usage: iscsi, usage_id: "%s", value: "%s"}
""" % (USAGE_ID, VALUE), args=['-vvv', '--diff'])
    assert play.rc == 0, play.stdout[-2000:]
    assert VALUE not in play.stdout + play.stderr


@pytest.mark.parametrize('params, words', [
    (dict(usage='iscsi', usage_id=USAGE_ID), [USAGE_ID, 'needs a value']),
    (dict(usage='iscsi', usage_id=' ', value='x'), ['usage_id']),
])
def test_bad_input(libvirt_conn, clean, params, words):
    before = libvirt_snapshot(libvirt_conn)
    result = run_module('secret', **params)
    assert result.failed
    assert_one_sentence(result.msg, *words)
    assert libvirt_snapshot(libvirt_conn) == before


SECRETS_DIR = '/etc/libvirt/secrets'


def _secret(conn):
    return conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_ISCSI, USAGE_ID)


def _stored_value(conn):
    """The value libvirtd keeps on the host for the secret (private secrets too), read as root from its file."""
    path = '%s/%s.base64' % (SECRETS_DIR, _secret(conn).UUIDString())
    assert os.path.isfile(path), 'libvirtd keeps no value file at %s: the test has to find it elsewhere' % path
    with open(path) as handle:
        return base64.b64decode(handle.read())


def test_the_digest_is_a_slow_salted_kdf_not_a_hash(libvirt_conn, clean):
    """A weak CHAP password must not fall to an offline search of the readable description."""
    weak = 'pw1234'
    made = run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=weak, description='lab CHAP')
    assert not made.failed, made.msg
    description = Secret.from_xml(_secret(libvirt_conn).XMLDesc(0)).description
    assert description.startswith('lab CHAP [virtops-digest:scrypt:'), description
    salt, stored = description.rstrip(']').split(':')[-2:]
    for guess in (weak, salt + ':' + weak, weak + salt):
        assert hashlib.sha256(guess.encode()).hexdigest() != stored
    assert _stored_value(libvirt_conn) == weak.encode()
    assert not run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=weak, description='lab CHAP').changed


def test_a_description_of_the_older_format_means_value_unknown(libvirt_conn, clean):
    salt = '0123456789abcdef'
    old_tag = '[virtops-digest:sha256:%s:%s]' % (salt, hashlib.sha256((salt + ':' + VALUE).encode()).hexdigest())
    xml = ("<secret ephemeral='no' private='yes'><description>lab CHAP %s</description>"
           "<usage type='iscsi'><target>%s</target></usage></secret>" % (old_tag, USAGE_ID))
    libvirt_conn.secretDefineXML(xml, 0).setValue(b'an older value', 0)
    result = run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE)
    assert not result.failed and result['changes'] == ['value'], result.data
    assert _stored_value(libvirt_conn) == VALUE.encode()
    description = Secret.from_xml(_secret(libvirt_conn).XMLDesc(0)).description
    assert description.startswith('lab CHAP [virtops-digest:scrypt:') and 'sha256' not in description
    assert not run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE).changed


def test_a_failed_set_value_is_retried_by_the_next_run(libvirt_conn, clean):
    """libvirtd cannot store the new value (its value file is made a directory): the run fails, and the next run,
    with libvirtd able to write again, still sees the difference and stores the value."""
    assert not run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE).failed
    uuid = _secret(libvirt_conn).UUIDString()
    value_file = '%s/%s.base64' % (SECRETS_DIR, uuid)
    assert _stored_value(libvirt_conn) == VALUE.encode()
    os.unlink(value_file)
    os.mkdir(value_file)
    try:
        failed = run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE + '-rotated')
        assert failed.failed, failed.data
        assert_one_sentence(failed.msg, USAGE_ID, 'refused')
        assert VALUE not in failed.msg
    finally:
        os.rmdir(value_file)
        if os.path.exists(value_file + '.new'):
            os.unlink(value_file + '.new')
    again = run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE + '-rotated')
    assert not again.failed and again.changed and again['changes'] == ['value'], again.data
    assert _stored_value(libvirt_conn) == (VALUE + '-rotated').encode()
    assert not run_module('secret', usage='iscsi', usage_id=USAGE_ID, value=VALUE + '-rotated').changed
