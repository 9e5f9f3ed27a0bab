"""The README's main job, through ansible-playbook itself."""
import os
import re

import pytest

from lab.kvm import kvm_runs_guests
from lab.runner import REPO_ROOT, run_module, run_playbook

DEMO_GUEST = 'demo-tiny'


@pytest.fixture
def demo_env(lab_libvirt, libvirt_conn, tiny_image):
    run_module('guest', name=DEMO_GUEST, state='absent')
    yield {'LIBVIRT_DEFAULT_URI': lab_libvirt, 'VIRTOPS_TINY_IMAGE': tiny_image.directory}
    run_module('guest', name=DEMO_GUEST, state='absent')


def _recap(out):
    match = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)', out)
    assert match, out[-2000:]
    return dict(ok=int(match.group(1)), changed=int(match.group(2)), failed=int(match.group(3)))


def test_demo_playbook_boots_a_guest_and_prints_facts(demo_env, tiny_image):
    demo = os.path.join(REPO_ROOT, 'playbooks', 'demo.yml')
    result = run_playbook(demo, env=demo_env)
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for line in ('host:', 'uptime:', 'hypervisor:     QEMU', 'virt types:', 'guest:      demo-tiny',
                 'state:      running', 'vnc:        127.0.0.1:', 'virtops-tiny: boot complete'):
        assert line in out, 'demo output lacks %r:\n%s' % (line, out[-3000:])
    # what the demo says is usable is what this machine runs (lab.kvm asks it directly)
    usable = re.search(r'virt types: .* listed, (.*) usable', out)
    assert usable, out[-3000:]
    expected = {'qemu', 'kvm'} if kvm_runs_guests(tiny_image)[0] else {'qemu'}
    assert set(usable.group(1).split(', ')) == expected, usable.group(0)
    assert _recap(out)['changed'] == 1 and _recap(out)['failed'] == 0

    again = run_playbook(demo, env=demo_env)
    assert again.rc == 0, again.stdout[-3000:]
    assert _recap(again.stdout)['changed'] == 0, 'the second demo run changed something'
