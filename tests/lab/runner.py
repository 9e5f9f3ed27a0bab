"""Running the collection's modules and playbooks from tests, for real.

``run_module`` executes a module file the way Ansible's module runner does
(arguments on stdin-equivalent JSON, check and diff flags included) in the
test's Python, which is quick enough to call hundreds of times.
``run_playbook`` goes through ``ansible-playbook`` itself, for what only a
real play shows (module_defaults, action groups, roles, the demo).
"""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, '.build', 'collections')
VENV_BIN = os.path.dirname(sys.executable)


def _env(extra=None):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([COLLECTIONS_ROOT, os.path.join(REPO_ROOT, 'tests')])
    env['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS_ROOT
    env['ANSIBLE_CONFIG'] = os.path.join(REPO_ROOT, 'ansible.cfg')
    env.setdefault('ANSIBLE_NOCOLOR', '1')
    env.update(extra or {})
    return env


@dataclass
class ModuleResult:
    """What a module printed, parsed, with the process details for failure messages."""
    data: dict
    rc: int
    stderr: str = ''

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default)

    @property
    def failed(self):
        return bool(self.data.get('failed')) or self.rc != 0

    @property
    def changed(self):
        return bool(self.data.get('changed'))

    @property
    def msg(self):
        return self.data.get('msg', '')


def run_module(module, /, check=False, diff=False, env=None, _timeout=600, nsenter_pid=None, **params):
    """Run ``virtops.compute.<module>`` with ``params``; returns a ModuleResult.

    ``module`` is positional-only so that a module's own ``name`` option can be passed.
    ``nsenter_pid`` (a lab host's libvirtd pid) runs it inside that host's mount, UTS and cgroup
    namespaces, as on that compute host itself."""
    path = os.path.join(REPO_ROOT, 'plugins', 'modules', module + '.py')
    args = dict(params)
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
        args_file = handle.name
    try:
        cmd = [sys.executable, path, args_file]
        if nsenter_pid is not None:
            if not nsenter_pid:
                # running on the machine itself instead would change the main host, never what a test wants
                raise ValueError('run_module: nsenter_pid is %r, no process to enter' % (nsenter_pid,))
            cmd = ['nsenter', '-t', str(nsenter_pid), '-m', '-u', '-C', '--'] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=_env(env), timeout=_timeout, check=False)
    finally:
        os.unlink(args_file)
    data = None
    for line in reversed(proc.stdout.splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                data = json.loads(line)
                break
            except ValueError:
                continue
    if data is None:
        data = {'failed': True, 'msg': 'module printed no JSON', 'stdout': proc.stdout}
    return ModuleResult(data=data, rc=proc.returncode, stderr=proc.stderr)


@dataclass
class PlaybookResult:
    rc: int
    stdout: str
    stderr: str
    results: dict = field(default_factory=dict)


def run_playbook(playbook, extra_vars=None, check=False, diff=False, env=None, timeout=1800, args=()):
    """Run ``ansible-playbook`` on a file path or on YAML text; returns a PlaybookResult."""
    cleanup = None
    if '\n' in playbook:
        with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False, dir=os.path.join(REPO_ROOT, '.build')) as handle:
            handle.write(playbook)
            playbook = cleanup = handle.name
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), playbook]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    cmd += list(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), timeout=timeout,
                              cwd=REPO_ROOT, check=False)
    finally:
        if cleanup:
            os.unlink(cleanup)
    return PlaybookResult(rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


def bad_inputs_play(role, cases, out, play_vars=None, hosts='compute'):
    """A play that tries `role` once per case of variables (a block each, its failure caught and recorded), so
    that one ansible-playbook start serves them all, and writes the failure messages to `out` (JSON, on the
    controller) in the order of the cases. `play_vars` are play vars, so each case's task vars win over them."""
    blocks = []
    for extra in cases:
        blocks.append({'name': 'A bad case', 'block': [{
            'name': 'The role with the case', 'ansible.builtin.include_role': {'name': role}, 'vars': extra}],
            'rescue': [{'name': 'Record the failure', 'ansible.builtin.set_fact': {
                'bad_msgs': "{{ bad_msgs | default([]) + [ansible_failed_result.msg] }}"}}]})
    blocks.append({'name': 'Save what failed', 'delegate_to': 'localhost', 'ansible.builtin.copy': {
        'dest': out, 'content': '{{ bad_msgs | default([]) | to_json }}', 'mode': '0644'}})
    return json.dumps([{'name': 'Bad variables', 'hosts': hosts, 'gather_facts': False, 'vars': play_vars or {},
                        'tasks': blocks}], indent=1) + '\n'
