"""The wait for a guest agent or for cloud-init, driven by a fake agent and a fake clock."""
import base64
import json

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.guest.wait import (
    RESULT_FILE, AgentError, WaitFailed, cloud_init_outcome, wait,
)


class FakeGuest:
    """An agent that answers after ``agent_after`` seconds and shows result.json after ``result_after``."""

    def __init__(self, agent_after=0, result_after=None, result=None, stops_at=None):
        self.now = 0.0
        self.agent_after = agent_after
        self.result_after = result_after
        self.result = result if result is not None else {'v1': {'datasource': 'DataSourceConfigDrive', 'errors': []}}
        self.stops_at = stops_at
        self.opened = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def running(self):
        return self.stops_at is None or self.now < self.stops_at

    def agent(self, command):
        if self.now < self.agent_after:
            raise AgentError('Guest agent is not responding: QEMU guest agent is not connected')
        name = command['execute']
        if name == 'guest-ping':
            return {}
        if name == 'guest-file-open':
            assert command['arguments']['path'] == RESULT_FILE
            if self.result_after is None or self.now < self.result_after:
                raise AgentError("internal error: unable to execute QEMU agent command 'guest-file-open': "
                                 "failed to open file '%s' (mode: 'r'): No such file or directory" % RESULT_FILE)
            self.opened.append(7)
            return 7
        if name == 'guest-file-read':
            text = self.result if isinstance(self.result, str) else json.dumps(self.result)
            return {'buf-b64': base64.b64encode(text.encode()).decode(), 'count': len(text), 'eof': True}
        if name == 'guest-file-close':
            self.opened.remove(command['arguments']['handle'])
            return {}
        raise AssertionError(name)


def run(guest, kind, timeout=60):
    return wait(kind, timeout, guest.agent, guest.running, clock=guest.clock, sleep=guest.sleep)


def test_agent_wait_returns_once_the_agent_answers():
    assert run(FakeGuest(agent_after=12), 'agent') == pytest.approx(12, abs=1)


def test_cloud_init_wait_returns_once_result_json_is_there_and_closes_the_file():
    guest = FakeGuest(agent_after=5, result_after=30)
    assert run(guest, 'cloud_init') == pytest.approx(30, abs=1)
    assert guest.opened == []


def test_cloud_init_errors_fail_the_wait_with_the_first_one():
    guest = FakeGuest(result_after=0, result={'v1': {'errors': ['module apt failed.', 'other']}})
    with pytest.raises(WaitFailed, match=r'^cloud-init finished with 2 error\(s\), the first: module apt failed$'):
        run(guest, 'cloud_init')


@pytest.mark.parametrize('guest, kind, last', [
    (FakeGuest(agent_after=1000), 'agent', 'the guest agent did not answer'),
    (FakeGuest(result_after=None), 'cloud_init', RESULT_FILE + ' does not exist yet'),
    (FakeGuest(result_after=0, result='{"v1": {"err'), 'cloud_init', RESULT_FILE + ' is not complete yet'),
], ids=['no agent', 'no result', 'half-written result'])
def test_the_wait_is_bounded_and_says_what_it_last_saw(guest, kind, last):
    with pytest.raises(WaitFailed) as caught:
        run(guest, kind, timeout=20)
    assert 'within wait_timeout (20 s)' in str(caught.value) and last in str(caught.value)
    assert guest.now <= 20


def test_a_guest_that_stops_ends_the_wait_at_once():
    guest = FakeGuest(agent_after=1000, stops_at=3)
    with pytest.raises(WaitFailed, match='stopped running while waiting for the guest agent'):
        run(guest, 'agent', timeout=300)
    assert guest.now < 5


@pytest.mark.parametrize('text, outcome', [
    ('{"v1": {"datasource": "x", "errors": []}}', (True, [])),
    ('{"v1": {"errors": ["boom"]}}', (True, ['boom'])),
    ('{"v1": {}}', (True, [])),
    ('{}', (False, [])),
    ('not json', (False, [])),
    ('[1]', (False, [])),
])
def test_cloud_init_outcome(text, outcome):
    assert cloud_init_outcome(text) == outcome
