"""The reliability suite's counts: distinct cases of passed tests, added up over the lanes of scripts/run-tests.sh."""
import json

import pytest

from lab import tally


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(tally, 'CASES', {})
    monkeypatch.setattr(tally, '_RUNNING', dict(where='', cases=[]))


def _test(where, passed, *cases):
    tally.begin(where)
    for kind, name in cases:
        tally.case(kind, name)
    tally.commit(passed)


def test_a_case_counts_once_however_often_it_runs():
    _test('tests/e2e/test_a.py', True, ('bad inputs tried', 'memory 0'), ('bad inputs tried', 'memory 0'))
    _test('tests/e2e/test_a.py', True, ('bad inputs tried', 'memory 0'), ('bad inputs tried', 'vcpus 0'))
    assert tally.line() == '2 bad inputs tried'


def test_cases_of_a_failed_test_are_dropped():
    _test('tests/e2e/test_a.py', False, ('faults injected', 'QEMU killed'))
    _test('tests/e2e/test_a.py', True, ('faults injected', 'disk full'))
    assert tally.counts() == {'faults injected': 1}


def test_two_files_cases_of_one_name_stay_two():
    _test('tests/e2e/test_a.py', True, ('bad inputs tried', 'no name'))
    _test('tests/e2e/test_b.py', True, ('bad inputs tried', 'no name'))
    assert tally.counts() == {'bad inputs tried': 2}


def _saved(tmp_path, name, cases, passed):
    path = tmp_path / name
    path.write_text(json.dumps(dict(cases=cases, passed=passed)))
    return str(path)


def test_lanes_add_up_distinct_cases_in_first_seen_order(tmp_path):
    paths = [_saved(tmp_path, 'a.json', {'bad inputs tried': ['a::1', 'a::2', 'a::3'], 'faults injected': ['a::x']},
                    True),
             _saved(tmp_path, 'b.json', {'faults injected': ['b::y', 'a::x'], 'secrets looked for': ['b::s']}, True)]
    assert tally.combined(paths) == ('3 bad inputs tried, 2 faults injected, 1 secrets looked for '
                                     '(every test passed)')


def test_a_failed_or_missing_lane_is_said(tmp_path):
    failed = _saved(tmp_path, 'a.json', {'faults injected': ['a::x']}, False)
    assert tally.combined([failed]).endswith('(NOT every test passed)')
    assert tally.combined([str(tmp_path / 'never-written.json')]) == 'nothing counted (NOT every test passed)'


def test_save_writes_what_combined_reads(tmp_path):
    _test('tests/e2e/test_walk.py', True, *[('integrity steps checked', step) for step in ('pause', 'migrate')])
    path = str(tmp_path / 'lane.json')
    tally.save(path, passed=True)
    assert tally.combined([path]) == '2 integrity steps checked (every test passed)'
