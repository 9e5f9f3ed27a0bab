"""The AWX path: the execution environment's build context and dependencies (ansible-builder), and
playbooks/provision.yml run through ansible-runner the way AWX runs a job."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from lab.runner import COLLECTIONS_ROOT, REPO_ROOT, VENV_BIN, _env, run_module

GUEST = 'lab-awx-1'
TARBALL = 'virtops-compute-%s.tar.gz' % yaml.safe_load(open(os.path.join(REPO_ROOT, 'galaxy.yml')))['version']


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=_env(), timeout=300, check=False)
    assert proc.returncode == 0, '%s failed:\n%s\n%s' % (' '.join(cmd), proc.stdout[-2000:], proc.stderr[-2000:])
    return proc.stdout


def requirement_lines(path):
    return [line.strip() for line in open(path) if line.strip() and not line.startswith('#')]


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('collection')
    run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), REPO_ROOT])
    return out / TARBALL


def ee_definition():
    """The EE definition docs/awx.md shows: the first yaml block after its ee-definition marker."""
    text = open(os.path.join(REPO_ROOT, 'docs', 'awx.md')).read()
    match = re.search(r'<!-- ee-definition.*?-->\s*```yaml\n(.*?)```', text, re.S)
    assert match, 'docs/awx.md lost its EE definition block'
    return match.group(1)


def test_builder_create_writes_a_context_that_installs_the_collection(tarball, tmp_path):
    shutil.copy(tarball, tmp_path)
    (tmp_path / 'execution-environment.yml').write_text(ee_definition())
    run([os.path.join(VENV_BIN, 'ansible-builder'), 'create', '--file', 'execution-environment.yml',
         '--context', 'context', '--output-filename', 'Containerfile'], cwd=tmp_path)
    context = tmp_path / 'context'
    containerfile = (context / 'Containerfile').read_text()
    assert 'ansible-core==2.19.14 ansible-runner==2.4.3' in containerfile
    assert 'COPY _build/collections/ /build/collections/' in containerfile
    assert 'ansible-galaxy collection install' in containerfile
    # the builder stage introspects the installed collections: that is where our deps come in
    assert 'introspect.py introspect' in containerfile and '/output/scripts/install-from-bindep' in containerfile
    assert yaml.safe_load((context / '_build' / 'requirements.yml').read_text()) == {
        'collections': [{'name': '/build/collections/' + TARBALL, 'type': 'file'}]}
    assert 'python3.11-devel [platform:rpm compile]' in (context / '_build' / 'bindep.txt').read_text()
    shipped = context / '_build' / 'collections' / TARBALL
    listing = run(['tar', 'tzf', str(shipped)]).split()
    assert {'meta/execution-environment.yml', 'requirements.txt', 'bindep.txt', 'plugins/inventory/libvirt.py'} <= set(listing)
    python = run(['tar', 'xzf', str(shipped), '-O', 'requirements.txt'])
    system = run(['tar', 'xzf', str(shipped), '-O', 'bindep.txt'])
    assert 'libvirt-python==' in python and 'lxml==' in python
    assert 'libvirt-devel [platform:rpm compile]' in system and 'libvirt-dev [platform:dpkg compile]' in system


def test_introspection_finds_the_collections_python_and_system_deps(tarball, tmp_path):
    run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(tmp_path / 'installed'),
         str(tarball)])
    run([os.path.join(VENV_BIN, 'ansible-builder'), 'introspect', str(tmp_path / 'installed'),
         '--write-pip', str(tmp_path / 'pip.txt'), '--write-bindep', str(tmp_path / 'bindep.txt')])
    tag = '  # from collection virtops.compute'
    python = [line.replace(tag, '') for line in requirement_lines(tmp_path / 'pip.txt')]
    system = [line.replace(tag, '') for line in requirement_lines(tmp_path / 'bindep.txt')]
    assert python == requirement_lines(os.path.join(REPO_ROOT, 'requirements.txt'))
    assert system == requirement_lines(os.path.join(REPO_ROOT, 'bindep.txt'))


def test_bindep_resolves_on_this_debian_machine():
    """bindep itself parses the file and, for this dpkg platform, picks only the Debian names."""
    proc = subprocess.run([os.path.join(VENV_BIN, 'bindep'), '--file', os.path.join(REPO_ROOT, 'bindep.txt'),
                           '--brief', '--list_all', 'newline', 'compile'],
                          capture_output=True, text=True, timeout=60, check=False)
    wanted = set(proc.stdout.split())
    assert proc.returncode == 0 and {'libvirt-dev', 'libvirt0', 'pkg-config', 'gcc', 'qemu-utils'} <= wanted, proc
    assert not {'libvirt-devel', 'libvirt-libs', 'qemu-img'} & wanted


@pytest.fixture
def no_awx_guest(libvirt_conn):
    run_module('guest', name=GUEST, state='absent')
    yield
    run_module('guest', name=GUEST, state='absent')


def test_provision_playbook_through_ansible_runner(libvirt_conn, tiny_image, no_awx_guest, tmp_path):
    import ansible_runner
    result = ansible_runner.run(
        private_data_dir=str(tmp_path),
        project_dir=os.path.join(REPO_ROOT, 'playbooks'),
        playbook='provision.yml',
        inventory={'compute': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                       'ansible_python_interpreter': sys.executable}}}},
        extravars=dict(provision_name_prefix='lab-awx', provision_kernel=tiny_image.kernel,
                       provision_initrd=tiny_image.initrd, provision_cmdline=tiny_image.cmdline,
                       provision_memory_mb=96, provision_virt_type='qemu'),
        # ansible-runner finds ansible-playbook on PATH, as in an execution environment
        envvars={'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS_ROOT, 'ANSIBLE_NOCOLOR': '1',
                 'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', '')},
        quiet=True, timeout=240)
    stdout = result.stdout.read()
    assert (result.rc, result.status) == (0, 'successful'), stdout[-3000:]
    oks = [event for event in result.events if event['event'] == 'runner_on_ok'
           and event['event_data'].get('task_action') == 'virtops.compute.guests']
    assert len(oks) == 1, [event['event'] for event in result.events]
    res = oks[0]['event_data']['res']
    assert res['changed'] and res['summary'] == dict(total=1, changed=1, failed=0)
    assert res['guests'][0]['name'] == GUEST and res['guests'][0]['guest']['state'] == 'running'
    assert oks[0]['event_data']['host'] == 'localhost'
    dom = libvirt_conn.lookupByName(GUEST)
    assert dom.isActive() and dom.UUIDString() == res['guests'][0]['guest']['uuid']

    artifacts = os.path.join(str(tmp_path), 'artifacts', result.config.ident)
    assert '1 guests: 1 changed' in open(os.path.join(artifacts, 'stdout')).read()
    events = [json.load(open(path)) for path in glob.glob(os.path.join(artifacts, 'job_events', '*.json'))]
    assert any(event.get('event') == 'playbook_on_stats' for event in events)
    assert any(event.get('event_data', {}).get('res', {}).get('guests', [{}])[0].get('name') == GUEST
               for event in events if event.get('event') == 'runner_on_ok')
    assert open(os.path.join(artifacts, 'rc')).read().strip() == '0'
    assert open(os.path.join(artifacts, 'status')).read().strip() == 'successful'
