"""The lab image cache: recipe hashing and reuse (pure logic; the boots are in tests/e2e/test_lab.py)."""
import os
import shutil

import pytest

from lab import images


@pytest.fixture
def recipes(tmp_path):
    copy = tmp_path / 'recipes'
    shutil.copytree(images.RECIPES, copy)
    return copy


def test_hash_is_stable(recipes):
    assert images.recipe_hash('tiny', str(recipes)) == images.recipe_hash('tiny', str(recipes))


def test_changing_a_recipe_file_changes_only_its_image(recipes):
    tiny, full = images.recipe_hash('tiny', str(recipes)), images.recipe_hash('full', str(recipes))
    with open(os.path.join(recipes, 'tiny-init.sh'), 'a') as handle:
        handle.write('\n# changed\n')
    assert images.recipe_hash('tiny', str(recipes)) != tiny
    assert images.recipe_hash('full', str(recipes)) == full


def test_changing_the_package_list_changes_the_full_image(recipes, monkeypatch):
    before = images.recipe_hash('full', str(recipes))
    monkeypatch.setitem(images.RECIPE_DATA, 'full', (images.FULL_PACKAGES + ['vim'], images.FULL_DISK_SIZE, images.MIRROR))
    assert images.recipe_hash('full', str(recipes)) != before


def test_a_complete_image_is_reused_without_building(tmp_path, monkeypatch):
    monkeypatch.setattr(images, 'CACHE', str(tmp_path))
    digest = images.recipe_hash('tiny')
    ready = tmp_path / ('tiny-' + digest)
    ready.mkdir()
    (ready / '.complete').write_text('')

    def must_not_build(*_args):
        raise AssertionError('a cached image was rebuilt')
    monkeypatch.setitem(images.BUILDERS, 'tiny', must_not_build)
    image = images.ensure_image('tiny', log=lambda _msg: None)
    assert image.directory == str(ready) and image.kernel == str(ready / 'vmlinuz') and image.disk is None


def test_a_half_built_image_is_not_taken_and_a_failed_build_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(images, 'CACHE', str(tmp_path))
    monkeypatch.setattr(images, 'ensure_host_tools', lambda log: None)
    digest = images.recipe_hash('tiny')
    (tmp_path / ('tiny-' + digest)).mkdir()  # no .complete: an interrupted run

    def failing_build(work, _log):
        open(os.path.join(work, 'vmlinuz'), 'w').close()
        raise RuntimeError('download failed')
    monkeypatch.setitem(images.BUILDERS, 'tiny', failing_build)
    with pytest.raises(RuntimeError):
        images.ensure_image('tiny', log=lambda _msg: None)
    assert not any(name.startswith('.tiny-build-') for name in os.listdir(tmp_path))
    assert not (tmp_path / ('tiny-' + digest) / '.complete').exists()


def test_a_new_build_replaces_outdated_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(images, 'CACHE', str(tmp_path))
    monkeypatch.setattr(images, 'ensure_host_tools', lambda log: None)
    (tmp_path / 'tiny-000000000000').mkdir()
    monkeypatch.setitem(images.BUILDERS, 'tiny', lambda work, _log: open(os.path.join(work, 'vmlinuz'), 'w').close())
    image = images.ensure_image('tiny', log=lambda _msg: None)
    assert os.listdir(tmp_path) == [os.path.basename(image.directory)] or sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(image.directory), '.tiny.lock'])
    assert os.path.exists(os.path.join(image.directory, '.complete'))
