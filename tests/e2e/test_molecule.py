"""`molecule test` for every role that has a molecule/default scenario: the scenarios' create and destroy
playbooks make and remove throwaway tiny lab guests with this collection's own modules, the role converges
against a compute host (this machine, or lab hosts entered through their namespaces), and molecule's
idempotence step must run and pass.

Run a scenario by hand with the same environment:
    eval "$(PYTHONPATH=tests .venv/bin/python tests/e2e/test_molecule.py maintenance)"
    cd roles/maintenance && molecule test
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from lab import fixtures, hosts
from lab.computes import write_inventory
from lab.proc import SHARED_DIR
from lab.runner import COLLECTIONS_ROOT, REPO_ROOT, VENV_BIN

ROLES_DIR = os.path.join(REPO_ROOT, 'roles')
SCENARIO_ROLES = sorted(r for r in os.listdir(ROLES_DIR)
                        if os.path.isfile(os.path.join(ROLES_DIR, r, 'molecule', 'default', 'molecule.yml')))
# the lab hosts a scenario's inventory holds (group compute, first host the one acted on); none: localhost only
ROLE_HOSTS = {'maintenance': (4, 5, 6), 'evacuate': (4, 5, 6), 'compute_host': (12,)}
WORK = os.path.join(SHARED_DIR, 'lab-mol')
TIMEOUT = 900
# molecule's own limit, plus room for the lab hosts the scenario's fixture starts
pytestmark = pytest.mark.timeout(TIMEOUT + 300)


def molecule_env(role, log=None):
    """The environment `molecule test` needs in roles/<role>: starts the role's lab hosts and writes their
    inventory (VIRTOPS_MOLECULE_INVENTORY, empty for localhost-only scenarios)."""
    from lab.images import ensure_image
    log_arg = {'log': log} if log else {}
    os.makedirs(WORK, mode=0o755, exist_ok=True)
    env = dict(os.environ)
    env.update({
        'PATH': VENV_BIN + os.pathsep + env.get('PATH', ''),
        'PYTHONPATH': os.pathsep.join([COLLECTIONS_ROOT, os.path.join(REPO_ROOT, 'tests')]),
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS_ROOT,
        'VIRTOPS_TINY_IMAGE': ensure_image('tiny', **log_arg).directory,
        'VIRTOPS_LAB_PYTHON': sys.executable,
        'VIRTOPS_MOLECULE_WORK': os.path.join(WORK, role),
        'NO_COLOR': '1', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'PY_COLORS': '0',
    })
    inventory = os.path.join(WORK, role + '-inventory.json')
    lab_hosts = [hosts.start_host(i, **log_arg) for i in ROLE_HOSTS.get(role, ())]
    write_inventory(inventory, lab_hosts)
    with open(inventory) as handle:
        data = json.load(handle)
    for host in lab_hosts:
        # where the host's pid files and private directories are, for roles that manage its daemons
        data['compute']['hosts'][host.name]['lab_state_dir'] = host.state_dir
    with open(inventory, 'w') as handle:
        json.dump(data, handle, indent=2)
    env['VIRTOPS_MOLECULE_INVENTORY'] = inventory
    return env


@pytest.fixture(scope='module')
def lab_ready(lab_libvirt):
    return lab_libvirt


@pytest.fixture
def scenario_hosts(request, lab_ready):
    """The role's lab hosts held for the session the way the other lab fixtures hold them."""
    gens = [fixtures._lab_host(i) for i in ROLE_HOSTS.get(request.param, ())]   # pylint: disable=protected-access
    started = []
    try:
        for gen in gens:
            started.append(next(gen))       # pylint: disable=stop-iteration-return
        yield request.param
    finally:
        for gen in gens[:len(started)]:
            next(gen, None)


def _step_results(out):
    """molecule's DETAILS section: step -> result text, e.g. {'idempotence': 'Executed: Successful'}."""
    details = out[out.rfind('DETAILS'):]
    return dict(re.findall(r'^default > (\w+): (.+)$', details, re.M))


@pytest.mark.parametrize('scenario_hosts', SCENARIO_ROLES, indirect=True, ids=SCENARIO_ROLES)
def test_molecule_scenario(scenario_hosts):
    role = scenario_hosts
    if role == 'console_proxy':
        # the lab installs them (scripts/debian-packages.txt); missing, they fail the test rather than skip it
        missing = [tool for tool in ('websockify', 'xrdp') if not shutil.which(tool)]
        assert not missing and os.path.isdir('/usr/share/novnc'), \
            'roles/console_proxy needs novnc, websockify and xrdp (scripts/debian-packages.txt)'
    env = molecule_env(role)
    start = time.monotonic()
    try:
        proc = subprocess.run([os.path.join(VENV_BIN, 'molecule'), 'test'], cwd=os.path.join(ROLES_DIR, role),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                              check=False)
    finally:
        # only this role's files: the other lane may be running another scenario out of WORK
        shutil.rmtree(env['VIRTOPS_MOLECULE_WORK'], ignore_errors=True)
        os.unlink(env['VIRTOPS_MOLECULE_INVENTORY'])
    took = time.monotonic() - start
    out = proc.stdout
    print('molecule test in roles/%s took %.1f s' % (role, took))
    tail = '\n'.join(out.splitlines()[-80:])
    assert proc.returncode == 0, 'molecule test failed in roles/%s (rc %d):\n%s' % (role, proc.returncode, tail)
    steps = _step_results(out)
    assert {'syntax', 'create', 'converge', 'idempotence', 'verify', 'destroy'} <= set(steps), steps
    for step, result in steps.items():
        assert result == 'Executed: Successful', 'step %s of roles/%s: %r\n%s' % (step, role, result, tail)
    # molecule's own verdict on the second converge: no changed=N>0 in its recap
    idempotence = out[out.index('[default > idempotence] Executing'):out.index('[default > idempotence] Executed')]
    assert 'PLAY RECAP' in idempotence and not re.search(r'changed=[1-9]', idempotence), idempotence[-3000:]


if __name__ == '__main__':
    for key, value in sorted(molecule_env(sys.argv[1], log=lambda msg: print(msg, file=sys.stderr)).items()):
        if key.startswith(('VIRTOPS_', 'ANSIBLE_', 'PATH', 'PYTHONPATH', 'NO_COLOR', 'PY_COLORS')):
            print('export %s=%s' % (key, shlex.quote(value)))
