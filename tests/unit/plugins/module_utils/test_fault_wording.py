"""How faults read: a lost libvirtd connection, a dead QEMU, a hung or absent guest agent (pure logic)."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils import connection
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import agent as agent_calls
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError


class FakeError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.message, self.code = message, code

    def get_error_message(self):
        return self.message

    def get_error_code(self):
        return self.code


@pytest.mark.parametrize('message', ['Cannot recv data: Connection reset by peer', 'internal error: client socket is closed',
                                     'Cannot write data: Broken pipe', 'End of file while reading data: Input/output error'])
def test_lost_connection_says_what_to_do(message):
    text = connection.describe_libvirt_error(FakeError(message), where="guest 'web1'")
    assert text.startswith("guest 'web1': the connection to libvirtd was lost") and text.endswith('run it again to converge.')
    assert message in text and '\n' not in text


def test_refusals_keep_libvirt_wording():
    assert not connection.connection_lost(FakeError("Requested operation is not valid: domain is not running"))
    assert connection.describe_libvirt_error(FakeError('domain is not running')) == 'domain is not running.'


def test_dead_qemu_reads_crashed():
    assert states.describe(5, reason=3) == {'state': 'shutdown', 'power_state': 4, 'stopped_reason': 'crashed'}
    assert states.describe(5, reason=1)['stopped_reason'] == 'shutdown'
    assert 'stopped_reason' not in states.describe(5, reason=5, managed_save=True)
    assert 'stopped_reason' not in states.describe(1)


class FakeDomain:
    def __init__(self, error=None):
        self.timeouts, self.error = [], error

    def agentSetResponseTimeout(self, seconds, flags):  # pylint: disable=invalid-name
        assert flags == 0
        self.timeouts.append(seconds)


@pytest.fixture
def fake_libvirt(monkeypatch):
    class Lib:
        libvirtError = FakeError
        VIR_ERR_AGENT_UNRESPONSIVE = 86
        VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_DEFAULT = -1
    monkeypatch.setattr(agent_calls, 'libvirt', Lib)
    return Lib


def _raise(err):
    raise err


def test_agent_call_is_bounded_then_restored(fake_libvirt):  # pylint: disable=redefined-outer-name,unused-argument
    dom = FakeDomain()
    assert agent_calls.agent_call(dom, "guest 'g'", 'setting the password of root', 7, lambda: 'ok') == 'ok'
    assert dom.timeouts == [7, -1]
    with pytest.raises(VirtopsError) as hung:
        agent_calls.agent_call(dom, "guest 'g'", 'setting the password of root', 7,
                               lambda: _raise(FakeError('Guest agent is not responding: Guest agent not available for now', 86)))
    assert str(hung.value) == ("guest 'g': setting the password of root failed because the guest agent did not answer "
                               "within agent_timeout (7 s).")
    assert dom.timeouts[-1] == -1
    with pytest.raises(VirtopsError, match='not running in the guest'):
        agent_calls.agent_call(dom, "guest 'g'", 'thawing', 7,
                               lambda: _raise(FakeError('Guest agent is not responding: QEMU guest agent is not connected', 86)))


def test_agent_timeout_must_be_positive():
    with pytest.raises(VirtopsError, match="guest 'g': agent_timeout 0 must be at least 1 second."):
        agent_calls.check_timeout("guest 'g'", 0)
