# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tracking what a run changes, for check mode, diff mode and ``changed``.

A module records every property it compares with ``DifferenceTracker.add``;
``changed`` then follows from the record rather than from flags set by hand,
and ``--diff`` shows the same record with secrets replaced.
"""


import copy

REDACTED = '********'


def _redact(value, secret_keys):
    if isinstance(value, dict):
        return dict((key, REDACTED if key in secret_keys and item is not None else _redact(item, secret_keys))
                    for key, item in value.items())
    if isinstance(value, list):
        return [_redact(item, secret_keys) for item in value]
    return value


class DifferenceTracker:
    """Before/after values of named properties of one object."""

    def __init__(self, secret_keys=()):
        self._entries = []
        self._secret_keys = frozenset(secret_keys)

    def add(self, name, before, after, secret=False):
        """Record one property; returns True when before and after differ."""
        differs = before != after
        self._entries.append(dict(name=name, before=copy.deepcopy(before), after=copy.deepcopy(after),
                                  differs=differs, secret=secret or name in self._secret_keys))
        return differs

    def merge(self, other, prefix=''):
        """Take over another tracker's record, naming its properties under ``prefix``."""
        for entry in other._entries:
            merged = dict(entry)
            merged['name'] = prefix + entry['name']
            self._entries.append(merged)

    @property
    def has_differences(self):
        return any(entry['differs'] for entry in self._entries)

    def differing_names(self):
        return [entry['name'] for entry in self._entries if entry['differs']]

    def _side(self, side, only_differences):
        result = {}
        for entry in self._entries:
            if only_differences and not entry['differs']:
                continue
            value = entry[side]
            if entry['secret'] and value is not None:
                value = REDACTED
            result[entry['name']] = _redact(value, self._secret_keys)
        return result

    def diff(self, only_differences=True):
        """The ``diff`` return value: ``{'before': {...}, 'after': {...}}`` with secrets redacted."""
        return dict(before=self._side('before', only_differences), after=self._side('after', only_differences))

    def differences(self):
        """A list of ``{name, before, after}`` for the properties that change, secrets redacted."""
        before = self._side('before', True)
        after = self._side('after', True)
        return [dict(name=name, before=before[name], after=after[name]) for name in self.differing_names()]


def text_diff(before, after, before_header=None, after_header=None):
    """A diff of two texts (for example two renderings of an XML definition)."""
    result = dict(before=before or '', after=after or '')
    if before_header:
        result['before_header'] = before_header
    if after_header:
        result['after_header'] = after_header
    return result
