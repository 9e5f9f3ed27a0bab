"""URI selection and error wording of the connection helper (pure logic)."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils import connection


def test_uri_option_wins(monkeypatch):
    monkeypatch.setenv('LIBVIRT_DEFAULT_URI', 'qemu+tcp://other/system')
    assert connection.effective_uri('qemu:///session') == 'qemu:///session'


def test_environment_then_default(monkeypatch):
    monkeypatch.setenv('LIBVIRT_DEFAULT_URI', 'qemu+tcp://other/system')
    assert connection.effective_uri(None) == 'qemu+tcp://other/system'
    monkeypatch.delenv('LIBVIRT_DEFAULT_URI')
    assert connection.effective_uri(None) == 'qemu:///system'


@pytest.mark.parametrize('uri, local', [
    ('qemu:///system', True),
    ('qemu+unix:///system', True),
    ('qemu://localhost/system', True),
    ('qemu+tcp://127.0.0.1:16509/system', False),
    ('qemu+ssh://root@compute2/system', False),
    ('qemu://compute2/system', False),
])
def test_is_local_uri(uri, local):
    assert connection.is_local_uri(uri) is local


def test_error_is_one_sentence_naming_the_subject():
    class FakeError(Exception):
        def get_error_message(self):
            return 'Failed to connect socket to \'/run/x\': No such file or directory\nmore detail'
    text = connection.describe_libvirt_error(FakeError(), where="guest 'web1'")
    assert text == "guest 'web1': Failed to connect socket to '/run/x': No such file or directory."
