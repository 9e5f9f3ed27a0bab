# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A process's state as /proc tells it: the one parser of ``/proc/PID/stat``."""


def stat(pid):
    """``(command name, fields after it)`` of a process, or None once it has gone.

    The command name, in brackets, may itself hold spaces and brackets, so the fields are those after its last
    ``)``; ``fields[0]`` is the state, ``fields[1]`` the parent's pid, ``fields[11:13]`` the user and system time."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            text = handle.read()
    except OSError:
        return None
    head, sep, tail = text.rpartition(')')
    fields = tail.split()
    if not sep or len(fields) < 13:
        return None
    return head.partition('(')[2], fields


def alive(fields):
    """Whether ``stat``'s fields are those of a live process (a zombie waiting to be reaped is not)."""
    return fields[0] not in ('Z', 'X')
