"""The fleet's cached builds (pure logic; the builds themselves run in tests/e2e/fleet): which recipe change
rebuilds what, and that the repository follows the compute_host role's own package list."""
import shutil

import pytest
import yaml

from lab.fleet import build


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    """Copies of the root's customize script and of the role's Debian package list that a test may change."""
    script = tmp_path / 'root-customize.sh'
    shutil.copy(build.ROOT_CUSTOMIZE, script)
    role_vars = tmp_path / 'Debian.yml'
    shutil.copy(build.ROLE_PACKAGE_VARS, role_vars)
    monkeypatch.setattr(build, 'ROOT_CUSTOMIZE', str(script))
    monkeypatch.setattr(build, 'ROLE_PACKAGE_VARS', str(role_vars))
    return script, role_vars


def test_digests_are_stable(recipe):
    assert (build.root_digest(), build.repo_digest()) == (build.root_digest(), build.repo_digest())


def test_the_repository_holds_the_roles_packages_and_bindings():
    with open(build.ROLE_PACKAGE_VARS) as handle:
        role_vars = yaml.safe_load(handle)
    packages = build.repo_packages()
    assert set(role_vars['__compute_host_packages']) <= set(packages)
    assert {'python3-libvirt', 'python3-lxml'} <= set(packages)


def test_a_new_role_package_rebuilds_the_repository_only(recipe):
    _script, role_vars = recipe
    root, repo = build.root_digest(), build.repo_digest()
    data = yaml.safe_load(role_vars.read_text())
    data['__compute_host_packages'].append('swtpm')
    role_vars.write_text(yaml.safe_dump(data))
    assert build.root_digest() == root and build.repo_digest() != repo


def test_a_changed_root_rebuilds_both(recipe, monkeypatch):
    script, _role_vars = recipe
    root, repo = build.root_digest(), build.repo_digest()
    script.write_text(script.read_text() + '\n# changed\n')
    assert build.root_digest() != root and build.repo_digest() != repo
    changed = build.root_digest()
    monkeypatch.setattr(build, 'ROOT_PACKAGES', build.ROOT_PACKAGES + ('vim-tiny',))
    assert build.root_digest() not in (root, changed)


def test_a_complete_build_is_reused_without_building(tmp_path, monkeypatch):
    def must_not_build(*_args):
        raise AssertionError('a cached root was rebuilt')
    monkeypatch.setattr(build, 'build_root', must_not_build)
    monkeypatch.setattr(build.layout, 'CACHE', str(tmp_path))
    ready = tmp_path / ('fleet-root-' + build.root_digest())
    (ready / 'rootfs').mkdir(parents=True)
    (ready / '.complete').write_text('')
    assert build.ensure_root(log=lambda _msg: None) == str(ready / 'rootfs')
