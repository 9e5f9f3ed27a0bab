# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""websockify token plugin of the console_proxy role: a token names a guest, and the guest's VNC address is asked
of libvirt at each connection, so a guest whose VNC port moved when it restarted stays reachable by the same URL
without the role running again.

The token source is a JSON file the role writes:
    {"uri": "<libvirt URI, or empty for virsh's default>", "target_host": "<or empty>",
     "tokens": {"<token>": "<guest name>"}}
It is read on every connection, as websockify's own TokenFile is.
"""
import json
import subprocess
import sys
from xml.etree import ElementTree

ANY_ADDRESS = ('', '0.0.0.0', '::')
VIRSH_TIMEOUT = 15


def _say(message):
    # websockify's log gets the reason a connection was refused; the token itself is never printed
    sys.stderr.write('virtops console tokens: %s\n' % message)


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


class GuestConsoles(object):
    """Passed to websockify as --token-plugin virtops_console_tokens.GuestConsoles --token-source FILE."""

    def __init__(self, source):
        self.source = source

    def _settings(self):
        with open(self.source) as handle:
            return json.load(handle)

    def lookup(self, token):
        try:
            settings = self._settings()
        except (OSError, ValueError) as err:
            _say('cannot read %s: %s' % (self.source, err))
            return None
        guest = settings.get('tokens', {}).get(token)
        if not guest:
            return None
        command = ['virsh', '--readonly'] + (['--connect', settings['uri']] if settings.get('uri') else [])
        try:
            done = subprocess.run(command + ['dumpxml', '--domain', guest], capture_output=True, text=True,
                                  timeout=VIRSH_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            _say('cannot ask libvirt for guest %s: %s' % (guest, err))
            return None
        if done.returncode != 0:
            _say('guest %s: %s' % (guest, done.stderr.strip() or 'virsh exited with %d' % done.returncode))
            return None
        found = vnc_address(done.stdout, settings.get('target_host') or '')
        if found is None:
            _say('guest %s has no VNC console now (not running?)' % guest)
        return found
