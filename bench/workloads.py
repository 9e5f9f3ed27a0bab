"""The benchmark's workloads: the same guests converged by each contender, timed from outside.

Contenders for "converge N guests":
  ours, one task per guest   virtops.compute.guest in a loop (one module run per guest)
  ours, batch                the virtops.compute.guest role (one guests module run for all)
  community.libvirt          virt command=define, then virt state=running, each in a loop
  floor                      bench/floor.py: the libvirt calls alone, in one process,
                             plus the start-up of an empty ansible-playbook run

Every guest is the same: 32 MiB, one vCPU, TCG, a blank 16 MiB qcow2 disk, so it idles in
the BIOS and costs no CPU once started. Ours and the floor make a copy-on-write overlay per
guest; community.libvirt cannot, so its guests read the blank base directly (less work).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO_ROOT, '.venv', 'bin')
POOL = 'virtops-instances'
MEMORY_MB = 32
PREFIX = 'bench-'

VIRT_XML = ("<domain type='qemu'><name>{{ item }}</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><features><acpi/><apic/></features>"
            "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            "<source file='{{ bench_base }}'/><target dev='vda' bus='virtio'/><readonly/></disk>"
            "<serial type='pty'/><console type='pty'/></devices></domain>" % MEMORY_MB)


def names(count):
    return ['%s%03d' % (PREFIX, index) for index in range(count)]


def _env(extra_collections):
    env = dict(os.environ)
    paths = [os.path.join(REPO_ROOT, '.build', 'collections')] + list(extra_collections)
    env['ANSIBLE_COLLECTIONS_PATH'] = ':'.join(paths)
    env['ANSIBLE_CONFIG'] = os.path.join(REPO_ROOT, 'ansible.cfg')
    env['ANSIBLE_NOCOLOR'] = '1'
    env.pop('ANSIBLE_STDOUT_CALLBACK', None)
    return env


def playbook(tasks, extra_vars, extra_collections=()):
    """Seconds an ansible-playbook run of ``tasks`` takes, start-up included; fails loudly."""
    text = '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + tasks
    with tempfile.NamedTemporaryFile('w', suffix='.yml', dir=os.path.join(REPO_ROOT, '.build'), delete=False) as fh:
        fh.write(text)
    with tempfile.NamedTemporaryFile('w', suffix='.json', dir=os.path.join(REPO_ROOT, '.build'), delete=False) as vf:
        json.dump(extra_vars, vf)
    try:
        started = time.monotonic()
        proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), fh.name, '-e', '@' + vf.name],
                              capture_output=True, text=True, env=_env(extra_collections), cwd=REPO_ROOT, check=False)
        elapsed = time.monotonic() - started
    finally:
        os.unlink(fh.name)
        os.unlink(vf.name)
    if proc.returncode != 0:
        raise RuntimeError('benchmark playbook failed:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-2000:]))
    return elapsed, proc.stdout


OURS_PER_TASK = """    - name: One guest per task
      virtops.compute.guest:
        name: "{{ item }}"
        virt_type: qemu
        memory_mb: %d
        image: "{{ bench_base }}"
      loop: "{{ bench_names }}"
""" % MEMORY_MB

VIRT = """    - name: Define
      community.libvirt.virt:
        command: define
        xml: "%s"
      loop: "{{ bench_names }}"
    - name: Start
      community.libvirt.virt:
        name: "{{ item }}"
        state: running
      loop: "{{ bench_names }}"
""" % VIRT_XML

OURS_INFO = """    - name: Every guest's status
      virtops.compute.guest_info:
"""

VIRT_INFO = """    - name: Every guest's status
      community.libvirt.virt:
        command: info
"""

EMPTY = """    - name: Nothing
      ansible.builtin.meta: noop
"""


def batch_items(count, base):
    return [dict(name=name, virt_type='qemu', memory_mb=MEMORY_MB, image=base) for name in names(count)]


def batch_tasks():
    return """    - name: All guests in one task
      ansible.builtin.include_role:
        name: virtops.compute.guest
"""


def floor(action, uri, base, guest_names):
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, 'python'), os.path.join(REPO_ROOT, 'bench', 'floor.py'), action, uri,
                           POOL, base] + list(guest_names), capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('floor %s failed: %s' % (action, proc.stderr[-2000:]))
    return elapsed


def remove_all(uri, base, count):
    floor('remove', uri, base, names(count))


def median(values):
    import statistics
    return statistics.median(values)


def python_version():
    return sys.version.split()[0]
