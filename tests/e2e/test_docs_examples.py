"""Every example of README.md and docs/guide-*.md, run against the lab the way a reader runs it.

For each file, in its order: a fresh work directory (.build/docs-examples/<file>) stands for the reader's project,
the collection is installed there from the tarball ``ansible-galaxy collection build`` makes of this checkout (by
the guide's own ``ansible-galaxy collection install -r requirements.yml`` where it has one), and each block runs
as it is marked (tests/lab/docs_examples.py; how to mark a block: docs/dev/doc-examples.md): files are written,
shell blocks run with bash, playbooks and tasks with ansible-playbook (no ansible.cfg, the guide's inventory or,
without one, ``compute1`` in group ``compute`` as this machine). A block fails the test when it fails, when its
expected output is missing, when a second run it claims idempotent changes something, and when a guest it left
running does not boot: every running guest the file's examples made must show the tiny image's boot marker on its
serial log. Fragments are parsed and their module options and role variables checked against the collection's
own documentation. Afterwards everything the examples made in libvirt is removed (and the file's ``cleanup``
tasks run), and a leftover fails the test.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from lab import boot_disk
from lab import docs_examples as examples
from lab.runner import REPO_ROOT, VENV_BIN, run_module

DOCS = ['README.md'] + sorted(os.path.relpath(path, REPO_ROOT) for path in glob.glob(os.path.join(REPO_ROOT, 'docs', 'guide-*.md')))
WORK_ROOT = os.path.join(REPO_ROOT, '.build', 'docs-examples')
# what the lab images print on their serial console once booted (tiny, and full for the examples that use it)
BOOTED = re.compile(r'virtops-(tiny|full): boot complete')
BOOT_WAIT = 180
PREFIX = 'virtops.compute.'
# LAB_* words that need a lab fixture: requested only by the files that use them
FIXTURE_WORDS = {'LAB_FULL_DIR': 'full_image', 'LAB_ISCSI_PORTAL': 'iscsi_target', 'LAB_ISCSI_IQN': 'iscsi_target', 'LAB_ISCSI_LUN': 'iscsi_target',
                 'LAB_CHAP_USER': 'iscsi_target', 'LAB_CHAP_PASSWORD': 'iscsi_target'}
DEFAULT_INVENTORY = """compute:
  hosts:
    compute1:
      ansible_connection: local
      ansible_python_interpreter: %s
"""


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('dist'))
    subprocess.run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', out, REPO_ROOT],
                   check=True, capture_output=True, env=_clean_env())
    return glob.glob(os.path.join(out, 'virtops-compute-*.tar.gz'))[0]


@pytest.fixture(scope='module')
def lab(tiny_image, tarball, lab_default_network):
    return dict(LAB_BOOT_DISK=boot_disk.tiny_boot_disk(tiny_image), LAB_KERNEL=tiny_image.kernel,
                LAB_INITRD=tiny_image.initrd, LAB_CMDLINE=tiny_image.cmdline, LAB_PYTHON=sys.executable,
                LAB_TARBALL=tarball)


@pytest.fixture(scope='module')
def module_docs():
    names = [PREFIX + os.path.splitext(name)[0] for name in os.listdir(os.path.join(REPO_ROOT, 'plugins', 'modules'))
             if name.endswith('.py') and not name.startswith('_')]
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-doc'), '-t', 'module', '--json'] + names,
                          capture_output=True, text=True, check=True,
                          env=dict(_clean_env(), ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, '.build', 'collections')))
    return json.loads(proc.stdout)


def _role_variables():
    known = {}
    for spec_file in glob.glob(os.path.join(REPO_ROOT, 'roles', '*', 'meta', 'argument_specs.yml')):
        role = spec_file.split(os.sep)[-3]
        with open(spec_file) as handle:
            known[role] = set(yaml.safe_load(handle)['argument_specs']['main'].get('options') or {})
    return known


def _clean_env(**extra):
    """The environment of a reader's shell: no ansible.cfg of this checkout, no test paths, the venv's tools first."""
    env = dict((key, value) for key, value in os.environ.items()
               if not key.startswith(('ANSIBLE_', 'PYTEST', 'VIRTOPS_')) and key != 'PYTHONPATH')
    env.update(PATH=VENV_BIN + os.pathsep + env.get('PATH', ''), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    env.update(extra)
    return env


# ---------------------------------------------------------------- what libvirt holds, before and after

def _objects(conn):
    found = {('domain', dom.name()) for dom in conn.listAllDomains(0)}
    for pool in conn.listAllStoragePools(0):
        found.add(('pool', pool.name()))
        if pool.isActive():
            pool.refresh(0)
            found.update(('volume', '%s/%s' % (pool.name(), vol.name())) for vol in pool.listAllVolumes(0))
    found.update(('network', net.name()) for net in conn.listAllNetworks(0))
    found.update(('secret', secret.UUIDString()) for secret in conn.listAllSecrets(0))
    found.update(('nwfilter', nwfilter.name()) for nwfilter in conn.listAllNWFilters(0))
    return found


def _theirs(made, texts):
    """Of the objects made meanwhile, those of this file's examples: named in them, or a volume of a guest they made
    (other sessions sharing the lab with VIRTOPS_LAB_SHARED=1 make objects too)."""
    words = set(re.findall(r'[\w.+-]+', '\n'.join(texts)))
    guests = {name for kind, name in made if kind == 'domain' and name in words}
    theirs = set()
    for kind, name in made:
        short = name.split('/', 1)[-1]
        if kind == 'secret' or short in words or any(short.startswith(guest + '-') for guest in guests):
            theirs.add((kind, name))
    return theirs


def _remove(conn, objects):
    import libvirt
    for kind, name in sorted(objects, key=lambda item: ['domain', 'volume', 'secret', 'nwfilter', 'network', 'pool'].index(item[0])):
        try:
            if kind == 'domain':
                result = run_module('guest', name=name, state='absent', shutdown_timeout=0)
                assert not result.failed, result.msg
            elif kind == 'volume':
                pool, vol = name.split('/', 1)
                conn.storagePoolLookupByName(pool).storageVolLookupByName(vol).delete(0)
            elif kind == 'secret':
                conn.secretLookupByUUIDString(name).undefine()
            elif kind == 'nwfilter':
                conn.nwfilterLookupByName(name).undefine()
            else:
                obj = conn.networkLookupByName(name) if kind == 'network' else conn.storagePoolLookupByName(name)
                if obj.isActive():
                    obj.destroy()
                obj.undefine()
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (42, 43, 49, 50, 66, 62):     # gone already (a guest took its volume)
                raise


def _serial_log(dom):
    match = re.search(r"<log file='([^']+)'", dom.XMLDesc(0))
    return match and match.group(1)


def _check_running_guests_boot(conn, before):
    """Every running guest the examples made boots: its serial log shows the tiny image's marker."""
    import libvirt
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING):
        if ('domain', dom.name()) in before:
            continue
        log, deadline = _serial_log(dom), time.monotonic() + BOOT_WAIT
        while True:
            text = open(log, errors='replace').read() if log and os.path.exists(log) else ''
            if BOOTED.search(text):
                break
            assert dom.isActive(), 'guest %s, made by the examples, stopped before it booted; its serial log ends:\n%s' % (
                dom.name(), text[-1500:])
            assert time.monotonic() < deadline, ('guest %s, made by the examples, did not boot within %d s; its serial '
                                                 'log (%s) ends:\n%s' % (dom.name(), BOOT_WAIT, log, text[-1500:]))
            time.sleep(1)


# ---------------------------------------------------------------- running the blocks

def _run(cmd, block, env, cwd, input_text=None):
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, input=input_text, timeout=1800, check=False)
    output = proc.stdout + proc.stderr
    print('%s: %s (%.0f s)' % (block.where, ' '.join(cmd[:2]) if len(cmd) > 2 else cmd[0], time.monotonic() - started))
    assert proc.returncode == 0, '%s failed (rc %d):\n%s' % (block.where, proc.returncode, output[-6000:])
    return output


def _playbook(block, text, kind, work, env, settings, values):
    path = os.path.join(work, block.marker.get('path') or 'example-%d.yml' % block.line)
    with open(path, 'w') as handle:
        handle.write(text if kind == 'playbook' else examples.as_play(text, block.marker.get('hosts', 'compute')))
    inventory = 'inventory.yml' if os.path.exists(os.path.join(work, 'inventory.yml')) else 'lab-inventory.yml'
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, os.path.basename(path)]
    if block.marker.get('check'):
        cmd += ['--check', '--diff']
    if block.marker.get('vars'):
        cmd += ['-e', examples.fill_lab_words(json.dumps(block.marker['vars']), values, block.where)]
    output = _run(cmd, block, env, os.path.dirname(path))
    recap = examples.recap(output)
    assert recap and all(host['failed'] == 0 and host['unreachable'] == 0 for host in recap.values()), output[-4000:]
    assert not re.search(r'skipping: no hosts matched', output), '%s matched no host:\n%s' % (block.where, output[-2000:])
    for expected in block.marker.get('expect') or []:
        expected = examples.substitute(expected, {}, {'rename': settings.get('rename')}, {}, block.where)
        assert expected in output, '%s: the output lacks %r:\n%s' % (block.where, expected, output[-4000:])
    if block.marker.get('again') == 'unchanged':
        again = examples.recap(_run(cmd, block, env, os.path.dirname(path)))
        assert all(host['changed'] == 0 for host in again.values()), '%s: the second run changed %s' % (block.where, again)


def _fragment(block, text, module_docs, role_vars):
    data = examples.load_yaml(text, block.where)
    if isinstance(data, list):
        for task in data:
            called = [key for key in task if str(key).startswith(PREFIX)]
            for name in called:
                assert name in module_docs, '%s calls %s, which does not exist' % (block.where, name)
                known = set()
                for option, spec in (module_docs[name]['doc'].get('options') or {}).items():
                    known.update([option] + list(spec.get('aliases') or ()))
                unknown = sorted(set(task[name] or {}) - known)
                assert not unknown, '%s passes %s options it does not have: %s' % (block.where, name, unknown)
    _check_role_variables(block, data, role_vars)


def _check_role_variables(block, data, role_vars):
    if not isinstance(data, dict):
        return
    for key in data:
        for role, options in role_vars.items():
            if str(key).startswith(role + '_'):
                assert key in options, '%s sets %s, which role %s does not take' % (block.where, key, role)


@pytest.mark.parametrize('doc', DOCS)
def test_every_example_runs(doc, request, libvirt_conn, lab, module_docs):
    with open(os.path.join(REPO_ROOT, doc)) as handle:
        settings, blocks = examples.parse(handle.read(), doc)
    planned = [(block, examples.kind(block)) for block in blocks]
    values = dict(lab)
    words = set().union(*(examples.lab_words(str(settings)) | examples.lab_words(str(block.marker)) for block in blocks))
    fixtures = {FIXTURE_WORDS[word] for word in words if word in FIXTURE_WORDS}
    if 'full_image' in fixtures:
        values.update(LAB_FULL_DIR=request.getfixturevalue('full_image').directory)
    if 'iscsi_target' in fixtures:
        target = request.getfixturevalue('iscsi_target')
        values.update(LAB_ISCSI_PORTAL=target.portal, LAB_ISCSI_IQN=target.iqn, LAB_ISCSI_LUN=target.lun,
                      LAB_CHAP_USER=target.chap_username, LAB_CHAP_PASSWORD=target.chap_password)
    work = os.path.join(WORK_ROOT, os.path.splitext(os.path.basename(doc))[0])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, 'collections'))
    with open(os.path.join(work, 'lab-inventory.yml'), 'w') as handle:
        handle.write(DEFAULT_INVENTORY % sys.executable)
    env = _clean_env(ANSIBLE_COLLECTIONS_PATH=os.path.join(work, 'collections'), HOME=os.environ.get('HOME', '/root'))
    if not any(kind == 'shell' and 'ansible-galaxy collection install' in block.text for block, kind in planned):
        subprocess.run([os.path.join(VENV_BIN, 'ansible-galaxy'), 'collection', 'install', lab['LAB_TARBALL']],
                       check=True, capture_output=True, env=env, cwd=work)
    role_vars = _role_variables()
    before = _objects(libvirt_conn)
    texts, ran = [], 0
    try:
        for block, kind in planned:
            if kind is None:
                continue
            text = examples.substitute(block.text, block.marker, settings, values, block.where)
            texts.append(text)
            if kind == 'file':
                path = os.path.join(work, block.marker['path'])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, 'w') as handle:
                    handle.write(text)
                if block.lang in ('yaml', 'yml'):
                    _check_role_variables(block, examples.load_yaml(text, block.where), role_vars)
            elif kind == 'fragment':
                _fragment(block, text, module_docs, role_vars)
            elif kind == 'shell':
                _run(['bash', '-euo', 'pipefail', '-c', text], block, env, work)
            else:
                _playbook(block, text, kind, work, env, settings, values)
                _check_running_guests_boot(libvirt_conn, before)
            ran += 1
    finally:
        cleanup = settings.get('cleanup')
        if cleanup:
            with open(os.path.join(work, 'cleanup.yml'), 'w') as handle:
                handle.write(examples.as_play(yaml.safe_dump(cleanup, sort_keys=False), 'compute'))
            inventory = 'inventory.yml' if os.path.exists(os.path.join(work, 'inventory.yml')) else 'lab-inventory.yml'
            subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, 'cleanup.yml'], env=env,
                           cwd=work, capture_output=True, check=False)
        made = _objects(libvirt_conn) - before
        _remove(libvirt_conn, _theirs(made, texts))
    assert ran or not any(block.lang in ('yaml', 'yml') for block, _kind in planned), '%s: no example ran' % doc
    left = _theirs(_objects(libvirt_conn) - before, texts)
    assert not left, 'the examples of %s left %s behind' % (doc, sorted(left))
