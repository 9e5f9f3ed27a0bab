"""The README's main job, through ansible-playbook itself."""
import os

from lab.runner import REPO_ROOT, run_playbook


def test_demo_playbook_prints_the_host_facts(lab_libvirt):
    result = run_playbook(os.path.join(REPO_ROOT, 'playbooks', 'demo.yml'), env={'LIBVIRT_DEFAULT_URI': lab_libvirt})
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for line in ('host:', 'uptime:', 'hypervisor:     QEMU', 'virt types:'):
        assert line in out, 'demo output lacks %r:\n%s' % (line, out[-3000:])
    # This lab's /dev/kvm cannot run guests (LAB.md), so only qemu may be usable.
    assert 'listed, qemu usable' in out
    assert 'failed=0' in out
