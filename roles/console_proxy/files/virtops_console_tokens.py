# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the console_proxy role's daemons know about guests, and websockify's token plugin.

The role writes one settings file (``targets``, readable by the proxy's service user), re-read at every
connection so that tokens can change without a restart:
    {"uri": "<libvirt URI>", "target_host": "<or empty>", "lifetime": <seconds a token lasts, 0 for ever>,
     "guests": {"<uuid>": {"name": "web1", "issued": <epoch seconds>, "token": "...", "rdp_password": "...", ...}},
     "vnc_passwords": {"<uuid>": "<the guest's own VNC password, when it has one>"}}
Guests are keyed by UUID: a guest defined anew under an old name has another UUID, so an old token never
reaches it. Where a guest's VNC server listens is asked of libvirt (``virsh --readonly``) at each connection, so
a guest that restarted on another VNC port stays reachable, and a guest that is not running refuses.

Run as a script (by the role, as root), ``vnc-passwords URI UUID...`` prints the guests' VNC passwords as JSON:
only a read-write connection sees them, and the proxy's daemons have a read-only one.
"""
import hmac
import json
import logging
import re
import subprocess
import sys
import time
from xml.etree import ElementTree

ANY_ADDRESS = ('', '0.0.0.0', '::')
VIRSH_TIMEOUT = 15
# websockify logs the request path (token included) and "Token '...' not found": no log may hold a token
_SECRETS = re.compile(r"(token=|Token ')[^&\s']*")


def say(message):
    sys.stderr.write('%s %s\n' % (time.strftime('%Y-%m-%d %H:%M:%S'), message))
    sys.stderr.flush()


def read_settings(path):
    with open(path) as handle:
        return json.load(handle)


def expired(settings, guest, now=None):
    lifetime = settings.get('lifetime') or 0
    return lifetime > 0 and (now or time.time()) >= guest.get('issued', 0) + lifetime


def vnc_address(domain_xml, target_host=''):
    """(host, port) of the running guest's VNC server in its live domain XML, or None when it has none now."""
    graphics = ElementTree.fromstring(domain_xml).find("./devices/graphics[@type='vnc']")
    if graphics is None:
        return None
    try:
        port = int(graphics.get('port', '-1'))
    except ValueError:
        return None
    if port <= 0:
        return None
    listen = graphics.get('listen')
    if listen is None:
        address = graphics.find("./listen[@type='address']")
        listen = address.get('address') if address is not None else ''
    return (target_host or ('127.0.0.1' if listen in ANY_ADDRESS else listen), port)


def virsh_dumpxml(uri, uuid, readonly=True):
    """The guest's live domain XML, or raise LookupError saying why there is none."""
    command = ['virsh'] + (['--readonly'] if readonly else []) + (['--connect', uri] if uri else [])
    command += ['dumpxml', '--domain', uuid] + ([] if readonly else ['--security-info'])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=VIRSH_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LookupError('cannot ask libvirt: %s' % err) from None
    if done.returncode != 0:
        raise LookupError(done.stderr.strip() or 'virsh exited with %d' % done.returncode)
    return done.stdout


def guest_vnc(settings, uuid):
    """(host, port) of the guest's VNC server now, or raise LookupError saying why it has none."""
    found = vnc_address(virsh_dumpxml(settings.get('uri', ''), uuid), settings.get('target_host') or '')
    if found is None:
        raise LookupError('it has no VNC console now (not running?)')
    return found


def redact_logs():
    """From now on no log line of this process carries a token (websockify logs them)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, 'virtops_redacts', False):
        return

    def make(*args, **kwargs):
        record = factory(*args, **kwargs)
        message = record.getMessage()
        if _SECRETS.search(message):
            record.msg, record.args = _SECRETS.sub(r'\1<redacted>', message), None
        return record
    make.virtops_redacts = True
    logging.setLogRecordFactory(make)


class GuestConsoles(object):
    """Passed to websockify as --token-plugin virtops_console_tokens.GuestConsoles --token-source FILE."""

    def __init__(self, source):
        self.source = source
        # websockify makes the plugin before it serves anything
        redact_logs()

    def lookup(self, token):
        try:
            settings = read_settings(self.source)
        except (OSError, ValueError) as err:
            say('virtops console tokens: cannot read %s: %s' % (self.source, err))
            return None
        for uuid, guest in settings.get('guests', {}).items():
            if guest.get('token') and hmac.compare_digest(guest['token'].encode(), token.encode()):
                break
        else:
            return None
        if expired(settings, guest):
            say('virtops console tokens: guest %s: its token has expired' % guest.get('name'))
            return None
        try:
            return guest_vnc(settings, uuid)
        except LookupError as err:
            say('virtops console tokens: guest %s: %s' % (guest.get('name'), err))
            return None


def _vnc_password(domain_xml):
    graphics = ElementTree.fromstring(domain_xml).find("./devices/graphics[@type='vnc']")
    return graphics.get('passwd', '') if graphics is not None else ''


def main(argv):
    if len(argv) < 2 or argv[0] != 'vnc-passwords':
        sys.stderr.write('usage: virtops_console_tokens.py vnc-passwords URI UUID...\n')
        return 2
    found = {}
    for uuid in argv[2:]:
        try:
            found[uuid] = _vnc_password(virsh_dumpxml(argv[1], uuid, readonly=False))
        except LookupError as err:
            sys.stderr.write('guest %s: %s\n' % (uuid, err))
            return 1
    print(json.dumps(found))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
