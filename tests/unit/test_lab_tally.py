"""The reliability suite's counts: one line for the two lanes of scripts/run-tests.sh."""
import json

from lab import tally


def _saved(tmp_path, name, counts, passed):
    path = tmp_path / name
    path.write_text(json.dumps(dict(counts=counts, passed=passed)))
    return str(path)


def test_lanes_add_up_in_first_seen_order(tmp_path):
    paths = [_saved(tmp_path, 'a.json', {'bad inputs tried': 3, 'faults injected': 2}, True),
             _saved(tmp_path, 'b.json', {'faults injected': 1, 'secrets scanned': 5}, True)]
    assert tally.combined(paths) == '3 bad inputs tried, 3 faults injected, 5 secrets scanned (every test passed)'


def test_a_failed_or_missing_lane_is_said(tmp_path):
    failed = _saved(tmp_path, 'a.json', {'faults injected': 1}, False)
    assert tally.combined([failed]).endswith('(NOT every test passed)')
    assert tally.combined([str(tmp_path / 'never-written.json')]) == 'nothing counted (NOT every test passed)'


def test_save_writes_what_combined_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(tally, 'COUNTS', {})
    tally.add('integrity steps checked', 7)
    path = str(tmp_path / 'lane.json')
    tally.save(path, passed=True)
    assert tally.combined([path]) == '7 integrity steps checked (every test passed)'
