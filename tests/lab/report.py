"""pytest plugin: what ran and how it ended, for scripts/run-tests.sh and the reliability tally.

- A skipped test (or an xfail/xpass) fails the session: a test that did not run proves nothing, and CI must
  not print "passed" over it. The skipped tests are listed with their reasons.
- Each test's outcome and duration go to the JSON file named by VIRTOPS_LANE_REPORT (run-tests.sh prints the
  tests each lane ran from it, and writes docs/reliability-summary.md).
- The test running now is written to the file named by VIRTOPS_CURRENT_TEST, so that a lane stopped by its
  time limit can say where it hung.
- The tally's cases (lab.tally) are kept only for tests that passed, and saved to VIRTOPS_TALLY_FILE.
- SIGTERM (a lane's time limit running out) interrupts the session like Ctrl-C, so fixtures still tear down.
"""
import json
import os
import signal

import pytest

from lab import tally

_OUTCOMES = {}          # nodeid -> dict(outcome, seconds, reason)
_NOT_RUN = ('skipped', 'xfailed', 'xpassed')


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt('SIGTERM: the run was stopped (its time limit ran out, or it was asked to stop)')


def pytest_configure(config):
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _record(report):
    entry = _OUTCOMES.setdefault(report.nodeid, dict(outcome='passed', seconds=0.0, reason=''))
    entry['seconds'] = round(entry['seconds'] + report.duration, 2)
    if hasattr(report, 'wasxfail'):
        entry.update(outcome='xpassed' if report.passed else 'xfailed', reason=report.wasxfail)
    elif report.skipped and entry['outcome'] == 'passed':
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        entry.update(outcome='skipped', reason=reason.replace('Skipped: ', '', 1))
    elif report.failed:
        entry['outcome'] = 'failed' if report.when == 'call' else 'error'


def pytest_runtest_logstart(nodeid, location):
    where = os.environ.get('VIRTOPS_CURRENT_TEST')
    if where:
        with open(where, 'w') as handle:
            handle.write(nodeid + '\n')
    tally.begin(location[0])


def pytest_runtest_logreport(report):
    _record(report)
    if report.when == 'teardown':
        tally.commit(_OUTCOMES[report.nodeid]['outcome'] == 'passed')


def not_run():
    return {nodeid: entry for nodeid, entry in _OUTCOMES.items() if entry['outcome'] in _NOT_RUN}


def pytest_sessionfinish(session, exitstatus):
    if not_run() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    path = os.environ.get('VIRTOPS_LANE_REPORT')
    if path:
        with open(path, 'w') as handle:
            json.dump(dict(exitstatus=int(session.exitstatus), tests=_OUTCOMES), handle, indent=1)
    if os.environ.get('VIRTOPS_TALLY_FILE'):
        tally.save(os.environ['VIRTOPS_TALLY_FILE'], passed=session.exitstatus == pytest.ExitCode.OK)


def pytest_terminal_summary(terminalreporter):
    skipped = not_run()
    if skipped:
        terminalreporter.write_sep('=', 'FAILED: %d test(s) did not run (a skip proves nothing)' % len(skipped),
                                   red=True)
        for nodeid, entry in sorted(skipped.items()):
            terminalreporter.write_line('%s %s: %s' % (entry['outcome'].upper(), nodeid, entry['reason']))
    counted = tally.line()
    if counted:
        terminalreporter.write_sep('=', 'reliability suite: ' + counted)
