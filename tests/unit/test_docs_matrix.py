"""docs/matrix.md: one row per feature of the hypervisor feature matrix, each naming code that exists.

The *code* column names the module_utils files (and roles) behind a feature; a file moved or renamed without the
matrix following would send a reader to nothing, so every name there must exist.
"""
import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(REPO_ROOT, 'plugins', 'module_utils')


def _rows():
    with open(os.path.join(REPO_ROOT, 'docs', 'matrix.md')) as handle:
        lines = handle.read().splitlines()
    header = next(line for line in lines if line.startswith('| # |'))
    columns = [cell.strip() for cell in header.strip('|').split(' | ')]
    rows = [line for line in lines if re.match(r'^\| \d+ \|', line)]
    return columns, [[cell.strip() for cell in row.strip('|').split(' | ')] for row in rows]


def test_every_row_names_existing_code():
    columns, rows = _rows()
    code = next(index for index, name in enumerate(columns) if name.startswith('code'))
    assert len(rows) == 43, 'the matrix has %d rows, the reference 43' % len(rows)
    missing = []
    for row in rows:
        assert len(row) == len(columns), 'row %s has %d cells, the header %d' % (row[0], len(row), len(columns))
        for name in re.findall(r'`([^`]+)`', row[code]):
            path = os.path.join(REPO_ROOT, name) if name.startswith('roles/') else os.path.join(MODULE_UTILS, name)
            if not os.path.exists(path):
                missing.append('row %s: %s' % (row[0], name))
    assert not missing, 'docs/matrix.md names code that does not exist: %s' % missing
