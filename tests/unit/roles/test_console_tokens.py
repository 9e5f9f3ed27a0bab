"""The console_proxy role's websockify token plugin: where a guest's live domain XML says its VNC server is, and
which tokens it answers (virsh replaced by a stub script on PATH)."""
import importlib.util
import json
import os
import stat

import pytest

PLUGIN = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'console_proxy', 'files',
                      'virtops_console_tokens.py')
spec = importlib.util.spec_from_file_location('virtops_console_tokens', PLUGIN)
tokens = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tokens)


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
    """A virsh that prints web1's XML with VNC port 5907 and fails for any other guest, logging its arguments."""
    script = tmp_path / 'virsh'
    script.write_text('#!/bin/sh\necho "$@" >> %s/args\ncase "$*" in *"--domain web1") echo "%s" ;;\n'
                      '*) echo "error: failed to get domain" >&2; exit 1 ;; esac\n'
                      % (tmp_path, domain("<graphics type='vnc' port='5907' listen='127.0.0.1'/>")))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    return tmp_path


def test_lookup_asks_libvirt_for_the_tokens_guest(fake_virsh):
    source = fake_virsh / 'targets'
    source.write_text(json.dumps({'uri': 'qemu+tcp://cn1/system', 'target_host': '',
                                  'tokens': {'T1': 'web1', 'T2': 'gone'}}))
    plugin = tokens.GuestConsoles(str(source))
    assert plugin.lookup('T1') == ('127.0.0.1', 5907)
    assert (fake_virsh / 'args').read_text().split('\n')[0] == \
        '--readonly --connect qemu+tcp://cn1/system dumpxml --domain web1'
    assert plugin.lookup('T2') is None
    assert plugin.lookup('nope') is None
    source.write_text('not json')
    assert plugin.lookup('T1') is None
