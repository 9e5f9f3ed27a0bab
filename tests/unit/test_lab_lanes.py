"""What run-tests.sh prints per lane, and the summary of a full run that README.md and docs/reliability.md quote."""
import datetime
import json

from lab import lanes


def _report(tmp_path, name, exitstatus, **outcomes):
    path = tmp_path / name
    tests = {'tests/e2e/test_%s.py::test_%s' % (test.split('_')[0], test): dict(outcome=outcome, seconds=1.0, reason='')
             for test, outcome in outcomes.items()}
    path.write_text(json.dumps(dict(exitstatus=exitstatus, tests=tests)))
    return lanes.load_report(str(path))


def _tally(tmp_path, name, cases, passed=True):
    path = tmp_path / name
    path.write_text(json.dumps(dict(cases=cases, passed=passed)))
    return str(path)


def test_show_counts_tests_per_file_and_names_what_did_not_pass(tmp_path):
    report = _report(tmp_path, 'a.json', 1, volume_grow='passed', volume_shrink='skipped', guest_x='passed')
    lines = lanes.show('A', report)
    assert lines[0] == 'lane A ran 3 tests (2 passed, 1 skipped) from 2 files:'
    assert '     2  tests/e2e/test_volume.py' in lines and '     1  tests/e2e/test_guest.py' in lines
    assert lines[-1].startswith('  SKIPPED: tests/e2e/test_volume.py::test_volume_shrink')
    assert lanes.show('B', None) == ['lane B: no report (the lane did not finish)']


def test_a_full_runs_summary_and_the_quoted_block(tmp_path):
    a = _report(tmp_path, 'a.json', 0, guest_one='passed', guest_two='passed')
    b = _report(tmp_path, 'b.json', 0, migrate_one='passed')
    text = lanes.render(2040, [('A', a, [_tally(tmp_path, 'ta.json', {'bad inputs tried': ['x::1', 'x::2']})]),
                               ('B', b, [_tally(tmp_path, 'tb.json', {'faults injected': ['y::1']})])],
                        finished=datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.timezone.utc), commit='abc1234')
    assert '- result: every test passed' in text and '- tests: 3 run, 3 passed' in text
    assert '- proven: 2 bad inputs tried, 1 faults injected' in text
    assert '- run: commit abc1234, finished 2026-12-06 12:00 UTC, 34 min' in text
    block = lanes.quoted_block(text)
    assert '- proven: 2 bad inputs tried, 1 faults injected' in block and 'abc1234' not in block

    quoting = tmp_path / 'README.md'
    quoting.write_text('intro\n%s\nold\n%s\nrest\n' % (lanes.BEGIN, lanes.END))
    assert lanes.refresh_quotes(text, [str(quoting)]) == [str(quoting)]
    assert quoting.read_text() == 'intro\n%s\nrest\n' % block
    assert lanes.refresh_quotes(text, [str(quoting)]) == [], 'the same run refreshed the file again'


def test_a_failed_lane_is_said(tmp_path):
    a = _report(tmp_path, 'a.json', 1, guest_one='failed')
    text = lanes.render(60, [('A', a, [_tally(tmp_path, 'ta.json', {}, passed=False)]), ('B', None, [])])
    assert '- result: NOT every test passed' in text and '| B | 0 | FAILED |' in text


def test_the_docs_quote_the_summary_as_it_stands():
    """README.md and docs/reliability.md hold the block the last full run wrote, not numbers typed by hand."""
    with open(lanes.SUMMARY) as handle:
        block = lanes.quoted_block(handle.read())
    for path in lanes.QUOTING:
        with open(path) as handle:
            assert block in handle.read(), '%s does not quote docs/reliability-summary.md as it stands' % path
