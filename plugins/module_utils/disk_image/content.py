# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What disk_inject writes into an image, computed from what is there: pure text functions.

Nothing here touches an image, so all of it is unit-tested without libguestfs.
"""


import hashlib
import ipaddress
import re
import time
import warnings

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.network.spec import check_mtu

try:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        import crypt
    HAS_CRYPT = True
except ImportError:
    crypt = None
    HAS_CRYPT = False

HEADER = 'Written by virtops.compute.disk_inject; the next run replaces changes made here.'
IFUPDOWN_FILE = '/etc/network/interfaces.d/virtops'
NETPLAN_FILE = '/etc/netplan/90-virtops.yaml'
CLOUD_INIT_NETWORK_FILE = '/etc/cloud/cloud.cfg.d/99-virtops-network.cfg'
CLOUD_INIT_NETWORK_OFF = '# %s\n# The network is configured in the image; cloud-init leaves it alone.\nnetwork: {config: disabled}\n' % HEADER
_SOURCE_LINE = re.compile(r'^\s*source(-directory)?\s+/etc/network/interfaces\.d(/\*|/)?\s*$', re.M)
_NAME = re.compile(r'[A-Za-z0-9_.:@-]{1,15}')


# ---------------------------------------------------------------- accounts

def parse_colon_file(text):
    """``{name: [fields]}`` of /etc/passwd, /etc/group or /etc/shadow."""
    entries = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            fields = line.split(':')
            entries.setdefault(fields[0], fields)
    return entries


# a user or group name as useradd accepts it (ASCII, at most 32 characters), or a numeric id
_ACCOUNT = re.compile(r'[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|[0-9]{1,10}')
MAX_ID = 2 ** 32 - 2


def parse_owner(owner, path):
    """``(user, group or '')`` of ``user``, ``user:group`` or numeric ids, checked before the image is opened."""
    user, _sep, group = str(owner).partition(':')
    for name, what in ((user, 'user'), (group, 'group')):
        if (name or what == 'user') and (not _ACCOUNT.fullmatch(name) or (name.isdigit() and int(name) > MAX_ID)):
            raise VirtopsError("file '%s': owner %s is not a %s name (ASCII letters, digits, '_', '.', '-') or a "
                               "numeric id." % (path, ascii(str(owner)), what))
    return user, group


def account_ids(entries, name, what, where):
    """``(id, group id)`` of an entry of /etc/passwd (or (gid, gid) of /etc/group); the image's files are its
    users' to write, so a line that does not hold numbers is refused, not trusted."""
    fields = entries[name]
    try:
        first = int(fields[2])
        second = int(fields[3]) if what == 'user' else first
    except (IndexError, ValueError):
        raise VirtopsError("%s: the %s entry of '%s' in the image is malformed." % (where, what, name)) from None
    if not (0 <= first <= MAX_ID and 0 <= second <= MAX_ID):
        raise VirtopsError("%s: the %s entry of '%s' in the image holds an id out of range." % (where, what, name))
    return first, second


def resolve_owner(owner, passwd_text, group_text, path):
    """``(uid, gid)`` for ``user``, ``user:group`` or numeric ids, looked up in the image's own files."""
    users = parse_colon_file(passwd_text)
    groups = parse_colon_file(group_text)
    user, group = parse_owner(owner, path)
    where = "file '%s'" % path
    if user.isdigit():
        uid, gid = int(user), int(user)
    elif user in users:
        uid, gid = account_ids(users, user, 'user', where)
    else:
        raise VirtopsError("file '%s': the owner '%s' is no user of the image." % (path, user))
    if group:
        if group.isdigit():
            gid = int(group)
        elif group in groups:
            gid = account_ids(groups, group, 'group', where)[0]
        else:
            raise VirtopsError("file '%s': the group '%s' is no group of the image." % (path, group))
    return uid, gid


def parse_mode(mode, path):
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip()
        if not re.fullmatch(r'0?[0-7]{3,4}', text):
            raise VirtopsError("file '%s': mode '%s' is not an octal mode such as '0644'." % (path, mode))
        value = int(text, 8)
    if not 0 <= value <= 0o7777:
        raise VirtopsError("file '%s': mode %o is out of range." % (path, value))
    return value


def summarize(data):
    """What a diff says of a file's bytes instead of showing them: their size and a short digest."""
    return '(%d bytes, sha256 %s...)\n' % (len(data), hashlib.sha256(data).hexdigest()[:16])


def password_matches(password, current_hash):
    """True when ``current_hash`` (a /etc/shadow field) is a hash of ``password``."""
    if not current_hash or current_hash[0] in '!*' or not current_hash.startswith('$'):
        return False
    try:
        return crypt.crypt(password, current_hash) == current_hash
    except (OSError, ValueError):
        return False


def hash_password(password, salt=None):
    """A SHA-512 crypt hash of ``password``, with a random salt unless ``salt`` (16 characters of [./0-9A-Za-z])."""
    return crypt.crypt(password, '$6$' + salt if salt else crypt.mksalt(crypt.METHOD_SHA512))


def update_shadow(shadow_text, user, password, today=None):
    """``(new text, changed)``: the user's hash set to a SHA-512 hash of ``password`` unless it already matches."""
    if not HAS_CRYPT:
        raise VirtopsError("admin_password needs Python's crypt module on the host running the module.")
    lines = shadow_text.splitlines()
    for index, line in enumerate(lines):
        fields = line.split(':')
        if fields[0] != user:
            continue
        if len(fields) > 1 and password_matches(password, fields[1]):
            return shadow_text, False
        fields += [''] * (9 - len(fields))
        fields[1] = hash_password(password)
        fields[2] = str(int((today if today is not None else time.time()) // 86400))
        lines[index] = ':'.join(fields)
        return '\n'.join(lines) + '\n', True
    raise VirtopsError("admin_user '%s' has no entry in the image's /etc/shadow." % user)


def redact_shadow(text):
    """/etc/shadow with every hash replaced, for diffs."""
    out = []
    for line in text.splitlines():
        fields = line.split(':')
        if len(fields) > 1 and fields[1] not in ('', '*', '!', '!*'):
            fields[1] = '********'
        out.append(':'.join(fields))
    return '\n'.join(out) + ('\n' if out else '')


# ---------------------------------------------------------------- ssh keys

def _key_identity(line):
    """(type, base64) of an authorized_keys line, options and comment aside; None for other lines."""
    parts = line.strip().split()
    for index, part in enumerate(parts):
        if part.startswith(('ssh-', 'ecdsa-', 'sk-')) and index + 1 < len(parts):
            return part, parts[index + 1]
    return None


def merge_authorized_keys(existing_text, keys):
    """``existing_text`` with each key of ``keys`` appended unless the same key is already there."""
    present = set(filter(None, (_key_identity(line) for line in existing_text.splitlines())))
    text = existing_text
    for key in keys:
        identity = _key_identity(key)
        if identity is None:
            raise VirtopsError("ssh key '%s...' is not an OpenSSH public key line." % key.strip()[:20])
        if identity in present:
            continue
        if text and not text.endswith('\n'):
            text += '\n'
        text += key.strip() + '\n'
        present.add(identity)
    return text


# ---------------------------------------------------------------- network

def normalize_interfaces(network):
    """Checked interface dicts: name, dhcp, address (an ip_interface or None), gateway, dns, mtu."""
    result = []
    for item in (network or {}).get('interfaces') or []:
        name = item.get('name')
        if not name or not _NAME.fullmatch(name):
            raise VirtopsError("network: interface name %r is not a valid Linux interface name." % name)
        address = item.get('address')
        if address:
            try:
                address = ipaddress.ip_interface(address)
            except ValueError:
                raise VirtopsError("network: interface %s: address '%s' is not an address in CIDR form." % (name, address))
            if address.network.prefixlen == address.max_prefixlen and '/' not in item['address']:
                raise VirtopsError("network: interface %s: address '%s' needs a prefix length such as /24." % (name, item['address']))
        dhcp = item.get('dhcp')
        if dhcp is None:
            dhcp = not address
        if dhcp and address:
            raise VirtopsError('network: interface %s has both dhcp and a static address.' % name)
        gateway = item.get('gateway')
        if gateway:
            try:
                gateway = ipaddress.ip_address(gateway)
            except ValueError:
                raise VirtopsError("network: interface %s: gateway '%s' is not an IP address." % (name, gateway))
            if not address or gateway.version != address.version:
                raise VirtopsError('network: interface %s: a gateway needs a static address of the same IP version.' % name)
        dns = []
        for server in item.get('dns') or []:
            try:
                dns.append(ipaddress.ip_address(server))
            except ValueError:
                raise VirtopsError("network: interface %s: DNS server '%s' is not an IP address." % (name, server))
        check_mtu(item.get('mtu'), 'network: interface %s' % name)
        result.append(dict(name=name, dhcp=bool(dhcp), address=address or None, gateway=gateway or None, dns=dns,
                           mtu=item.get('mtu')))
    if len(set(item['name'] for item in result)) != len(result):
        raise VirtopsError('network: an interface is named twice.')
    return result


def render_ifupdown(interfaces):
    """/etc/network/interfaces.d/virtops for Debian's ifupdown."""
    out = ['# ' + HEADER]
    for item in interfaces:
        out += ['', 'auto %s' % item['name']]
        if item['dhcp']:
            out.append('iface %s inet dhcp' % item['name'])
        else:
            family = 'inet6' if item['address'].version == 6 else 'inet'
            out += ['iface %s %s static' % (item['name'], family), '    address %s' % item['address'].with_prefixlen]
            if item['gateway']:
                out.append('    gateway %s' % item['gateway'])
        if item['dns']:
            out.append('    dns-nameservers %s' % ' '.join(str(server) for server in item['dns']))
        if item['mtu']:
            out.append('    mtu %d' % int(item['mtu']))
    return '\n'.join(out) + '\n'


def ensure_interfaces_d_sourced(interfaces_text):
    """The main /etc/network/interfaces, with a line that reads interfaces.d added when it has none."""
    if _SOURCE_LINE.search(interfaces_text):
        return interfaces_text
    text = interfaces_text
    if text and not text.endswith('\n'):
        text += '\n'
    return text + '\nsource /etc/network/interfaces.d/*\n'


def conflicting_stanzas(interfaces_text, interfaces):
    """Names of our interfaces that the main /etc/network/interfaces configures itself."""
    configured = set(re.findall(r'^\s*iface\s+(\S+)', interfaces_text, re.M))
    return sorted(item['name'] for item in interfaces if item['name'] in configured)


def _yaml_list(values):
    return '[%s]' % ', '.join('"%s"' % value for value in values)


def render_netplan(interfaces):
    """/etc/netplan/90-virtops.yaml (written as text: no YAML library needed on the host)."""
    out = ['# ' + HEADER, 'network:', '  version: 2', '  ethernets:']
    for item in interfaces:
        out.append('    %s:' % item['name'])
        if item['dhcp']:
            out.append('      dhcp4: true')
        else:
            out += ['      dhcp4: false', '      addresses: %s' % _yaml_list([item['address'].with_prefixlen])]
            if item['gateway']:
                out += ['      routes:', '        - to: default', '          via: "%s"' % item['gateway']]
        if item['dns']:
            out += ['      nameservers:', '        addresses: %s' % _yaml_list(item['dns'])]
        if item['mtu']:
            out.append('      mtu: %d' % int(item['mtu']))
    return '\n'.join(out) + '\n'


def render_resolv_conf(interfaces):
    servers = []
    for item in interfaces:
        servers += [str(server) for server in item['dns'] if str(server) not in servers]
    if not servers:
        return None
    return '# %s\n%s' % (HEADER, ''.join('nameserver %s\n' % server for server in servers[:3]))
