"""Test-wide setup: make the collection and the lab importable."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, '.build', 'collections')

for path in (COLLECTIONS_ROOT, os.path.join(REPO_ROOT, 'tests')):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', COLLECTIONS_ROOT)

pytest_plugins = ['lab.fixtures', 'lab.report', 'lab.fleet.fixtures', 'lab.hang_guard']

# End-to-end test files that use only lab hosts 2-7 and 9-12 and never change the main host: they run in
# lane B, beside the rest (scripts/run-tests.sh), which uses the main host and lab hosts 1 and 8 only.
# A molecule scenario is in lane B when its role is listed.
LANE_B_FILES = {'test_evacuate.py', 'test_maintenance.py', 'test_host_service.py', 'test_host_state.py',
                'test_placement_playbook.py', 'test_compute_host_role.py', 'test_migrate_tls.py', 'test_migrate.py',
                'test_migrate_dirty.py', 'test_concurrency.py', 'test_migrate_lost_answer.py'}
LANE_B_MOLECULE_ROLES = ('maintenance', 'evacuate', 'compute_host')


# End-to-end tests of the fleet lab (tests/e2e/fleet): they use only the fleet (its own hosts, bridge, addresses and
# shared directory), so they run in lane C, after lane B and beside lane A.
FLEET_DIR = os.path.join(REPO_ROOT, 'tests', 'e2e', 'fleet')


def pytest_configure(config):
    config.addinivalue_line('markers', 'lane_b: runs in the second lane of scripts/run-tests.sh')
    config.addinivalue_line('markers', 'fleet: a fleet lab test, in lane C of scripts/run-tests.sh')


def pytest_collection_modifyitems(items):
    import pytest
    for item in items:
        if str(item.fspath).startswith(FLEET_DIR + os.sep):
            item.add_marker(pytest.mark.fleet)
            continue
        base = os.path.basename(str(item.fspath))
        in_lane_b = base in LANE_B_FILES or (
            base == 'test_molecule.py' and any('[%s' % role in item.nodeid for role in LANE_B_MOLECULE_ROLES))
        if in_lane_b:
            item.add_marker(pytest.mark.lane_b)
    # On a fresh machine the full Debian image builds beside the lanes (scripts/run-tests.sh): the files that need
    # only the tiny image run first, while it builds. Whole files move, so their module fixtures are set up once.
    needs_full = {item.fspath for item in items if 'full_image' in getattr(item, 'fixturenames', ())}
    items[:] = [item for item in items if item.fspath not in needs_full] + [
        item for item in items if item.fspath in needs_full]
