"""The lab image cache: recipe hashing and reuse (pure logic; the boots are in tests/e2e/test_lab.py)."""
import os
import shutil
import time

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
    monkeypatch.setitem(images.RECIPE_DATA, 'full', (images.FULL_PACKAGES + ['vim'],) + images.RECIPE_DATA['full'][1:])
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


def _build_into(monkeypatch, tmp_path):
    monkeypatch.setattr(images, 'CACHE', str(tmp_path))
    monkeypatch.setattr(images, 'ensure_host_tools', lambda log: None)
    monkeypatch.setitem(images.BUILDERS, 'tiny', lambda work, _log: open(os.path.join(work, 'vmlinuz'), 'w').close())


def _old_build(tmp_path, name, days_unused):
    build = tmp_path / name
    build.mkdir()
    (build / '.last-used').write_text('')
    stamp = time.time() - days_unused * 86400
    os.utime(build / '.last-used', (stamp, stamp))
    return build


def test_a_new_build_removes_outdated_ones_nobody_uses(tmp_path, monkeypatch):
    _build_into(monkeypatch, tmp_path)
    stale = _old_build(tmp_path, 'tiny-000000000000', images.STALE_DAYS + 1)
    image = images.ensure_image('tiny', log=lambda _msg: None)
    assert not stale.exists()
    assert os.path.exists(os.path.join(image.directory, '.complete'))
    assert os.path.exists(os.path.join(image.directory, '.last-used'))


def test_an_outdated_build_another_checkout_still_uses_stays(tmp_path, monkeypatch):
    """Several checkouts (branches whose recipes differ) share the cache: removing the build one of them used
    today would only make it build again, and remove this one in turn."""
    _build_into(monkeypatch, tmp_path)
    in_use = _old_build(tmp_path, 'tiny-111111111111', 0)
    images.ensure_image('tiny', log=lambda _msg: None)
    assert in_use.exists()


def test_the_full_image_has_a_uefi_disk_beside_its_direct_boot_disk():
    image = images._image('full', '/cache/full-x', 'x')     # pylint: disable=protected-access
    assert (image.disk, image.uefi_disk) == ('/cache/full-x/disk.qcow2', '/cache/full-x/uefi-disk.qcow2')
    assert images._image('tiny', '/cache/tiny-x', 'x').uefi_disk is None   # pylint: disable=protected-access
