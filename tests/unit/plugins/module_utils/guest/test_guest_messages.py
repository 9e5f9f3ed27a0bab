"""What a user reads when a guest change cannot go ahead as asked: units, restarts, suspending a stopped guest,
and the progress lines of long waits (pure logic, fake module, fake domain, fake clock)."""
import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtops.compute.plugins.module_utils.common import explain_unit
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest import progress
from ansible_collections.virtops.compute.plugins.module_utils.guest.converge import GuestConverger
from ansible_collections.virtops.compute.plugins.module_utils.guest.options import GUEST_OPTIONS
from ansible_collections.virtops.compute.plugins.module_utils.guests.item_options import ITEM_OPTIONS, spec_error


def _type_error(spec, params):
    result = ArgumentSpecValidator(spec).validate(params)
    assert result.error_messages, params
    return result.error_messages[0]


@pytest.mark.parametrize('option, value, unit', [('memory_mb', '2G', 'MiB (2048 is 2 GiB)'),
                                                 ('max_memory_mb', 1.5, 'MiB (2048 is 2 GiB)'),
                                                 ('root_size_gb', '20GiB', 'GiB (20 is 20 GiB)')])
def test_a_size_with_a_unit_gets_a_sentence_naming_the_unit(option, value, unit):
    message = explain_unit(_type_error(GUEST_OPTIONS, {'name': 'web1', option: value}))
    assert message == '%s is a whole number of %s, not %s.' % (option, unit, repr(value) if isinstance(value, str) else value)


def test_a_volume_size_inside_an_item_names_where_it_is():
    error = spec_error(ArgumentSpecValidator(ITEM_OPTIONS).validate(
        {'name': 'web1', 'volumes': [{'target': 'vdb', 'path': '/srv/d.img', 'size_gb': '10G'}]}))
    assert error == "size_gb (in volumes) is a whole number of GiB (20 is 20 GiB), not '10G'"


def test_other_type_errors_are_left_as_ansible_words_them():
    message = _type_error(GUEST_OPTIONS, {'name': 'web1', 'vcpus': 'many'})
    assert explain_unit(message) == message


class FakeModule:
    def __init__(self, check=False, **params):
        self.conn = None
        self.params = dict(dict((key, spec.get('default')) for key, spec in GUEST_OPTIONS.items()), name='web1', **params)
        self.check_mode = check
        self.diff_mode = False
        self.warnings = []
        self.lines = []

    def warn(self, message):
        self.warnings.append(message)

    def log(self, message):
        self.lines.append(message)


CURRENT = dict(vcpus=1, max_vcpus=1, memory_mb=512, max_memory_mb=512)


def test_the_restart_refusal_names_the_maximum_that_grows_live_next_time():
    converger = GuestConverger(FakeModule(vcpus=2, memory_mb=1024))
    msg = converger._restart_refusal(['vcpus', 'memory_mb'], CURRENT)
    assert msg == ("guest 'web1': changing vcpus, memory_mb needs a restart of the running guest (it has no room to "
                   "grow live beyond max_vcpus 1 and max_memory_mb 512); set allow_restart to true to allow it, and "
                   "give it max_vcpus above vcpus and max_memory_mb above memory_mb so that later changes up to them "
                   "apply live.")
    other = converger._restart_refusal(['firmware'], CURRENT)
    assert other == "guest 'web1': changing firmware needs a restart of the running guest; set allow_restart to true to allow it."
    # raising the maximum in the same change is already the way: no advice
    both = converger._restart_refusal(['vcpus', 'max_vcpus'], CURRENT)
    assert 'give it' not in both and 'max_vcpus 1' in both


def test_a_needed_restart_fails_a_real_run_but_is_reported_by_a_check_run():
    real = GuestConverger(FakeModule(vcpus=2))
    with pytest.raises(VirtopsError, match='needs a restart'):
        real.need_restart(['vcpus'], "guest 'web1': changing vcpus needs a restart.")
    module = FakeModule(check=True, vcpus=2)
    checked = GuestConverger(module)
    checked.need_restart(['vcpus'], "guest 'web1': changing vcpus needs a restart.")
    checked.need_restart(['root_size_gb'], "guest 'web1': growing the root file system needs the guest off.")
    assert checked.restart == dict(needed_for=['vcpus', 'root_size_gb'], allowed=False)
    assert module.warnings[0] == "guest 'web1': changing vcpus needs a restart (check mode: a real run fails here)."
    allowed = GuestConverger(FakeModule(vcpus=2, allow_restart=True))
    allowed.need_restart(['vcpus'], 'unused')
    assert allowed.restart == dict(needed_for=['vcpus'], allowed=True)


class FakeDomain:
    def __init__(self, state, managed_save=False):
        self._state, self._save = state, managed_save

    def state(self):
        return [self._state, 0]

    def hasManagedSaveImage(self, _flags):
        return self._save


def test_suspending_a_guest_with_no_memory_to_save_is_refused():
    converger = GuestConverger(FakeModule(state='suspended'))
    with pytest.raises(VirtopsError, match=r"^guest 'web1' is stopped; state suspended saves the memory of a running"):
        converger.refuse_suspending_nothing(FakeDomain(5))
    with pytest.raises(VirtopsError, match=r"^guest 'web1' does not exist yet; state suspended"):
        converger.refuse_suspending_nothing(None)
    for running_paused_or_saved in (FakeDomain(1), FakeDomain(3), FakeDomain(5, managed_save=True)):
        converger.refuse_suspending_nothing(running_paused_or_saved)


def test_a_long_wait_logs_a_line_every_ten_seconds():
    now = [100.0]
    lines = []
    ticker = progress.Ticker(lines.append, "guest 'web1': waiting for a clean shutdown (ACPI request)",
                             'shutdown_timeout', 120, clock=lambda: now[0])
    for _second in range(25):
        now[0] += 1
        ticker.tick(last='still running')
    assert lines == ["guest 'web1': waiting for a clean shutdown (ACPI request): 10 s of shutdown_timeout (120 s); "
                     "last: still running",
                     "guest 'web1': waiting for a clean shutdown (ACPI request): 20 s of shutdown_timeout (120 s); "
                     "last: still running"]
