# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's scaled integers: a number plus a ``unit`` attribute.

libvirt accepts ``b``/``bytes``, decimal units (``KB``, ``MB``, ``GB`` ...:
powers of 1000) and binary ones (``k``/``KiB``, ``M``/``MiB``, ``G``/``GiB``
...: powers of 1024), case-insensitively, up to exabytes.  The model reads
any of them and hands out whole numbers in one fixed unit per property.
"""


_LETTERS = 'kmgtpe'
# the binary sizes the collection counts in (option values in GiB, progress in MiB)
MIB = 1024 ** 2
GIB = 1024 ** 3


class UnitError(ValueError):
    """A unit libvirt would not accept, or a value that is not a whole number."""


def unit_factor(unit):
    """Bytes in one ``unit``, for every spelling libvirt accepts."""
    if unit is None:
        raise UnitError('no unit given')
    name = unit.strip().lower()
    if name in ('b', 'byte', 'bytes'):
        return 1
    if not name or name[0] not in _LETTERS:
        raise UnitError('unknown size unit %r' % unit)
    power = _LETTERS.index(name[0]) + 1
    suffix = name[1:]
    if suffix in ('', 'ib'):
        return 1024 ** power
    if suffix == 'b':
        return 1000 ** power
    raise UnitError('unknown size unit %r' % unit)


def to_bytes(value, unit='bytes'):
    """``value`` (an int or a digit string) in ``unit``, as bytes."""
    if isinstance(value, bool):
        raise UnitError('%r is not a size' % (value,))
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise UnitError('%r is not a whole number' % value)
        value = int(text)
    if not isinstance(value, int) or value < 0:
        raise UnitError('%r is not a non-negative whole number' % (value,))
    return value * unit_factor(unit)


def from_bytes(count, unit='bytes', round_up=True):
    """``count`` bytes expressed in ``unit``: rounded up (as libvirt does for memory) unless told otherwise."""
    factor = unit_factor(unit)
    whole, rest = divmod(count, factor)
    if rest and round_up:
        whole += 1
    return whole


def convert(value, from_unit, to_unit, round_up=True):
    """``value`` in ``from_unit`` expressed in ``to_unit``."""
    return from_bytes(to_bytes(value, from_unit), to_unit, round_up=round_up)
