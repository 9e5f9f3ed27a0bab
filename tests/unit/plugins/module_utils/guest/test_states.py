"""The one libvirt-state mapping (DESIGN.md's table)."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.guest import states


@pytest.mark.parametrize('code, name, number', [
    (0, 'nostate', 0),
    (1, 'running', 1),
    (2, 'running', 1),    # blocked counts as running
    (3, 'paused', 3),
    (4, 'shutdown', 4),   # shutting down
    (5, 'shutdown', 4),   # shut off
    (6, 'crashed', 6),
    (7, 'suspended', 7),  # pmsuspended
])
def test_each_libvirt_state(code, name, number):
    assert states.state_name(code) == name
    assert states.power_state(name) == number
    assert states.describe(code)['power_state'] == number


def test_managed_save_reads_as_suspended():
    assert states.state_name(5, managed_save=True) == 'suspended'
    assert states.describe(5, managed_save=True) == {'state': 'suspended', 'power_state': 7}
    # A running guest with a stale managed-save image is still running.
    assert states.state_name(1, managed_save=True) == 'running'


def test_paused_reason_is_reported():
    assert states.describe(3, reason=2) == {'state': 'paused', 'power_state': 3, 'paused_reason': 'migration'}
    assert states.describe(3, reason=5)['paused_reason'] == 'ioerror'
    assert states.describe(3, reason=99)['paused_reason'] == 'unknown'


def test_unknown_code_is_nostate():
    assert states.state_name(42) == 'nostate'
