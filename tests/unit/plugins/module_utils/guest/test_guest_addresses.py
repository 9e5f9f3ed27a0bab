"""Which address a controller may connect to: the pure checks of guest/addresses.py."""
import ipaddress

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.guest import addresses

DEFAULT_NET = [ipaddress.ip_network('192.168.122.0/24')]


@pytest.mark.parametrize('text, why', [
    ('192.168.122.7', None),
    ('203.0.113.66', 'outside 192.168.122.0/24'),
    ('127.0.0.1', 'loopback'),
    ('::1', 'loopback'),
    ('169.254.1.1', 'link-local'),
    ('fe80::1', 'link-local'),
    ('224.0.0.1', 'multicast'),
    ('0.0.0.0', 'unspecified'),
    ('240.0.0.1', 'reserved'),
    ("{{ lookup('pipe','touch /tmp/pwned') }}", 'not an IP address'),
    ('192.168.122.7\n', 'not an IP address'),
])
def test_refusal_names_why_an_address_is_not_used(text, why):
    found = addresses.refusal(text, DEFAULT_NET)
    assert (found is None) if why is None else (why in found), found


def test_an_address_of_another_family_is_not_held_to_the_ipv4_subnet():
    assert addresses.refusal('2001:db8::5', DEFAULT_NET) is None
    assert addresses.refusal('2001:db8::5', DEFAULT_NET, [ipaddress.ip_network('198.51.100.0/24')]) is not None


def test_parse_keeps_only_addresses_and_sane_prefixes():
    assert addresses.parse('10.0.0.5', 24) == dict(address='10.0.0.5', prefix=24, family='ipv4')
    assert addresses.parse('10.0.0.5', 99)['prefix'] is None
    assert addresses.parse('not-an-address') is None
    assert addresses.parse('{{ 6*7 }}') is None


def _iface(source_network, *entries):
    return dict(type='network', source=source_network,
                addresses=[dict(address=a, family='ipv%d' % ipaddress.ip_address(a).version, source=s) for a, s in entries])


def test_choose_follows_the_source_order_and_skips_what_it_refuses():
    interfaces = [_iface('default', ('203.0.113.66', 'agent'), ('192.168.122.9', 'agent'), ('192.168.122.7', 'lease'))]

    def subnets(_name):
        return DEFAULT_NET

    assert addresses.choose(interfaces, ['static', 'lease'], subnets)[0] == '192.168.122.7'
    address, refused = addresses.choose(interfaces, ['agent'], subnets)
    assert address == '192.168.122.9' and refused[0][0] == '203.0.113.66'
    assert addresses.choose(interfaces, ['static'], subnets) == (None, [])


def test_choose_prefers_ipv4_across_nics_within_a_source():
    interfaces = [_iface('v6', ('2001:db8::7', 'lease')), _iface('default', ('192.168.122.7', 'lease'))]
    assert addresses.choose(interfaces, ['lease'], lambda _name: [])[0] == '192.168.122.7'
