"""bench/report.py: the tables `make bench` prints and writes into docs/performance.md's "Latest run" section."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from bench import report  # noqa: E402  (the repository root, put on the path above)

ABOUT = dict(date='2026-12-06 12:00 UTC', cpus=2, platform='Linux', python='3.11.7', community_libvirt='2.0.0',
             repeats=5)
CONVERGE = dict(workload='converge 10 guests from nothing, batch', ours=5.0, theirs=20.0, floor=6.0, unit='s')
STARTUP = dict(workload='one no-op module run over one ping task: guest', ours=1.2, reference=0.8, unit='s')


def _doc(tmp_path, body='old'):
    path = tmp_path / 'performance.md'
    path.write_text('# Performance\n\n## Latest run\n\n%s\n\n%s\n%s\n\n## After\n' % (report.BEGIN, body, report.END))
    return str(path)


def test_a_full_run_rewrites_the_section_with_both_tables_and_ratios(tmp_path):
    path = _doc(tmp_path)
    report.update_performance_doc(ABOUT, [CONVERGE, STARTUP], path=path)
    text = open(path).read()
    assert 'old' not in text and text.endswith('## After\n')
    assert '| converge 10 guests from nothing, batch | 5.0 s | 20.0 s | 0.25 | 6.0 s |' in text
    assert '| one no-op module run over one ping task: guest | 1.20 s | 0.80 s | 1.50 |' in text
    assert text.count('Run 2026-12-06 12:00 UTC') == 1


def test_a_partial_run_replaces_only_its_rows(tmp_path):
    path = _doc(tmp_path)
    report.update_performance_doc(ABOUT, [CONVERGE, STARTUP], path=path)
    faster = dict(STARTUP, ours=0.96)
    later = dict(ABOUT, date='2026-12-07 08:00 UTC')
    for _run in range(2):
        report.update_performance_doc(later, [faster], partial='startup', path=path)
    text = open(path).read()
    assert '| converge 10 guests from nothing, batch | 5.0 s | 20.0 s | 0.25 | 6.0 s |' in text
    assert '| one no-op module run over one ping task: guest | 0.96 s | 0.80 s | 1.20 |' in text
    assert '1.50 |' not in text
    assert text.count('Run 2026-12-06 12:00 UTC') == 1 and text.count('Measured again 2026-12-07 08:00 UTC') == 1


FLEET = dict(workload='fleet: drain a host of 8 tiny guests over SSH, serial (concurrency 1)', ours=30.0, theirs=None,
             floor=12.0, unit='s', vs_floor=True)


def test_fleet_rows_have_a_table_of_their_own_with_the_ratio_to_the_floor(tmp_path):
    path = _doc(tmp_path)
    report.update_performance_doc(ABOUT, [CONVERGE, STARTUP], path=path)
    later = dict(ABOUT, date='2026-12-07 08:00 UTC')
    for _run in range(2):
        report.update_performance_doc(later, [FLEET], partial='fleet', path=path)
    report.update_performance_doc(later, [dict(FLEET, ours=24.0)], partial='fleet', path=path)
    text = open(path).read()
    assert text.count(report.FLOOR_HEAD) == 1 and text.count('| fleet: drain') == 1
    assert '| fleet: drain a host of 8 tiny guests over SSH, serial (concurrency 1) | 24.0 s | 12.0 s | 2.00 |' in text
    # the other tables are kept as they were
    assert '| converge 10 guests from nothing, batch | 5.0 s | 20.0 s | 0.25 | 6.0 s |' in text
    assert '| one no-op module run over one ping task: guest | 1.20 s | 0.80 s | 1.50 |' in text
    assert report.tables([dict(FLEET, floor=None)]).endswith('| 30.0 s | n/a | n/a |\n')


def test_partial_runs_of_different_groups_each_keep_their_line(tmp_path):
    path = _doc(tmp_path)
    report.update_performance_doc(ABOUT, [CONVERGE, STARTUP], path=path)
    report.update_performance_doc(dict(ABOUT, date='2026-12-07 08:00 UTC'), [STARTUP], partial='startup', path=path)
    report.update_performance_doc(dict(ABOUT, date='2026-12-08 08:00 UTC'), [FLEET], partial='fleet', path=path)
    report.update_performance_doc(dict(ABOUT, date='2026-12-09 08:00 UTC'), [FLEET], partial='fleet', path=path)
    text = open(path).read()
    assert 'Measured again 2026-12-07 08:00 UTC (BENCH_ONLY=startup,' in text
    assert 'Measured again 2026-12-09 08:00 UTC (BENCH_ONLY=fleet,' in text
    assert '2026-12-08' not in text and text.count('Run 2026-12-06 12:00 UTC') == 1
