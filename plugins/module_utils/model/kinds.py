# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the text of libvirt XML maps to Python values.

``str`` and ``int`` stand for ``STR`` and ``INT``; libvirt's two boolean
spellings are ``YES_NO`` (``'yes'``/``'no'``) and ``ON_OFF``
(``'on'``/``'off'``); nwfilter adds ``TRUE_FALSE``.  ``LOOSE_INT`` reads a number where there is one and
the text otherwise (nwfilter values may be ``$VARIABLES`` or netmasks).
"""


import re

_INT = re.compile(r'\s*[-+]?[0-9]+\s*')
_HEX = re.compile(r'\s*0[xX][0-9a-fA-F]+\s*')
_TRUE_WORDS = ('yes', 'on', 'true', '1')
_FALSE_WORDS = ('no', 'off', 'false', '0')


class ModelError(ValueError):
    """XML the model cannot read, or a value it cannot write."""


class Kind:
    """Text as is."""

    description = 'text'

    def parse(self, text):
        return text

    def format(self, value):
        if isinstance(value, (bool, dict, list, tuple)):
            raise ModelError('%r is not %s' % (value, self.description))
        return value if isinstance(value, str) else str(value)


class IntKind(Kind):
    """Decimal (or 0x-prefixed hexadecimal) integers; written in decimal."""

    description = 'an integer'

    def parse(self, text):
        if not text.strip():
            return None
        if _INT.fullmatch(text):
            return int(text)
        if _HEX.fullmatch(text):
            return int(text, 16)
        raise ModelError('%r is not %s' % (text, self.description))

    def format(self, value):
        if isinstance(value, str):
            value = self.parse(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError('%r is not %s' % (value, self.description))
        return str(value)


class LooseIntKind(Kind):
    """An integer where the text is one, the text itself otherwise."""

    description = 'an integer or text'

    def parse(self, text):
        return int(text) if _INT.fullmatch(text) else text


class BoolKind(Kind):
    """A boolean spelled ``true_word``/``false_word``; reads any of libvirt's spellings."""

    def __init__(self, true_word, false_word):
        self.true_word, self.false_word = true_word, false_word
        self.description = "'%s' or '%s'" % (true_word, false_word)

    def parse(self, text):
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ModelError('%r is not %s' % (text, self.description))

    def format(self, value):
        if isinstance(value, str):
            value = self.parse(value)
        if not isinstance(value, bool):
            raise ModelError('%r is not %s' % (value, self.description))
        return self.true_word if value else self.false_word


STR = Kind()
INT = IntKind()
LOOSE_INT = LooseIntKind()
YES_NO = BoolKind('yes', 'no')
ON_OFF = BoolKind('on', 'off')
TRUE_FALSE = BoolKind('true', 'false')

_BY_TYPE = {str: STR, int: INT, bool: YES_NO}


def as_kind(kind):
    """The Kind for ``kind`` (a Kind, or one of the types str, int and bool)."""
    if isinstance(kind, Kind):
        return kind
    try:
        return _BY_TYPE[kind]
    except (KeyError, TypeError):
        raise TypeError('%r is not a value kind' % (kind,)) from None
