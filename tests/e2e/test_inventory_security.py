"""The inventory plugin against a guest that lies through its agent.

A tiny guest on libvirt's NAT network gets its address from the network's DHCP server (the host's record). Then
it lies, first with the real qemu-ga (the guest's root gives eth0 a foreign address, 203.0.113.66, and
127.0.0.1), then with an agent of its own that answers guest-network-get-interfaces with a Jinja expression and
the loopback address. None of it may become ``ansible_host``: by default the plugin asks the host (DHCP
reservations and leases), and with the agent opted in it believes only addresses of the NIC's network. What
the guest said is never evaluated as a template by a play over that inventory. Positive controls: the lease
address is ansible_host, and with the agent opted in its address is taken once the guest reports its real one.
"""
import ipaddress
import json
import os
import time
import uuid

import libvirt
import pytest

from lab import guest_agent
from lab.console import serial_shell
from lab.inventory_plugin import inventory_list, write_inventory
from lab.runner import run_module, run_playbook

NAME = 'lab-inv-liar'
PORT = 4584
FOREIGN = '203.0.113.66'


def _addresses(dom, source, timeout=120, want=None):
    """{address: prefix} libvirt reports from ``source`` once ``want`` (or any address) shows; raises on time-out."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            found = dom.interfaceAddresses(source, 0) or {}
            seen = dict((addr['addr'], addr['prefix']) for details in found.values() for addr in details['addrs'] or [])
            if (want is None and seen) or (want is not None and want in seen):
                return seen
            last = seen
        except libvirt.libvirtError as err:
            last = err
        time.sleep(1)
    raise AssertionError('%s: libvirt did not report %s from source %d within %ds (last: %s)'
                         % (NAME, want or 'an address', source, timeout, last))


def _subnet(conn, network):
    from ansible_collections.virtops.compute.plugins.module_utils.model.network import Network
    model = Network.from_xml(conn.networkLookupByName(network).XMLDesc(0))
    return [ipaddress.ip_network('%s/%s' % (ip.address, ip.prefix_length), strict=False) for ip in model.ips
            if ip.address and ip.prefix_length is not None and ':' not in ip.address][0]


@pytest.fixture(scope='module')
def liar(libvirt_conn, tiny_image, lab_default_network):
    run_module('guest', name=NAME, state='absent')
    made = run_module('guest', name=NAME, virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel,
                      initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, guest_agent=True,
                      nics=[dict(network=lab_default_network)], serial_console=dict(type='tcp', port=PORT))
    assert not made.failed, made.msg
    dom = libvirt_conn.lookupByName(NAME)
    leased = _addresses(dom, libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)
    real = sorted(leased)[0]
    subnet = _subnet(libvirt_conn, lab_default_network)
    assert ipaddress.ip_address(real) in subnet and ipaddress.ip_address(FOREIGN) not in subnet, (real, subnet)
    yield dict(dom=dom, real=real, prefix=leased[real], subnet=subnet)
    run_module('guest', name=NAME, state='absent')


def _hostvars(tmp_path, name, **options):
    return inventory_list(write_inventory(tmp_path, name, uris=['qemu:///system'], **options))['_meta']['hostvars'][NAME]


def test_a_foreign_address_the_agent_reports_is_not_ansible_host(liar, tmp_path):
    out = serial_shell(PORT, 'ip addr flush dev eth0; ip addr add %s/24 dev eth0; ip addr add 127.0.0.1/8 dev eth0; '
                             'echo lied-$((6*7))' % FOREIGN)
    assert 'lied-42' in out, out
    # the agent really says so: this is the lie the plugin must not act on
    _addresses(liar['dom'], libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, want=FOREIGN)

    default = _hostvars(tmp_path, 'default.libvirt.yml')
    assert default.get('ansible_host') == liar['real'], default['virtops_guest']['interfaces']
    assert FOREIGN not in json.dumps(default), 'the plugin asked the agent without being told to'
    # guest_info reports what each source says, the agent's word marked as such
    reported = run_module('guest_info', name=NAME)['guests'][0]['interfaces'][0]['addresses']
    assert dict(address=FOREIGN, prefix=24, family='ipv4', source='agent') in reported, reported
    assert dict(address=liar['real'], prefix=liar['prefix'], family='ipv4', source='lease') in reported, reported

    agent_only = _hostvars(tmp_path, 'agent.libvirt.yml', address_sources=['agent'])
    assert 'ansible_host' not in agent_only, agent_only.get('ansible_host')

    # positive control: once the guest reports its real address too, the opted-in agent is believed for it
    out = serial_shell(PORT, 'ip addr add %s/%d dev eth0; echo told-$((6*7))' % (liar['real'], liar['prefix']))
    assert 'told-42' in out, out
    _addresses(liar['dom'], libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, want=liar['real'])
    assert _hostvars(tmp_path, 'agent2.libvirt.yml', address_sources=['agent']).get('ansible_host') == liar['real']
    allowed_elsewhere = _hostvars(tmp_path, 'allowed.libvirt.yml', address_sources=['agent'],
                                  allowed_networks=['198.51.100.0/24'])
    assert 'ansible_host' not in allowed_elsewhere


FAKE_AGENT = r"""#!/bin/sh
# answers libvirt on the guest agent's port the way the guest's root chooses
for port in /sys/class/virtio-ports/*; do
  [ "$(cat "$port/name")" = org.qemu.guest_agent.0 ] && device="/dev/${port##*/}"
done
# a read finds the end of the port while libvirt has not reconnected yet: open it again until it has
while true; do
  exec 3<>"$device"
  while IFS= read -r line <&3; do
    case "$line" in
      *guest-sync*) printf '{"return": %s}\n' "$(echo "$line" | sed -n 's/.*"id"[^0-9]*\([0-9]*\).*/\1/p')" >&3 ;;
      *guest-network-get-interfaces*) cat /run/fake-reply.json >&3 ;;
      *guest-ping*) printf '{"return": {}}\n' >&3 ;;
      *) printf '{"error": {"class": "CommandNotFound", "desc": "a fake agent"}}\n' >&3 ;;
    esac
  done
  exec 3<&-
  sleep 0.5
done
"""


def test_what_a_lying_agent_says_is_never_a_template_nor_ansible_host(liar, tmp_path):
    marker = '/tmp/virtops-pwned-%s' % uuid.uuid4().hex
    jinja = "{{ lookup('pipe', 'touch %s') }}" % marker
    mac = liar['dom'].XMLDesc(0).split("<mac address='")[1].split("'")[0]
    reply = {'return': [{'name': 'eth0', 'hardware-address': mac, 'ip-addresses': [
        {'ip-address-type': 'ipv4', 'ip-address': jinja, 'prefix': 24},
        {'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', 'prefix': 8}]}]}
    guest_agent.write_file(liar['dom'], '/run/fake-reply.json', json.dumps(reply) + '\n')
    guest_agent.write_file(liar['dom'], '/run/fake-agent.sh', FAKE_AGENT)
    # the real agent starts its successor and goes; its guest-exec answer is the last thing it says
    guest_agent.command(liar['dom'], 'guest-exec', {'path': '/bin/sh', 'arg': [
        '-c', 'setsid sh -c "sleep 1; kill \\$(cat /run/qemu-ga.pid); sleep 1; exec sh /run/fake-agent.sh" '
              '</dev/null >/dev/null 2>&1 &']})
    # the lie has reached libvirt: this is what the plugin reads
    _addresses(liar['dom'], libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, want=jinja)

    path = write_inventory(tmp_path, 'liar.libvirt.yml', uris=['qemu:///system'], address_sources=['agent', 'lease'])
    listing = inventory_list(path, raw=True)
    hostvars = listing['_meta']['hostvars'][NAME]
    assert hostvars['ansible_host'] == {'__ansible_unsafe': liar['real']}, hostvars.get('ansible_host')
    assert jinja not in json.dumps(listing), 'the inventory passes on text that is no address'
    assert '127.0.0.1' not in json.dumps(hostvars['ansible_host'])

    play = run_playbook("""
- hosts: %s
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.debug:
        msg: "{{ virtops_guest.interfaces }} via={{ ansible_host }}"
""" % NAME, args=['-i', str(path)])
    assert play.rc == 0, play.stdout[-3000:] + play.stderr[-2000:]
    assert 'via=%s' % liar['real'] in play.stdout, play.stdout[-2000:]
    assert not os.path.exists(marker), 'a template the guest wrote ran on the controller'
