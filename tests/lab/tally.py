"""What the reliability suite tried, counted as tests pass, and printed at the end of the session.

Tests call ``tally.add('bad inputs tried', len(cases))`` once their checks have passed, so the
summary line counts only what was proven. Kinds are free text; the summary keeps the order in
which kinds first appeared.
"""
COUNTS = {}


def add(kind, count=1):
    COUNTS[kind] = COUNTS.get(kind, 0) + count


def summary():
    """'12 bad inputs tried, 3 faults injected' or '' when nothing was counted."""
    return ', '.join('%d %s' % (count, kind) for kind, count in COUNTS.items())
