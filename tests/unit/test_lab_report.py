"""lab.report in a pytest session of its own: a skip fails the session, outcomes and tally cases are written."""
import json
import os
import subprocess
import sys

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SESSION = '''
import pytest
from lab import tally

def test_passes():
    tally.case('bad inputs tried', 'kept')

def test_fails():
    tally.case('bad inputs tried', 'dropped')
    assert False

def test_skips():
    pytest.skip('a reason nobody reads')
'''


def _session(tmp_path, source, *tests):
    """Run ``tests`` (names in ``source``; all when none) in a pytest session with lab.report."""
    (tmp_path / 'test_session.py').write_text(source)
    targets = ['%s::%s' % (tmp_path / 'test_session.py', name) for name in tests] or [str(tmp_path / 'test_session.py')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS_DIR] + sys.path),
               VIRTOPS_LANE_REPORT=str(tmp_path / 'report.json'), VIRTOPS_TALLY_FILE=str(tmp_path / 'tally.json'),
               VIRTOPS_CURRENT_TEST=str(tmp_path / 'current'))
    run = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'lab.report', '-p', 'no:cacheprovider', '-c', os.devnull,
                          '--rootdir', str(tmp_path)] + targets,
                         capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120, check=False)
    with open(tmp_path / 'report.json') as handle:
        report = json.load(handle)
    with open(tmp_path / 'tally.json') as handle:
        saved = json.load(handle)
    return run, report, saved


def test_a_skip_alone_fails_the_session_and_is_named(tmp_path):
    run, report, _saved = _session(tmp_path, SESSION, 'test_passes', 'test_skips')
    assert run.returncode == 1, run.stdout
    assert 'did not run' in run.stdout and 'test_skips: a reason nobody reads' in run.stdout, run.stdout
    assert report['exitstatus'] == 1
    assert {nodeid.split('::')[1]: entry['outcome'] for nodeid, entry in report['tests'].items()} == {
        'test_passes': 'passed', 'test_skips': 'skipped'}


def test_outcomes_and_only_passed_tests_cases_are_kept(tmp_path):
    run, report, saved = _session(tmp_path, SESSION)
    assert run.returncode == 1
    assert sorted(entry['outcome'] for entry in report['tests'].values()) == ['failed', 'passed', 'skipped']
    assert saved == dict(cases={'bad inputs tried': ['test_session.py::kept']}, passed=False)
    assert (tmp_path / 'current').read_text().strip().endswith('test_skips')


def test_a_clean_session_passes(tmp_path):
    run, report, saved = _session(tmp_path, SESSION, 'test_passes')
    assert run.returncode == 0, run.stdout
    assert report['exitstatus'] == 0 and saved['passed'] is True
