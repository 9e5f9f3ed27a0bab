"""disk_inject's pure parts: network files, authorized_keys merging, /etc/shadow updates, owners and modes."""
import warnings

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.disk_image import content
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt

STATIC = dict(interfaces=[dict(name='ens3', address='10.0.2.42/24', gateway='10.0.2.2', dns=['10.0.2.3', '1.1.1.1'])])
MIXED = dict(interfaces=[dict(name='ens3', address='10.0.2.42/24', gateway='10.0.2.2'),
                         dict(name='ens4'),
                         dict(name='ens5', address='2001:db8::5/64', gateway='2001:db8::1', mtu=1400)])
KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAA alice@host'
KEY_B = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQBBBB bob@host'


def test_ifupdown_static_interface():
    text = content.render_ifupdown(content.normalize_interfaces(STATIC))
    assert text.splitlines()[1:] == [
        '', 'auto ens3', 'iface ens3 inet static', '    address 10.0.2.42/24', '    gateway 10.0.2.2',
        '    dns-nameservers 10.0.2.3 1.1.1.1']
    assert text.startswith('# Written by virtops.compute.disk_inject')


def test_ifupdown_dhcp_and_ipv6():
    text = content.render_ifupdown(content.normalize_interfaces(MIXED))
    assert 'auto ens4\niface ens4 inet dhcp\n' in text
    assert 'iface ens5 inet6 static\n    address 2001:db8::5/64\n    gateway 2001:db8::1\n    mtu 1400\n' in text


def test_netplan_rendering():
    text = content.render_netplan(content.normalize_interfaces(STATIC))
    assert text.splitlines()[1:] == [
        'network:', '  version: 2', '  ethernets:', '    ens3:', '      dhcp4: false',
        '      addresses: ["10.0.2.42/24"]', '      routes:', '        - to: default', '          via: "10.0.2.2"',
        '      nameservers:', '        addresses: ["10.0.2.3", "1.1.1.1"]']


def test_netplan_is_valid_yaml_with_the_same_meaning():
    import yaml         # PyYAML comes with ansible-core
    doc = yaml.safe_load(content.render_netplan(content.normalize_interfaces(MIXED)))
    ethernets = doc['network']['ethernets']
    assert doc['network']['version'] == 2
    assert ethernets['ens3'] == {'dhcp4': False, 'addresses': ['10.0.2.42/24'],
                                 'routes': [{'to': 'default', 'via': '10.0.2.2'}]}
    assert ethernets['ens4'] == {'dhcp4': True}
    assert ethernets['ens5']['mtu'] == 1400


def test_interfaces_d_source_line_added_once():
    main = 'auto lo\niface lo inet loopback\n'
    once = content.ensure_interfaces_d_sourced(main)
    assert once == main + '\nsource /etc/network/interfaces.d/*\n'
    assert content.ensure_interfaces_d_sourced(once) == once
    debian_default = 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n'
    assert content.ensure_interfaces_d_sourced(debian_default) == debian_default
    assert content.ensure_interfaces_d_sourced('source-directory /etc/network/interfaces.d\n').count('source') == 1


def test_stanzas_in_the_main_file_conflict():
    main = 'auto lo\niface lo inet loopback\nallow-hotplug ens3\niface ens3 inet dhcp\n'
    assert content.conflicting_stanzas(main, content.normalize_interfaces(STATIC)) == ['ens3']
    assert content.conflicting_stanzas('iface lo inet loopback\n', content.normalize_interfaces(STATIC)) == []


def test_resolv_conf_from_dns_servers():
    assert content.render_resolv_conf(content.normalize_interfaces(STATIC)).splitlines()[1:] == [
        'nameserver 10.0.2.3', 'nameserver 1.1.1.1']
    assert content.render_resolv_conf(content.normalize_interfaces(dict(interfaces=[dict(name='ens3')]))) is None


@pytest.mark.parametrize('interface, words', [
    (dict(name='ens3', address='10.0.2.500/24'), 'not an address'),
    (dict(name='ens3', address='10.0.2.4'), 'prefix length'),
    (dict(name='has space'), 'not a valid Linux interface name'),
    (dict(name='ens3', dhcp=True, address='10.0.2.4/24'), 'both dhcp and a static address'),
    (dict(name='ens3', gateway='10.0.2.1'), 'needs a static address'),
    (dict(name='ens3', address='10.0.2.4/24', gateway='2001:db8::1'), 'same IP version'),
    (dict(name='ens3', dns=['resolver']), 'not an IP address'),
])
def test_bad_interfaces_are_one_sentence(interface, words):
    with pytest.raises(VirtopsError) as caught:
        content.normalize_interfaces(dict(interfaces=[interface]))
    assert words in str(caught.value) and str(caught.value).endswith('.')


def test_authorized_keys_appended_without_duplicates():
    existing = 'command="echo hi" %s\n' % KEY_A
    merged = content.merge_authorized_keys(existing, [KEY_A.replace('alice@host', 'other comment'), KEY_B])
    assert merged == existing + KEY_B + '\n'
    assert content.merge_authorized_keys(merged, [KEY_A, KEY_B]) == merged


def test_authorized_keys_file_without_final_newline():
    assert content.merge_authorized_keys(KEY_A, [KEY_B]) == KEY_A + '\n' + KEY_B + '\n'
    assert content.merge_authorized_keys('', [KEY_B, KEY_B]) == KEY_B + '\n'


def test_authorized_keys_refuse_what_is_no_key():
    with pytest.raises(VirtopsError, match='not an OpenSSH public key'):
        content.merge_authorized_keys('', ['hello world'])


SHADOW = 'root:!*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\nalice:$6$abc$xyz:20000:0:99999:7:::\n'


def test_shadow_gets_a_sha512_hash_for_the_user_only():
    text, changed = content.update_shadow(SHADOW, 'root', 'pw-1', today=86400 * 20500)
    assert changed
    root, daemon, alice = text.splitlines()
    fields = root.split(':')
    assert fields[1].startswith('$6$') and crypt.crypt('pw-1', fields[1]) == fields[1]
    assert fields[2] == '20500' and fields[3:] == ['0', '99999', '7', '', '', '']
    assert (daemon, alice) == tuple(SHADOW.splitlines()[1:])


def test_shadow_unchanged_when_the_hash_already_matches():
    text, _changed = content.update_shadow(SHADOW, 'root', 'pw-1')
    again, changed = content.update_shadow(text, 'root', 'pw-1')
    assert not changed and again == text
    other, changed = content.update_shadow(text, 'root', 'pw-2')
    assert changed and other != text


def test_shadow_accepts_other_hash_schemes_when_comparing():
    yescrypt = '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7'
    assert not content.password_matches('wrong', yescrypt)
    sha256 = crypt.crypt('pw', crypt.mksalt(crypt.METHOD_SHA256))
    assert content.password_matches('pw', sha256)
    assert not content.password_matches('pw', '!' + sha256)


def test_shadow_without_the_user():
    with pytest.raises(VirtopsError, match="admin_user 'bob' has no entry"):
        content.update_shadow(SHADOW, 'bob', 'pw')


def test_redacted_shadow_keeps_locks_and_hides_hashes():
    assert content.redact_shadow(SHADOW).splitlines() == [
        'root:!*:20000:0:99999:7:::', 'daemon:*:20000:0:99999:7:::', 'alice:********:20000:0:99999:7:::']


PASSWD = 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n'
GROUP = 'root:x:0:\nadm:x:4:\nwww-data:x:33:\n'


@pytest.mark.parametrize('owner, ids', [
    ('root', (0, 0)), ('www-data', (33, 33)), ('root:adm', (0, 4)), ('1000', (1000, 1000)), ('1000:4', (1000, 4)),
    ('www-data:0', (33, 0)),
])
def test_owner_resolved_in_the_image(owner, ids):
    assert content.resolve_owner(owner, PASSWD, GROUP, '/x') == ids


def test_unknown_owner_and_group():
    with pytest.raises(VirtopsError, match="owner 'nobody' is no user"):
        content.resolve_owner('nobody', PASSWD, GROUP, '/x')
    with pytest.raises(VirtopsError, match="group 'staff' is no group"):
        content.resolve_owner('root:staff', PASSWD, GROUP, '/x')


@pytest.mark.parametrize('mode, value', [('0644', 0o644), ('600', 0o600), ('4755', 0o4755), (0o640, 0o640)])
def test_modes(mode, value):
    assert content.parse_mode(mode, '/x') == value


@pytest.mark.parametrize('mode', ['rw-r--r--', '0999', 'u=rw', 0o17777])
def test_bad_modes(mode):
    with pytest.raises(VirtopsError):
        content.parse_mode(mode, '/x')


@pytest.mark.parametrize('owner', ['\u00b2', 'j\u00f6rg', 'root:adm:x', 'a b', '99999999999', 'x' * 40, ''])
def test_an_owner_that_is_no_account_name_is_one_sentence(owner):
    with pytest.raises(VirtopsError) as err:
        content.parse_owner(owner, '/etc/motd')
    assert str(err.value).startswith("file '/etc/motd': owner ") and '\n' not in str(err.value)


def test_names_and_numeric_ids_are_owners():
    assert content.parse_owner('root', '/x') == ('root', '')
    assert content.parse_owner('svc-app_1:adm', '/x') == ('svc-app_1', 'adm')
    assert content.parse_owner('1000:1000', '/x') == ('1000', '1000')


@pytest.mark.parametrize('passwd', ['alice:x:oops:1000::/home/alice:/bin/sh\n', 'alice:x\n',
                                    'alice:x:99999999999:1000::/home/alice:/bin/sh\n'])
def test_a_malformed_passwd_entry_of_the_image_is_refused_not_trusted(passwd):
    with pytest.raises(VirtopsError, match="the user entry of 'alice' in the image"):
        content.resolve_owner('alice', passwd, 'alice:x:1000:\n', '/home/alice/x')
