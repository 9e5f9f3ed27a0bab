"""Every plugin's and role's documentation as `ansible-doc` renders it: complete, and its examples use real options.

`ansible-doc` is what users read (and what antsibull-docs renders from), so the test goes through it rather than
through the DOCUMENTATION strings: a doc fragment that fails to merge, a YAML slip or an option without a type
shows up here the way a user would meet it.
"""
import json
import os
import subprocess

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_DOC = os.path.join(REPO_ROOT, '.venv', 'bin', 'ansible-doc')
PREFIX = 'virtops.compute.'
# keys every task may carry besides the module's own options
TASK_KEYWORDS = {'name', 'register', 'when', 'loop', 'loop_control', 'check_mode', 'diff', 'delegate_to', 'become',
                 'vars', 'tags', 'notify', 'changed_when', 'failed_when', 'until', 'retries', 'delay', 'async',
                 'poll', 'ignore_errors', 'no_log', 'environment', 'run_once', 'module_defaults', 'with_items'}


def _plugin_names(kind):
    folder = os.path.join(REPO_ROOT, 'plugins', kind)
    names = set()
    for entry in os.listdir(folder):
        stem, ext = os.path.splitext(entry)
        if ext in ('.py', '.yml') and not stem.startswith('_'):
            names.add(stem)
    if kind == 'filter':
        # the Python files that hold the filters; each filter has its own .yml doc
        names -= {'placement', 'evacuation'}
    return sorted(names)


def _role_names():
    return sorted(entry for entry in os.listdir(os.path.join(REPO_ROOT, 'roles'))
                  if os.path.exists(os.path.join(REPO_ROOT, 'roles', entry, 'meta', 'argument_specs.yml')))


def _ansible_doc(kind, names):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, '.build', 'collections'))
    proc = subprocess.run([ANSIBLE_DOC, '-t', kind, '--json'] + [PREFIX + name for name in names],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '[WARNING]' not in proc.stderr, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope='module')
def module_docs():
    return _ansible_doc('module', _plugin_names('modules'))


def _walk_options(options, where, typed=True):
    for name, spec in options.items():
        place = '%s option %s' % (where, name)
        assert spec.get('description'), place + ' has no description'
        # ansible-core's own inventory fragments leave some types to the str default
        assert not typed or spec.get('type') or spec.get('choices'), place + ' has no type'
        if spec.get('suboptions'):
            _walk_options(spec['suboptions'], place, typed)


def _walk_returns(returns, where, top=True):
    for name, spec in returns.items():
        place = '%s return value %s' % (where, name)
        assert spec.get('description'), place + ' has no description'
        assert spec.get('type'), place + ' has no type'
        assert not top or spec.get('returned'), place + ' does not say when it is returned'
        if spec.get('contains'):
            _walk_returns(spec['contains'], place, top=False)


def test_every_module_is_documented(module_docs):
    names = _plugin_names('modules')
    assert sorted(module_docs) == [PREFIX + name for name in names]
    for full_name, entry in module_docs.items():
        doc = entry['doc']
        assert doc['short_description'] and doc['description'], full_name
        assert doc.get('author'), full_name + ' has no author'
        _walk_options(doc.get('options') or {}, full_name)
        assert entry.get('examples', '').strip(), full_name + ' has no EXAMPLES'
        assert entry.get('return') is not None, full_name + ' has no RETURN'
        _walk_returns(entry['return'] or {}, full_name)


def _option_names(options):
    names = set()
    for name, spec in options.items():
        names.add(name)
        names.update(spec.get('aliases') or ())
    return names


def test_examples_use_only_real_options(module_docs):
    """Each example task that calls a module of this collection passes only options that module has."""
    checked = 0
    for full_name, entry in module_docs.items():
        tasks = yaml.safe_load(entry['examples'])
        assert isinstance(tasks, list) and tasks, full_name + ' EXAMPLES is not a list of tasks'
        for task in tasks:
            called = [key for key in task if key.startswith(PREFIX)]
            assert len(called) <= 1, '%s example %r calls more than one module' % (full_name, task.get('name'))
            if not called or called[0] not in module_docs:
                assert not called or called[0] == full_name, '%s example calls unknown %s' % (full_name, called)
                continue
            args = task[called[0]] or {}
            assert isinstance(args, dict), '%s example %r: arguments are not a mapping' % (full_name, task.get('name'))
            known = _option_names(module_docs[called[0]]['doc'].get('options') or {})
            unknown = sorted(set(args) - known)
            assert not unknown, '%s example %r passes unknown options %s' % (full_name, task.get('name'), unknown)
            assert set(task) - {called[0]} <= TASK_KEYWORDS, '%s example %r has unknown keywords' % (
                full_name, task.get('name'))
            checked += 1
    assert checked >= len(module_docs)


@pytest.mark.parametrize('kind', ['filter', 'inventory'])
def test_other_plugins_are_documented(kind):
    names = _plugin_names(kind)
    assert names, 'no %s plugins found' % kind
    docs = _ansible_doc(kind, names)
    assert sorted(docs) == [PREFIX + name for name in names]
    for full_name, entry in docs.items():
        doc = entry['doc']
        assert doc['short_description'] and doc['description'], full_name
        _walk_options(doc.get('options') or {}, full_name, typed=False)
        assert entry.get('examples', '').strip(), full_name + ' has no EXAMPLES'


def test_every_role_has_argument_specs():
    names = _role_names()
    every_role = sorted(entry for entry in os.listdir(os.path.join(REPO_ROOT, 'roles'))
                        if os.path.isdir(os.path.join(REPO_ROOT, 'roles', entry, 'tasks')))
    assert names == every_role, 'roles without meta/argument_specs.yml: %s' % sorted(set(every_role) - set(names))
    docs = _ansible_doc('role', names)
    for full_name, entry in docs.items():
        main = entry['entry_points']['main']
        assert main.get('short_description') and main.get('description'), full_name
        _walk_options(main.get('options') or {}, full_name)


def test_every_module_documents_its_attributes(module_docs):
    """Check mode, diff mode and the action group, from the virtops.compute.attributes fragment, for every module;
    and the action group that fragment names holds every module (meta/runtime.yml), so module_defaults reach them."""
    with open(os.path.join(REPO_ROOT, 'meta', 'runtime.yml')) as handle:
        group = set(yaml.safe_load(handle)['action_groups']['libvirt'])
    assert group == set(_plugin_names('modules')), 'meta/runtime.yml action group libvirt: %s' % sorted(
        group.symmetric_difference(_plugin_names('modules')))
    for full_name, entry in module_docs.items():
        attributes = entry['doc'].get('attributes') or {}
        assert attributes.get('action_group', {}).get('membership') == [PREFIX + 'libvirt'], (
            '%s does not extend the virtops.compute.attributes doc fragment' % full_name)
        for name in ('check_mode', 'diff_mode'):
            assert attributes.get(name, {}).get('support') in ('full', 'partial', 'none'), '%s: %s' % (full_name, name)


def test_disk_qos_is_documented_as_its_spec_defines_it(module_docs):
    """guest's disk_qos and volume_attachment's qos take the same limits, from one spec (storage/disk_qos.py);
    the doc fragment that documents both lists exactly those keys, as integers."""
    from ansible_collections.virtops.compute.plugins.module_utils.storage.disk_qos import QOS_KEYS, QOS_OPTION
    documented = {}
    for module, option in (('guest', 'disk_qos'), ('volume_attachment', 'qos')):
        spec = module_docs[PREFIX + module]['doc']['options'][option]
        documented[module] = dict((key, value['type']) for key, value in spec['suboptions'].items())
    assert documented['guest'] == documented['volume_attachment'] == dict((key, 'int') for key in QOS_KEYS)
    assert set(QOS_OPTION['options']) == set(QOS_KEYS)
