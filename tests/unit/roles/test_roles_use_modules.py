"""The roles act through the collection's own modules: no task shells out to virsh or qemu-img (issue 21), and the
evacuate role keeps what carries secrets out of the logs."""
import glob
import os
import re

import yaml

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')
# virsh or qemu-img where a shell runs it: first on a command line, or after ; && || | or $( (a presence check such as
# "command -v virsh" runs nothing)
TOOLS = re.compile(r'(?:^|[;&|(]|\$\()\s*(?:sudo\s+|exec\s+)?(virsh|qemu-img)(?![\w.-])')
RUNNERS = ('command', 'shell', 'raw', 'script', 'ansible.builtin.command', 'ansible.builtin.shell',
           'ansible.builtin.raw', 'ansible.builtin.script', 'ansible.legacy.command', 'ansible.legacy.shell')


def _task_files():
    found = sorted(glob.glob(os.path.join(ROLES, '*', 'tasks', '*.yml')) +
                   glob.glob(os.path.join(ROLES, '*', 'handlers', '*.yml')))
    assert found, 'no role task files found under %s' % ROLES
    return found


def _command_lines(task):
    """The command lines a task runs: its argv joined, or its cmd / free-form string."""
    for runner in RUNNERS:
        if runner not in task:
            continue
        args = task[runner]
        if isinstance(args, str):
            yield args
        elif isinstance(args, dict):
            if args.get('argv'):
                yield ' '.join(str(word) for word in args['argv'])
            if args.get('cmd'):
                yield args['cmd']


def test_no_role_task_runs_virsh_or_qemu_img():
    offenders = []
    for path in _task_files():
        for task in _tasks(path):
            for line in _command_lines(task):
                if any(TOOLS.search(part) for part in line.splitlines()):
                    offenders.append('%s: %s: %s' % (os.path.relpath(path, ROLES), task.get('name'), line.strip()))
    assert not offenders, 'role tasks that run virsh or qemu-img:\n' + '\n'.join(offenders)


def test_the_check_would_see_them():
    runs = [{'ansible.builtin.command': {'argv': ['virsh', '-c', '{{ uri }}', 'dumpxml', 'web1']}},
            {'ansible.builtin.shell': 'set -e; qemu-img create -f qcow2 x.qcow2 1G'},
            {'command': {'cmd': 'sudo virsh list'}}]
    assert all(TOOLS.search(line) for task in runs for line in _command_lines(task))
    harmless = [{'ansible.builtin.shell': 'command -v virsh >/dev/null'}, {'command': {'argv': ['virsh-free']}}]
    assert not any(TOOLS.search(line) for task in harmless for line in _command_lines(task))


def _tasks(path):
    with open(path) as handle:
        for task in yaml.safe_load(handle) or []:
            yield task
            for key in ('block', 'rescue', 'always'):
                yield from task.get(key) or []


def test_evacuate_tasks_that_carry_secrets_are_no_log():
    """The key, the config drive's contents and console passwords never reach the job output."""
    secret_words = re.compile(r'\b(evacuate_key|evacuate_config_drives|evacuate_console_passwords|evacuate_record_key)\b')
    for path in glob.glob(os.path.join(ROLES, 'evacuate', 'tasks', '*.yml')):
        for task in _tasks(path):
            text = yaml.safe_dump({k: v for k, v in task.items() if k not in ('name', 'when', 'no_log')})
            # a key passed to a filter whose output holds no secret (a MAC, a signed record) needs no no_log
            text = re.sub(r"virtops\.compute\.evacuation_(document|fence_mac)\(evacuate_key\)", '', text)
            used = ' '.join(re.findall(r'\{\{.*?\}\}', text, re.S))      # only what a template reads, not names in prose
            if secret_words.search(used):
                assert task.get('no_log'), '%s: task %r carries a secret without no_log' % (
                    os.path.basename(path), task.get('name'))
