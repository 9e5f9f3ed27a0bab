"""Many guests in one task: the guests module and the guest role that uses it."""
import json
import re

import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module, run_playbook

NAMES = ['lab-gr-batch-%d' % index for index in range(3)]

ROLE_PLAY = """
- name: Converge the batch through the role
  hosts: localhost
  gather_facts: false
  roles:
    - role: virtops.compute.guest
"""


@pytest.fixture(scope='module')
def items(libvirt_conn, tiny_image):
    made = [dict(name=name, virt_type='qemu', memory_mb=96, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                 cmdline=tiny_image.cmdline, graphics=[dict(type='vnc', password='b4tchPw')]) for name in NAMES]
    run_module('guests', guests=[dict(name=name, state='absent') for name in NAMES])
    yield made
    run_module('guests', guests=[dict(name=name, state='absent') for name in NAMES])


def mine(conn):
    """Only this file's objects: other sessions share the lab and change theirs meanwhile."""
    return dict((key, value) for key, value in libvirt_snapshot(conn).items() if 'lab-gr-batch' in key)


def _recap(out):
    match = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)', out)
    assert match, out[-2000:]
    return dict(changed=int(match.group(2)), failed=int(match.group(3)))


def test_check_mode_first_changes_nothing(libvirt_conn, items):
    before = mine(libvirt_conn)
    result = run_module('guests', check=True, guests=items)
    assert not result.failed, result.msg
    assert result.changed and result['summary'] == dict(total=3, changed=3, failed=0)
    assert mine(libvirt_conn) == before


def test_role_converges_all_in_one_task_then_is_a_no_op(libvirt_conn, items):
    first = run_playbook(ROLE_PLAY, extra_vars=dict(guests=items))
    assert first.rc == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert _recap(first.stdout)['changed'] == 1, 'one task should have done the work'
    assert '3 guests: 3 changed' in first.stdout
    assert 'b4tchPw' not in first.stdout
    for name in NAMES:
        assert libvirt_conn.lookupByName(name).isActive()
    again = run_playbook(ROLE_PLAY, extra_vars=dict(guests=items))
    assert again.rc == 0 and _recap(again.stdout)['changed'] == 0, again.stdout[-2000:]
    assert '3 guests: 0 changed' in again.stdout


def test_one_bad_guest_fails_the_task_and_the_others_converge(libvirt_conn, items):
    wanted = [dict(items[0], state='paused'), dict(name='lab-gr-batch-bad', image='/nonexistent/base.qcow2'), items[1]]
    result = run_module('guests', guests=wanted)
    assert result.failed
    assert_one_sentence(result.msg, '1 of 3 guests failed', 'lab-gr-batch-bad', '/nonexistent/base.qcow2')
    assert [entry.get('failed', False) for entry in result['guests']] == [False, True, False]
    assert libvirt_conn.lookupByName(NAMES[0]).state()[0] == 3       # paused, although a sibling failed
    assert run_module('guests', guests=[items[0]]).changed


@pytest.mark.parametrize('guests, words', [
    ([dict(image='/x.qcow2')], ['guests[0]', 'name']),
    ([dict(name='lab-gr-batch-x', vcpus='many')], ['guests[0]', 'lab-gr-batch-x', 'vcpus']),
    ([dict(name='lab-gr-batch-x', state='gone')], ['guests[0]', 'state']),
    ([dict(name='lab-gr-batch-x'), dict(name='lab-gr-batch-x')], ['guests[1]', 'lab-gr-batch-x', 'guests[0]']),
    (['lab-gr-batch-x'], ['guests[0]', 'dictionary']),
], ids=['no name', 'wrong type', 'bad choice', 'twice', 'not a dict'])
def test_bad_items_are_refused_before_anything_changes(libvirt_conn, items, guests, words):
    before = mine(libvirt_conn)
    result = run_module('guests', guests=guests + [items[2]])
    assert result.failed
    assert_one_sentence(result.msg, *words)
    assert mine(libvirt_conn) == before
    assert 'b4tchPw' not in json.dumps(result.data)
