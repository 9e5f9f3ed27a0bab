"""Unit tests: pure logic, no lab; each gets a tight time limit (pytest-timeout) instead of the suite's default."""
import pytest

UNIT_TIMEOUT = 120


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker('timeout') is None and '/tests/unit/' in str(item.fspath):
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT))
