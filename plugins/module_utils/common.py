# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame every virtops.compute module runs in.

``VirtopsModule`` adds the shared connection options to a module's argument
spec, opens one libvirt connection on first use, and turns every expected
failure into ``fail_json`` with a single sentence.  Modules stay thin: an
argument spec, documentation and one call to ``run``.
"""


import re
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.virtops.compute.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC, HAS_LIBVIRT, LIBVIRT_IMPORT_ERROR, VirtopsError, close_quietly, describe_libvirt_error,
    effective_uri, libvirt, open_connection,
)


def converge_result(module, tracker, actions=(), changed=None, **facts):
    """The result every converging module returns.

    ``changed`` follows from the tracker unless the caller knows better (a network restarted with no
    property changed); ``changes`` names what differs; ``actions`` says what was done (or, in check
    mode, what would be); ``diff`` is the tracker's before/after with secrets redacted, in diff mode
    only; ``facts`` are the object's own keys (``guest``, ``volume``, ...).
    """
    result = dict(changed=tracker.has_differences if changed is None else changed, changes=tracker.differing_names())
    if actions:
        result['actions'] = list(actions)
    if module.diff_mode:
        result['diff'] = tracker.diff()
    result.update(facts)
    return result


# Option names end in their unit (memory_mb, size_gb): a value Ansible cannot read as a whole number gets a sentence
# that names the unit instead of Python's "cannot be converted to an int".
_UNITS = dict(mb='MiB', mib='MiB', gb='GiB', gib='GiB', kb='KiB', ms='milliseconds')
_UNIT_EXAMPLES = dict(MiB='2048 is 2 GiB', GiB='20 is 20 GiB')
_NOT_A_WHOLE_NUMBER = re.compile(r"argument '(?P<name>\w+)' is of type \w+(?: found in '(?P<parent>[^']+)'\.)? and we "
                                 r'were unable to convert to int: "(?P<value>.*)" cannot be converted to an int')


def explain_unit(message):
    """Ansible's type error for an option whose name carries a unit, as one sentence naming the unit."""
    match = _NOT_A_WHOLE_NUMBER.search(message or '')
    unit = match and _UNITS.get(match.group('name').rsplit('_', 1)[-1])
    if not unit:
        return message
    name = match.group('name') + (' (in %s)' % match.group('parent') if match.group('parent') else '')
    example = ' (%s)' % _UNIT_EXAMPLES[unit] if unit in _UNIT_EXAMPLES else ''
    return '%s is a whole number of %s%s, not %s.' % (name, unit, example, match.group('value'))


class _SentenceModule(AnsibleModule):
    """AnsibleModule whose own refusals (types, choices, required options) end as a sentence, like the collection's."""

    def fail_json(self, msg, **kwargs):
        msg = explain_unit(msg) if isinstance(msg, str) else msg
        if isinstance(msg, str) and msg.strip() and not msg.rstrip().endswith(('.', '!', '?')):
            msg = ' '.join(msg.split()) + '.'
        super().fail_json(msg=msg, **kwargs)


class VirtopsModule:
    """An AnsibleModule with the collection's connection handling and error reporting."""

    def __init__(self, argument_spec, **kwargs):
        spec = dict(CONNECTION_ARGUMENT_SPEC)
        spec.update(argument_spec)
        self.ansible = _SentenceModule(argument_spec=spec, **kwargs)
        if not HAS_LIBVIRT:
            self.ansible.fail_json(msg=missing_required_lib('libvirt-python'), exception=LIBVIRT_IMPORT_ERROR)
        self._conn = None
        self._peers = []

    @property
    def params(self):
        return self.ansible.params

    @property
    def check_mode(self):
        return self.ansible.check_mode

    @property
    def diff_mode(self):
        return self.ansible._diff

    @property
    def uri(self):
        return effective_uri(self.params.get('uri'))

    @property
    def conn(self):
        """The run's single libvirt connection, opened on first use."""
        if self._conn is None:
            self._conn = open_connection(self.params.get('uri'))
        return self._conn

    def open_peer(self, uri):
        """A connection to another host (a migration's destination), closed with the run's own at exit."""
        conn = open_connection(uri)
        self._peers.append(conn)
        return conn

    def log(self, message):
        """A progress line in the host's log and, with -vvv, the task output."""
        self.ansible.log(message)

    def warn(self, message):
        self.ansible.warn(message)

    def fail(self, msg, **extra):
        self._close()
        self.ansible.fail_json(msg=msg, **extra)

    def _close(self):
        for conn in [self._conn] + self._peers:
            close_quietly(conn)
        self._conn, self._peers = None, []

    def run(self, action):
        """Call ``action(self)``; exit with the dict it returns or fail with one sentence."""
        try:
            result = action(self)
        except VirtopsError as err:
            self.fail(str(err))
        except libvirt.libvirtError as err:
            self.fail(describe_libvirt_error(err), exception=traceback.format_exc())
        if result.get('failed'):
            result = dict(result)
            result.pop('failed')
            self.fail(result.pop('msg'), **result)
        self._close()
        result.setdefault('changed', False)
        self.ansible.exit_json(**result)
