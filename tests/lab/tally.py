"""What the reliability suite proved: distinct cases, counted only when the test that ran them passed.

A test names each case it checks with ``tally.case('bad inputs tried', 'guest: memory_mb 0')``. The case is
held until the test ends and kept only if it passed (lab.report commits or drops it), and it counts once
however often it runs: a case is its kind, its test file and its name. Kinds are free text; summaries keep
the order in which kinds first appeared.

``python -m lab.tally FILE...`` prints one line for several sessions' saved cases (the two lanes of
scripts/run-tests.sh).
"""
import json

CASES = {}          # kind -> {case key}
_RUNNING = dict(where='', cases=[])     # the test running now: its file, and the cases it named so far


def begin(where):
    """A test in file ``where`` starts (called by lab.report)."""
    _RUNNING.update(where=where, cases=[])


def case(kind, name):
    """Record that the running test checked case ``name`` of ``kind``."""
    _RUNNING['cases'].append((kind, '%s::%s' % (_RUNNING['where'], name)))


def commit(passed):
    """The running test ended (called by lab.report): keep its cases if it ``passed``, drop them otherwise."""
    if passed:
        for kind, key in _RUNNING['cases']:
            CASES.setdefault(kind, set()).add(key)
    _RUNNING['cases'] = []


def counts(cases=None):
    return {kind: len(keys) for kind, keys in (CASES if cases is None else cases).items()}


def line(cases=None):
    """'12 bad inputs tried, 3 faults injected' or '' when nothing was counted."""
    return ', '.join('%d %s' % (count, kind) for kind, count in counts(cases).items())


def save(path, passed):
    with open(path, 'w') as handle:
        json.dump(dict(cases={kind: sorted(keys) for kind, keys in CASES.items()}, passed=passed), handle, indent=1)


def load(paths):
    """(the union of several sessions' cases, whether every session saved its cases and passed)."""
    total, passed = {}, True
    for path in paths:
        try:
            with open(path) as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            passed = False          # a session that saved nothing did not finish
            continue
        passed = passed and saved['passed']
        for kind, keys in saved['cases'].items():
            total.setdefault(kind, set()).update(keys)
    return total, passed


def combined(paths):
    """One line for several sessions' saved cases, saying whether all of them passed."""
    total, passed = load(paths)
    return '%s (%s)' % (line(total) or 'nothing counted', 'every test passed' if passed else 'NOT every test passed')


if __name__ == '__main__':
    import sys
    print('reliability suite, all lanes: ' + combined(sys.argv[1:]))
