"""Live migration on the fleet, as an operator runs it: the migrate module over SSH on the source host, peer to peer
to the destination's libvirtd over qemu+ssh (the SSH trust compute_host set up) and over qemu+tls (its TLS listener,
with the fleet's certificates). One tiny guest travels cn1 -> cn2 -> cn3; its uptime, read inside it, carries on
at every hop, and afterwards it is defined and running on the destination only.
"""
import pytest

from lab import tally
from lab.fleet import layout
from lab.fleet.guests import uptime, where
from lab.proc import wait_for

NAME = 'fleet-mig'


def module(fleet_ansible, host, module_name, **args):
    return getattr(fleet_ansible[host], 'virtops.compute.' + module_name)(**args)[host]


def succeeded(outcome, host):
    assert not outcome.is_failed, '%s: %s' % (host, dict(outcome))
    return outcome


def remove(fleet_ansible, name):
    """The guest removed from every host that defines it (its own host first: the module removes its console log
    from the shared pool)."""
    for host, _state in where([name])[name]:
        succeeded(module(fleet_ansible, host, 'guest', name=name, state='absent'), host)


def boot(fleet_ansible, fleet_tiny, host, name, memory_mb=128):
    """A tiny guest with its agent, booted on `host` through the guest module over SSH, up to its boot marker."""
    booted = succeeded(module(fleet_ansible, host, 'guest', name=name, virt_type='qemu', memory_mb=memory_mb,
                              storage_pool='fleet-shared', guest_agent=True, **fleet_tiny.boot_options()), host)
    assert booted['guest']['state'] == 'running', dict(booted)
    serial = layout.outside(booted['guest']['consoles']['serial_log'])
    wait_for(lambda: fleet_tiny.marker in open(serial, errors='replace').read(), 90,
             'the boot marker of %s on %s' % (name, serial), interval=0.5)
    return booted


@pytest.fixture(scope='module')
def traveller(fleet_compute, fleet_ansible, fleet_tiny):
    remove(fleet_ansible, NAME)
    boot(fleet_ansible, fleet_tiny, 'cn1', NAME)
    yield NAME
    remove(fleet_ansible, NAME)


def test_live_migration_over_ssh(traveller, fleet_ansible, fleet_compute):
    cn2 = fleet_compute.host('cn2')
    args = dict(guest=traveller, dest_uri=cn2.peer_uri)
    assert where([traveller])[traveller] == [('cn1', 'running')]
    up = uptime('cn1', traveller)
    moved = succeeded(module(fleet_ansible, 'cn1', 'migrate', **args), 'cn1')
    assert moved['changed'] and moved['state'] == 'running', dict(moved)
    assert 'live' in moved['migration']['flags'] and moved['migration']['copied_disks'] == []
    # on the destination only, running, and the same boot: its uptime went on
    assert where([traveller])[traveller] == [('cn2', 'running')]
    assert uptime('cn2', traveller) > up, 'the guest restarted instead of moving'
    # asked again from the source: it is where it should be, nothing to do
    again = succeeded(module(fleet_ansible, 'cn1', 'migrate', **args), 'cn1')
    assert not again['changed'], dict(again)
    tally.case('live migrations proven', 'a tiny guest cn1 -> cn2 over qemu+ssh, on systemd hosts over SSH')


def test_live_migration_over_tls(traveller, fleet_ansible, fleet_compute):
    cn3 = fleet_compute.host('cn3')
    if where([traveller])[traveller] != [('cn2', 'running')]:
        pytest.skip('the guest did not reach cn2 (see test_live_migration_over_ssh)')
    # the destination's TLS listener, with the client certificate compute_host installed on cn2
    args = dict(guest=traveller, dest_uri='qemu+tls://%s/system' % cn3.fqdn)
    up = uptime('cn2', traveller)
    moved = succeeded(module(fleet_ansible, 'cn2', 'migrate', **args), 'cn2')
    assert moved['changed'] and moved['state'] == 'running', dict(moved)
    assert where([traveller])[traveller] == [('cn3', 'running')]
    assert uptime('cn3', traveller) > up, 'the guest restarted instead of moving'
    tally.case('TLS migrations proven', 'a tiny guest cn2 -> cn3 over qemu+tls, the compute_host TLS listener')
