"""The benchmark's tables, printed by `make bench` and written into docs/performance.md's "Latest run" section.

Three tables: the workloads measured against community.libvirt and the floor, module start-up measured against
a playbook of one ping task (rows that carry a ``reference``), and the fleet's rows measured against their floor
alone, with that ratio (rows that carry ``vs_floor``). A full run rewrites the section; a run of some groups only
(BENCH_ONLY) replaces the rows it measured, by workload, and keeps the others.
"""
import os
import re

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs', 'performance.md')
BEGIN = '<!-- latest run: written by make bench (bench/report.py) -->'
END = '<!-- end of latest run -->'
MAIN_HEAD = '| workload | ours | community.libvirt | ratio (ours/theirs) | floor |\n|---|---:|---:|---:|---:|'
STARTUP_TITLE = ('Module start-up, against a playbook of one `ansible.builtin.ping` task (`bench/startup.py`; the ratio is '
                 'the median of run-by-run pairs):')
STARTUP_HEAD = '| workload | ours | one ping task | ratio (ours/ping) |\n|---|---:|---:|---:|'
FLOOR_TITLE = ('On the fleet lab, over SSH, against the floor: the same libvirt calls from one Python process '
               '(`bench/fleet.py`; community.libvirt has no migration, drain or evacuation):')
FLOOR_HEAD = '| workload | ours | floor | ratio (ours/floor) |\n|---|---:|---:|---:|'


def _fmt(row, value):
    return ('%.0f ms' if row['unit'] == 'ms' else '%.2f s' if row.get('reference') else '%.1f s') % value


def row_line(row):
    """One table line for ``row`` (a start-up row when it has a ``reference``, a fleet row with ``vs_floor``)."""
    ours = _fmt(row, row['ours'])
    if row.get('vs_floor'):
        if row.get('floor'):
            ratio = row['ours'] / row['floor']
            return '| %s | %s | %s | %.2f |' % (row['workload'], ours, _fmt(row, row['floor']), ratio)
        return '| %s | %s | n/a | n/a |' % (row['workload'], ours)
    if row.get('reference'):
        ratio = row.get('ratio') or row['ours'] / row['reference']     # bench/startup.py gives the median of pairs
        return '| %s | %s | %s | %.2f |' % (row['workload'], ours, _fmt(row, row['reference']), ratio)
    ratio = '%.2f' % (row['ours'] / row['theirs']) if row.get('theirs') else 'n/a'
    theirs = _fmt(row, row['theirs']) if row.get('theirs') else 'n/a'
    floor = _fmt(row, row['floor']) if row.get('floor') is not None else 'n/a'
    return '| %s | %s | %s | %s | %s |' % (row['workload'], ours, theirs, ratio, floor)


def _kind(row):
    return 'startup' if row.get('reference') else 'floor' if row.get('vs_floor') else 'main'


def _render(main_lines, startup_lines, floor_lines=()):
    parts = []
    if main_lines:
        parts.append(MAIN_HEAD + '\n' + '\n'.join(main_lines))
    if startup_lines:
        parts.append(STARTUP_TITLE + '\n\n' + STARTUP_HEAD + '\n' + '\n'.join(startup_lines))
    if floor_lines:
        parts.append(FLOOR_TITLE + '\n\n' + FLOOR_HEAD + '\n' + '\n'.join(floor_lines))
    return '\n\n'.join(parts) + '\n'


def tables(rows):
    return _render(*[[row_line(row) for row in rows if _kind(row) == kind] for kind in ('main', 'startup', 'floor')])


def run_line(about):
    return ('Run %(date)s on %(cpus)d CPUs, %(platform)s, Python %(python)s, community.libvirt %(community_libvirt)s; '
            'medians of %(repeats)d runs up to 10 guests, one run above' % about)


def _partial_line(about, groups):
    return ('Measured again %s (BENCH_ONLY=%s, medians of %d runs): the rows of those groups; the others are from '
            'the run above.' % (about['date'], groups, about['repeats']))


def _existing_rows(section):
    """(main, startup, floor): ordered {workload: line} of the tables in the current section."""
    main, startup, floor, current = {}, {}, {}, None
    for line in section.splitlines():
        if line.startswith('| workload |'):
            current = startup if 'one ping task' in line else floor if 'ours/floor' in line else main
        elif line.startswith('| ') and current is not None:
            current[line.split('|')[1].strip()] = line
    return main, startup, floor


def update_performance_doc(about, rows, partial=None, path=DOC):
    """Write ``rows`` into the doc's section: all of it, or (``partial``: the BENCH_ONLY groups) just those rows."""
    with open(path) as handle:
        text = handle.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise RuntimeError('%s has no latest-run markers (%s ... %s)' % (path, BEGIN, END))
    heading = run_line(about)
    main, startup, floor = {}, {}, {}
    if partial:
        old = text[start:end]
        main, startup, floor = _existing_rows(old)
        previous = [line for line in old.splitlines() if line.startswith('Run ')]
        # each group's own "Measured again" line: another group's stays, this group's earlier one is replaced
        mine = '(BENCH_ONLY=%s,' % partial
        others = [line for line in old.splitlines() if line.startswith('Measured again ') and mine not in line]
        heading = '\n\n'.join([previous[0] if previous else heading] + others + [_partial_line(about, partial)])
    tables_by_kind = dict(main=main, startup=startup, floor=floor)
    for row in rows:
        tables_by_kind[_kind(row)][row['workload']] = row_line(row)
    section = '\n\n' + heading + '\n\n' + _render(list(main.values()), list(startup.values()),
                                                  list(floor.values())) + '\n'
    text = text[:start + len(BEGIN)] + section + text[end:]
    with open(path, 'w') as handle:
        handle.write(re.sub(r'\n{3,}', '\n\n', text))
