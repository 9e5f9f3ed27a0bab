"""A resize that fails after the guest was stopped puts the old definition back and the guest in its old power state.

What makes the start fail is real: the resize also moves the TCP serial console to a port this test holds open, so
QEMU cannot bind it. A vCPU count above the machine type's limit (300 on 'pc') is refused by libvirt already at
define time, the other failure path; memory above the host's RAM (read from the host) is refused by the module
before anything changes.
"""
import contextlib
import re
import socket

import libvirt
import pytest

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.console import serial_shell
from lab.runner import run_module

NAME = 'lab-resize-rollback'
PORT = 4610
HELD_PORT = 4611
INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE


@pytest.fixture(scope='module')
def guest_params(tiny_image):
    params = dict(name=NAME, virt_type='qemu', vcpus=1, memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=PORT), shutdown_timeout=5)
    run_module('guest', name=NAME, state='absent')
    created = run_module('guest', **params)
    assert not created.failed, created.msg
    yield params
    run_module('guest', name=NAME, state='absent')


@contextlib.contextmanager
def _port_taken(port):
    """A listening socket on ``port``, so that QEMU's bind of a serial console there fails."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', port))
        sock.listen(1)
        yield
    finally:
        sock.close()


def _seen_from_inside():
    out = serial_shell(PORT, 'grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo')
    cpus = re.search(r'^(\d+)\s*$', out, re.M)
    mem = re.search(r'MemTotal:\s+(\d+) kB', out)
    assert cpus and mem, out
    return int(cpus.group(1)), int(mem.group(1))


def _resize(params, **changes):
    return run_module('guest', **(params | dict(vcpus=2, memory_mb=192, allow_restart=True) | changes))


def test_failed_start_restores_a_running_guest(guest_params, libvirt_conn):
    dom = libvirt_conn.lookupByName(NAME)
    uuid, inactive = dom.UUIDString(), dom.XMLDesc(INACTIVE)
    inside = _seen_from_inside()
    assert inside[0] == 1
    with _port_taken(HELD_PORT):
        result = _resize(guest_params, serial_console=dict(type='tcp', port=HELD_PORT))
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'vcpus', 'memory_mb', 'restored', 'running again')
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.isActive() and dom.UUIDString() == uuid
    assert dom.XMLDesc(INACTIVE) == inactive
    assert _seen_from_inside() == inside, 'the guest came back with another flavor'
    assert not run_module('guest', **guest_params).changed


def test_definition_libvirt_refuses_restores_a_running_guest(guest_params, libvirt_conn):
    dom = libvirt_conn.lookupByName(NAME)
    inactive = dom.XMLDesc(INACTIVE)
    result = _resize(guest_params, vcpus=300)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'vcpus', 'restored', 'running again')
    dom = libvirt_conn.lookupByName(NAME)
    assert dom.isActive() and dom.XMLDesc(INACTIVE) == inactive
    assert _seen_from_inside()[0] == 1


def test_memory_above_the_host_is_refused_before_anything_changes(guest_params, libvirt_conn):
    # more than this host has, whatever the host: its total memory (as libvirt counts it) plus a GiB
    too_much = libvirt_conn.getInfo()[1] + 1024
    before = libvirt_snapshot(libvirt_conn)
    result = _resize(guest_params, memory_mb=too_much)
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'memory_mb %d' % too_much, 'exceeds the host')
    assert libvirt_snapshot(libvirt_conn) == before


def test_failed_start_leaves_a_stopped_guest_stopped_and_unchanged(guest_params, libvirt_conn):
    stopped = run_module('guest', **(guest_params | dict(state='stopped')))
    assert not stopped.failed, stopped.msg
    before = libvirt_snapshot(libvirt_conn)
    with _port_taken(HELD_PORT):
        result = _resize(guest_params, state='running', serial_console=dict(type='tcp', port=HELD_PORT))
    assert result.failed
    assert_one_sentence(result.msg, NAME, 'restored', 'stays stopped')
    assert libvirt_snapshot(libvirt_conn) == before
    assert not libvirt_conn.lookupByName(NAME).isActive()
    refused = _resize(guest_params, state='stopped', vcpus=300)
    assert refused.failed
    assert_one_sentence(refused.msg, NAME, 'vcpus', 'stays stopped')
    assert libvirt_snapshot(libvirt_conn) == before
    # the untouched guest still starts
    started = run_module('guest', **guest_params)
    assert not started.failed and started['guest']['state'] == 'running', started.msg
