"""The secret module against libvirt: private values, idempotent through the digest, never printed."""
import base64

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module, run_playbook

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
