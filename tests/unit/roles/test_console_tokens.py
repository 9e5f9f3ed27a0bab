"""The console_proxy role's websockify token plugin: where a guest's live domain XML says its VNC server is, which
tokens it answers (by the guest's UUID, until they expire), that websockify's log lines lose their tokens, and the
VNC passwords the role reads as root (virsh replaced by a stub script on PATH)."""
import importlib.util
import json
import logging
import os
import stat
import sys
import time

import pytest

FILES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'console_proxy', 'files')


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FILES, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tokens = load('virtops_console_tokens')
UUID, OTHER = '6f1c1a3e-0000-4000-8000-000000000001', '6f1c1a3e-0000-4000-8000-000000000002'


@pytest.fixture(autouse=True)
def own_log_records():
    """The plugin redacts every log record of its process from when it is made: not beyond each test here."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def domain(graphics):
    return "<domain type='qemu'><name>web1</name><devices>%s</devices></domain>" % graphics


@pytest.mark.parametrize('graphics, target, expected', [
    ("<graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'/>", '', ('127.0.0.1', 5901)),
    ("<graphics type='vnc' port='5902' listen='0.0.0.0'/>", '', ('127.0.0.1', 5902)),
    ("<graphics type='vnc' port='5903'><listen type='address' address='192.0.2.7'/></graphics>", '',
     ('192.0.2.7', 5903)),
    ("<graphics type='vnc' port='5904' listen='127.0.0.1'/>", 'cn1.example', ('cn1.example', 5904)),
    ("<graphics type='vnc' port='-1' autoport='yes'/>", '', None),
    ("<graphics type='spice' port='5905'/>", '', None),
    ("", '', None),
], ids=['loopback', 'any-address', 'listen-element', 'target-host', 'not-running', 'spice-only', 'no-graphics'])
def test_vnc_address(graphics, target, expected):
    assert tokens.vnc_address(domain(graphics), target) == expected


@pytest.fixture
def fake_virsh(tmp_path, monkeypatch):
    """A virsh that prints web1's XML (VNC port 5907, password s3cret in the secure XML) for UUID, fails for any
    other guest, and logs its arguments."""
    script = tmp_path / 'virsh'
    xml = domain("<graphics type='vnc' port='5907' listen='127.0.0.1'%s/>")
    script.write_text('#!/bin/sh\necho "$@" >> %s/args\ncase "$*" in\n'
                      '  *"--domain %s --security-info") echo "%s" ;;\n  *"--domain %s") echo "%s" ;;\n'
                      '  *) echo "error: failed to get domain" >&2; exit 1 ;;\nesac\n'
                      % (tmp_path, UUID, xml % " passwd='s3cret'", UUID, xml % ''))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    return tmp_path


def settings(path, lifetime=0, issued=None):
    path.write_text(json.dumps({'uri': 'qemu+tcp://cn1/system', 'target_host': '', 'lifetime': lifetime, 'guests': {
        UUID: {'name': 'web1', 'token': 'T1', 'issued': issued or int(time.time())},
        OTHER: {'name': 'web2', 'token': 'T2', 'issued': int(time.time())}}}))
    return str(path)


def test_lookup_asks_libvirt_for_the_tokens_guest_by_uuid(fake_virsh):
    plugin = tokens.GuestConsoles(settings(fake_virsh / 'targets'))
    assert plugin.lookup('T1') == ('127.0.0.1', 5907)
    assert (fake_virsh / 'args').read_text().split('\n')[0] == \
        '--readonly --connect qemu+tcp://cn1/system dumpxml --domain %s' % UUID
    # a token whose guest libvirt no longer knows (a guest defined anew has another UUID), or no such token
    assert plugin.lookup('T2') is None
    assert plugin.lookup('nope') is None
    assert plugin.lookup('') is None
    (fake_virsh / 'targets').write_text('not json')
    assert plugin.lookup('T1') is None


def test_expired_tokens_are_refused(fake_virsh):
    plugin = tokens.GuestConsoles(settings(fake_virsh / 'targets', lifetime=60, issued=int(time.time()) - 30))
    assert plugin.lookup('T1') == ('127.0.0.1', 5907)
    plugin = tokens.GuestConsoles(settings(fake_virsh / 'targets', lifetime=60, issued=int(time.time()) - 61))
    assert plugin.lookup('T1') is None
    assert tokens.expired({'lifetime': 0}, {'issued': 0}) is False


def test_log_lines_lose_their_tokens(fake_virsh, caplog):
    tokens.GuestConsoles(settings(fake_virsh / 'targets'))
    logger = logging.getLogger('websockify.test')
    with caplog.at_level(logging.INFO):
        # what websockify logs for a connection and for an unknown token
        logger.info("%s: Path: '%s'", '127.0.0.1', '/websockify?token=Dss7tf3HCl7KQNcuwLsWGSBbMV7IMyEw')
        logger.info("127.0.0.1: Token 'WRONGtoken' not found")
    assert [r.getMessage() for r in caplog.records] == [
        "127.0.0.1: Path: '/websockify?token=<redacted>'", "127.0.0.1: Token '<redacted>' not found"]


def test_vnc_passwords_come_from_the_secure_xml(fake_virsh, capsys):
    assert tokens.main(['vnc-passwords', 'qemu:///system', UUID]) == 0
    assert json.loads(capsys.readouterr().out) == {UUID: 's3cret'}
    assert 'dumpxml --domain %s --security-info' % UUID in (fake_virsh / 'args').read_text()
    assert tokens.main(['vnc-passwords', 'qemu:///system', OTHER]) == 1
    assert 'failed to get domain' in capsys.readouterr().err
