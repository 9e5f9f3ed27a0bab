"""Test-wide setup: make the collection and the lab importable."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, '.build', 'collections')

for path in (COLLECTIONS_ROOT, os.path.join(REPO_ROOT, 'tests')):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', COLLECTIONS_ROOT)

pytest_plugins = ['lab.fixtures']
