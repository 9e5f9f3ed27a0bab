"""Every role has a README.md (what Galaxy shows and galaxy-importer requires) that names each variable its
meta/argument_specs.yml checks, and whose generated variables table is current (scripts/role_readmes.py)."""
import os
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO_ROOT, 'scripts'))

import role_readmes  # noqa: E402  (a script, found through the path above)

ROLES = sorted(name for name in os.listdir(os.path.join(REPO_ROOT, 'roles'))
               if os.path.isdir(os.path.join(REPO_ROOT, 'roles', name, 'tasks')))


def _readme(role):
    path = os.path.join(REPO_ROOT, 'roles', role, 'README.md')
    assert os.path.exists(path), 'role %s has no README.md' % role
    with open(path) as handle:
        return handle.read()


@pytest.mark.parametrize('role', ROLES)
def test_readme_names_every_variable(role):
    text = _readme(role)
    with open(os.path.join(REPO_ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        specs = yaml.safe_load(handle)['argument_specs']
    names = [name for spec in specs.values() for name in (spec.get('options') or {})]
    assert names, 'role %s checks no variables' % role
    missing = [name for name in names if '`%s`' % name not in text]
    assert not missing, 'roles/%s/README.md does not name %s; run scripts/role_readmes.py' % (role, missing)


@pytest.mark.parametrize('role', ROLES)
def test_readme_has_an_example_play(role):
    text = _readme(role)
    assert '## Example' in text and '```yaml' in text, 'roles/%s/README.md has no example play' % role
    example = text.split('## Example', 1)[1].split('```yaml', 1)[1].split('```', 1)[0]
    plays = yaml.safe_load(example)
    assert isinstance(plays, list) and plays, 'roles/%s/README.md: the example is not a play' % role
    assert any('virtops.compute.%s' % role in repr(play) for play in plays), 'the example does not run the role'


@pytest.mark.parametrize('role', ROLES)
def test_readme_variables_table_is_current(role):
    current, wanted = role_readmes.updated_readme(role)
    assert wanted is not None, 'roles/%s/README.md has no variables markers' % role
    assert current == wanted, 'roles/%s/README.md: the variables table is out of date; run scripts/role_readmes.py' % role
