"""Planning a dir pool: what present/active/inactive/absent make of the pool as it is, and what is refused."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.storage.pools import plan_pool, run_state, validate

CURRENT = dict(name='p1', type='dir', path='/srv/p1', state='inactive', autostart=False, capacity_bytes=None,
               allocation_bytes=None, available_bytes=None, volumes=[])


def params(**overrides):
    base = dict(name='p1', type='dir', path=None, state='present', autostart=None, delete_path=False)
    base.update(overrides)
    return base


@pytest.mark.parametrize('state, wanted', [('present', 'active'), ('active', 'active'), ('inactive', 'inactive'),
                                           ('absent', 'absent')])
def test_present_means_running(state, wanted):
    assert run_state(state) == wanted


def test_new_pool_needs_a_path():
    with pytest.raises(VirtopsError, match=r"^storage pool 'p1' does not exist and path is needed to define it\.$"):
        plan_pool(None, params())


def test_new_pool_is_normalised_and_autostarts_when_it_is_to_run():
    wanted = plan_pool(None, params(path='/srv//p1/'))
    assert wanted == dict(name='p1', type='dir', path='/srv/p1', state='active', autostart=True)
    assert plan_pool(None, params(path='/srv/p1', state='inactive'))['autostart'] is False
    assert plan_pool(None, params(path='/srv/p1', autostart=False))['autostart'] is False


def test_existing_pool_keeps_what_is_left_out():
    wanted = plan_pool(dict(CURRENT, autostart=True), params())
    assert wanted == dict(name='p1', type='dir', path='/srv/p1', state='active', autostart=True)
    assert plan_pool(CURRENT, params(state='inactive', path='/srv/p1/'))['state'] == 'inactive'


def test_path_change_is_refused_naming_both_paths():
    with pytest.raises(VirtopsError) as err:
        plan_pool(CURRENT, params(path='/srv/elsewhere'))
    assert "'/srv/elsewhere'" in str(err.value) and "'/srv/p1'" in str(err.value) and 'state=absent' in str(err.value)


def test_pool_of_another_type_is_refused():
    with pytest.raises(VirtopsError, match="'logical' pool, not 'dir'"):
        plan_pool(dict(CURRENT, type='logical'), params())
    with pytest.raises(VirtopsError, match='delete_path only deletes the directory of a dir pool'):
        plan_pool(dict(CURRENT, type='logical'), params(state='absent', delete_path=True))
    assert plan_pool(dict(CURRENT, type='logical'), params(state='absent')) is None


def test_absent_plans_nothing_left():
    assert plan_pool(None, params(state='absent')) is None
    assert plan_pool(CURRENT, params(state='absent', delete_path=True)) is None


@pytest.mark.parametrize('name, path, text', [
    ('', None, 'must be non-empty'),
    ('a/b', None, "without '/'"),
    (' p1', None, 'surrounding spaces'),
    ('p1', 'relative', "path 'relative' must be absolute"),
])
def test_validate_refuses_bad_names_and_paths(name, path, text):
    with pytest.raises(VirtopsError, match=text):
        validate(params(name=name, path=path))
