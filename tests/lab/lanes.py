"""What each lane of scripts/run-tests.sh ran, and the summary of a full run that the docs quote.

    python -m lab.lanes show LANE REPORT               the tests a lane ran, per file, and any that failed or
                                                       did not run (REPORT: the lane's VIRTOPS_LANE_REPORT file)
    python -m lab.lanes summary SECONDS A=REPORT,TALLY B=REPORT,TALLY
                                                       write docs/reliability-summary.md from a full run and
                                                       refresh the quoted block in README.md and docs/reliability.md

A full run's summary is the record the docs point to; a partial run (run-tests.sh with arguments) writes none.
The quoted block holds only what changes when the suite changes (results and counts), so a run that proves the
same as the last one leaves README.md and docs/reliability.md as they were.
"""
import datetime
import json
import os
import re
import subprocess
import sys

from lab import tally

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUMMARY = os.path.join(REPO, 'docs', 'reliability-summary.md')
QUOTING = (os.path.join(REPO, 'README.md'), os.path.join(REPO, 'docs', 'reliability.md'))
BEGIN, END = '<!-- reliability-summary: written by scripts/run-tests.sh -->', '<!-- /reliability-summary -->'
QUOTE = re.compile(re.escape(BEGIN) + '.*?' + re.escape(END), re.S)
NO_RUN_YET = 'No full run has been recorded yet: `make test` writes this.'


def load_report(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def outcomes(report):
    counted = {}
    for entry in (report or {}).get('tests', {}).values():
        counted[entry['outcome']] = counted.get(entry['outcome'], 0) + 1
    return counted


def show(lane, report):
    """Lines that say which tests a lane ran: a count per file, then each test that did not pass."""
    if report is None:
        return ['lane %s: no report (the lane did not finish)' % lane]
    per_file = {}
    for nodeid in report['tests']:
        path = nodeid.split('::')[0]
        per_file[path] = per_file.get(path, 0) + 1
    counted = outcomes(report)
    lines = ['lane %s ran %d tests (%s) from %d files:' % (
        lane, len(report['tests']), ', '.join('%d %s' % (n, outcome) for outcome, n in sorted(counted.items())),
        len(per_file))]
    lines += ['  %4d  %s' % (count, path) for path, count in sorted(per_file.items())]
    for nodeid, entry in sorted(report['tests'].items()):
        if entry['outcome'] != 'passed':
            lines.append('  %s: %s %s' % (entry['outcome'].upper(), nodeid, entry.get('reason', '')))
    return lines


def quoted_block(summary_text):
    """The block README.md and docs/reliability.md quote: the summary's result and counts lines."""
    kept = [line for line in summary_text.splitlines() if line.startswith(('- result:', '- tests:', '- proven:'))]
    body = '\n'.join(kept) if kept else NO_RUN_YET
    return '%s\nLast full run of the suite (details, date and commit in `docs/reliability-summary.md`):\n\n%s\n%s' % (
        BEGIN, body, END)


def refresh_quotes(summary_text, paths=QUOTING):
    """Put the summary's block into each quoting file (in place of its old one); returns the files changed."""
    changed = []
    block = quoted_block(summary_text)
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        if not QUOTE.search(text):
            raise ValueError('%s has no reliability-summary block to refresh' % path)
        new = QUOTE.sub(lambda _match: block, text)
        if new != text:
            with open(path, 'w') as handle:
                handle.write(new)
            changed.append(path)
    return changed


def _commit():
    try:
        return subprocess.run(['git', '-C', REPO, 'describe', '--always', '--dirty'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def render(seconds, lanes, finished=None, commit=None):
    """docs/reliability-summary.md for a full run; ``lanes``: [(name, report, tally paths)]."""
    reports = [report for _name, report, _tally in lanes]
    passed = all(report is not None and report['exitstatus'] == 0 for report in reports)
    cases, tallies_passed = tally.load([path for _name, _report, paths in lanes for path in paths])
    counted = {}
    for report in reports:
        for outcome, n in outcomes(report).items():
            counted[outcome] = counted.get(outcome, 0) + n
    finished = finished or datetime.datetime.now(datetime.timezone.utc)
    lines = [
        '<!-- Written by scripts/run-tests.sh (`make test`) at the end of a full run; do not edit by hand. -->',
        '# Reliability summary of the last full run',
        '',
        '- result: %s' % ('every test passed' if passed and tallies_passed else 'NOT every test passed'),
        '- tests: %d run, %s' % (sum(counted.values()),
                                 ', '.join('%d %s' % (n, outcome) for outcome, n in sorted(counted.items())) or 'none'),
        '- proven: %s' % (tally.line(cases) or 'nothing counted'),
        '- run: commit %s, finished %s, %d min' % (commit or _commit(), finished.strftime('%Y-%m-%d %H:%M UTC'),
                                                   round(seconds / 60)),
        '',
        'Distinct cases only: a case counts once, and only when the test that checked it passed '
        '(`tests/lab/tally.py`).',
        '',
        '| lane | tests | result |',
        '|---|---|---|',
    ]
    for name, report, _paths in lanes:
        lines.append('| %s | %d | %s |' % (name, len(report['tests']) if report else 0,
                                           'passed' if report and report['exitstatus'] == 0 else 'FAILED'))
    return '\n'.join(lines) + '\n'


def main(argv):
    if argv[:1] == ['show'] and len(argv) == 3:
        print('\n'.join(show(argv[1], load_report(argv[2]))))
        return 0
    if argv[:1] == ['summary'] and len(argv) >= 3:
        lanes = []
        for spec in argv[2:]:
            name, paths = spec.split('=', 1)
            report, tally_path = paths.split(',', 1)
            lanes.append((name, load_report(report), [tally_path]))
        text = render(float(argv[1]), lanes)
        with open(SUMMARY, 'w') as handle:
            handle.write(text)
        changed = refresh_quotes(text)
        print('wrote %s%s' % (os.path.relpath(SUMMARY, REPO),
                              ''.join('; updated ' + os.path.relpath(path, REPO) for path in changed)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
