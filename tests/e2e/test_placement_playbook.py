"""The placement filters in a real play, fed with host_info from two lab hosts run inside them
(tests/lab/inventory.py: ansible_connection=local with an nsenter interpreter)."""
import json
import os
import re

import pytest

from lab.checks import assert_one_sentence
from lab.computes import forget_state
from lab.inventory import write_inventory
from lab.runner import REPO_ROOT, run_playbook

PLAY = """
- name: Read the compute hosts, inside each of them
  hosts: compute
  gather_facts: false
  tasks:
    - name: Set this host's service state
      virtops.compute.host:
        uri: "{{ virtops_uri }}"
        state: "{{ service_states[inventory_hostname] }}"
        reason: placement test
      # lab-host4 is only read: other tests use it too
      when: inventory_hostname in service_states
    - name: Gather facts, local facts included
      ansible.builtin.setup:
        gather_subset: [min]
    - name: Host facts
      virtops.compute.host_info:
        uri: "{{ virtops_uri }}"
        probe: false
      register: compute_info
    - name: Placement entry of this host
      ansible.builtin.set_fact:
        placement_entry: "{{ compute_info | combine({'name': inventory_hostname, 'uri': lab_uri,
                             'reserved_memory_mb': reserved[inventory_hostname] | default(0)}) }}"
    - name: Report the local facts
      ansible.builtin.debug:
        msg: "LOCAL {{ inventory_hostname }} {{ ansible_local.virtops_compute.service_state | default('none') }}"

- name: Place guests
  hosts: localhost
  gather_facts: false
  vars:
    entries: "{{ groups['compute'] | map('extract', hostvars, 'placement_entry') | list }}"
  tasks:
    - name: One guest
      ansible.builtin.debug:
        msg: "CHOSEN {{ entries | virtops.compute.pick_host({'name': 'lab-web', 'memory_mb': 256, 'vcpus': 1}) | to_json }}"
    - name: Two guests together
      ansible.builtin.debug:
        msg: "PLAN {{ entries | virtops.compute.pick_hosts([{'name': 'lab-a', 'memory_mb': 200}, {'name': 'lab-b', 'memory_mb': 200}],
                                                            exclude=exclude) | to_json }}"
"""


@pytest.fixture(scope='module')
def inventory(lab_host3, lab_host4):
    path = os.path.join(REPO_ROOT, '.build', 'lab-placement-inventory.json')
    yield write_inventory(path, [lab_host3, lab_host4])
    os.unlink(path)
    forget_state(lab_host3)


def play(inventory, **extra):
    extra_vars = dict(service_states={}, reserved={}, exclude=[])
    extra_vars.update(extra)
    # JSON results: one line per message, nothing wrapped
    return run_playbook(PLAY, extra_vars=extra_vars, args=['-i', inventory],
                        env={'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json'})


def messages(result):
    return [json.loads(text) for text in re.findall(r'"msg": ("(?:[^"\\]|\\.)*")', result.stdout)]


def marker(result, name):
    found = [msg[len(name) + 1:] for msg in messages(result) if msg.startswith(name + ' ')]
    assert found, result.stdout[-3000:]
    return [json.loads(item) if item.startswith(('{', '[')) else item for item in found]


def test_free_memory_and_reservations_decide(inventory):
    plain = play(inventory)
    assert plain.rc == 0, plain.stdout[-3000:] + plain.stderr[-2000:]
    assert marker(plain, 'CHOSEN')[0]['name'] in ('lab-host3', 'lab-host4')
    # lab-host3 holds all its memory back, whatever this machine has: lab-host4 is the one with room
    full3 = play(inventory, reserved={'lab-host3': 10 ** 7})
    assert full3.rc == 0, full3.stdout[-3000:]
    chosen = marker(full3, 'CHOSEN')[0]
    assert chosen['name'] == 'lab-host4' and chosen['uri'] == 'qemu+tcp://127.0.0.1:16604/system'
    plan = marker(full3, 'PLAN')[0]
    assert [(p['guest'], p['name']) for p in plan] == [('lab-a', 'lab-host4'), ('lab-b', 'lab-host4')]


def test_a_disabled_host_gets_nothing_and_its_local_facts_say_so(inventory):
    result = play(inventory, service_states={'lab-host3': 'disabled'})
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert 'LOCAL lab-host3 disabled' in result.stdout
    assert marker(result, 'CHOSEN')[0]['name'] == 'lab-host4'
    assert {p['name'] for p in marker(result, 'PLAN')[0]} == {'lab-host4'}
    restored = play(inventory, service_states={'lab-host3': 'enabled'})
    assert restored.rc == 0 and 'LOCAL lab-host3 enabled' in restored.stdout


def test_no_room_anywhere_fails_with_one_sentence(inventory):
    result = play(inventory, reserved={'lab-host3': 10 ** 6, 'lab-host4': 10 ** 6})
    assert result.rc != 0
    failures = [msg[msg.index('no host has room'):] for msg in messages(result) if 'no host has room' in msg]
    assert failures, result.stdout[-3000:]
    assert_one_sentence(failures[0], "guest 'lab-web'", 'lab-host3 has 0 MiB free', 'lab-host4 has 0 MiB free')
