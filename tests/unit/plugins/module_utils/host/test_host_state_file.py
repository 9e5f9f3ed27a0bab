"""The host's service state file: reading, atomic writing, and the state changes the host module makes."""
import json
import os
import stat
from types import SimpleNamespace

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.host import facts as host_facts
from ansible_collections.virtops.compute.plugins.module_utils.host import state as host_state
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError


@pytest.fixture
def fact_file(tmp_path, monkeypatch):
    path = tmp_path / 'etc-ansible' / 'facts.d' / 'virtops_compute.fact'
    monkeypatch.setattr(host_facts, 'HOST_STATE_FILE', str(path))
    return path


def module(state, reason=None, check=False, diff=False, conn=None):
    return SimpleNamespace(params=dict(state=state, reason=reason), check_mode=check, diff_mode=diff, conn=conn)


class FakeDomain:
    def __init__(self, name, active=False, saved=False):
        self._name, self._active, self._saved = name, active, saved

    def name(self):
        return self._name

    def isActive(self):
        return self._active

    def hasManagedSaveImage(self, _flags):
        return self._saved


class FakeConn:
    def __init__(self, *domains):
        self.domains = domains

    def listAllDomains(self, _flags):
        return list(self.domains)


def test_missing_file_is_enabled(fact_file):
    assert host_state.read()['service_state'] == 'enabled'


def test_write_creates_directory_mode_0644_and_no_leftovers(fact_file):
    result = host_state.converge(module('disabled', 'disk swap'), {})
    assert result['changed'] and result['host']['service_state'] == 'disabled'
    data = json.loads(fact_file.read_text())
    assert data['service_state'] == 'disabled' and data['maintenance_reason'] == 'disk swap' and data['changed_at']
    assert stat.S_IMODE(os.stat(fact_file).st_mode) == 0o644
    assert os.listdir(fact_file.parent) == ['virtops_compute.fact']
    assert host_facts.read_service_state(str(fact_file)) == ('disabled', 'disk swap')


def test_same_state_is_unchanged_and_reason_kept_or_cleared(fact_file):
    host_state.converge(module('disabled', 'disk swap'), {})
    before = fact_file.read_text()
    assert not host_state.converge(module('disabled'), {}).get('changed')
    assert fact_file.read_text() == before
    assert host_state.converge(module('disabled', 'other reason'), {})['changed']
    assert host_state.converge(module('enabled'), {})['host']['maintenance_reason'] is None


def test_check_mode_writes_nothing(fact_file):
    result = host_state.converge(module('disabled', 'x', check=True, diff=True), {})
    assert result['changed'] and not fact_file.exists()
    assert result['diff'] == dict(before=dict(service_state='enabled', maintenance_reason=None),
                                  after=dict(service_state='disabled', maintenance_reason='x'))


def test_maintenance_refused_naming_the_guests_still_there(fact_file):
    conn = FakeConn(FakeDomain('lab-run', active=True), FakeDomain('lab-off'), FakeDomain('lab-saved', saved=True))
    with pytest.raises(VirtopsError) as err:
        host_state.converge(module('maintenance', conn=conn), {})
    assert "guests 'lab-run', 'lab-saved' are still there" in str(err.value)
    assert not fact_file.exists()
    result = host_state.converge(module('maintenance', 'upgrade', conn=FakeConn(FakeDomain('lab-off'))), {})
    assert result['host']['service_state'] == 'maintenance'


def test_unreadable_file_is_one_sentence(fact_file):
    fact_file.parent.mkdir(parents=True)
    fact_file.write_text('[1, 2]')
    with pytest.raises(VirtopsError, match='does not hold a JSON object'):
        host_state.read()
