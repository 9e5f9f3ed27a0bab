"""What the reliability suite tried, counted as tests pass, and printed at the end of the session.

Tests call ``tally.add('bad inputs tried', len(cases))`` once their checks have passed, so the
summary line counts only what was proven. Kinds are free text; the summary keeps the order in
which kinds first appeared.
"""
import json

COUNTS = {}


def add(kind, count=1):
    COUNTS[kind] = COUNTS.get(kind, 0) + count


def summary():
    """'12 bad inputs tried, 3 faults injected' or '' when nothing was counted."""
    return ', '.join('%d %s' % (count, kind) for kind, count in COUNTS.items())


def save(path, passed):
    with open(path, 'w') as handle:
        json.dump(dict(counts=COUNTS, passed=passed), handle)


def combined(paths):
    """One line for several sessions' saved counts (kinds in first-seen order), saying whether all of them passed."""
    total, passed = {}, True
    for path in paths:
        try:
            with open(path) as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            passed = False          # a session that saved nothing did not finish
            continue
        passed = passed and saved['passed']
        for kind, count in saved['counts'].items():
            total[kind] = total.get(kind, 0) + count
    counted = ', '.join('%d %s' % (count, kind) for kind, count in total.items()) or 'nothing counted'
    return '%s (%s)' % (counted, 'every test passed' if passed else 'NOT every test passed')


if __name__ == '__main__':
    import sys
    print('reliability suite, all lanes: ' + combined(sys.argv[1:]))
