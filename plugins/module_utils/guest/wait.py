# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting until a started guest is usable: its guest agent answers, or cloud-init has finished.

Both go through the QEMU guest agent (libvirt's ``qemuAgentCommand``), so they work against
a remote ``uri`` and need no network path to the guest. cloud-init is judged by the file it
writes when its last stage ends, ``/run/cloud-init/result.json`` (``{"v1": {"errors": []}}``),
read with the agent's file calls: reading a file is bounded, where ``cloud-init status
--wait`` run through ``guest-exec`` would block inside the guest beyond any timeout of ours.

The polling is written against three callables (agent, still running, clock) so that the
logic is tested without a guest.
"""


import base64
import json
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import describe_libvirt_error, libvirt

WAIT_CHOICES = ('none', 'agent', 'cloud_init')
RESULT_FILE = '/run/cloud-init/result.json'
POLL_SECONDS = 1.0
AGENT_CALL_SECONDS = 5
_MAX_READ = 65536


class WaitFailed(Exception):
    """The wait ended without the guest getting there; the text is the cause, to quote in a sentence."""


class AgentError(Exception):
    """The agent did not answer, or refused the command; the text says why."""


def cloud_init_outcome(text):
    """``(finished, errors)`` from the text of result.json; a half-written file counts as not finished."""
    try:
        data = json.loads(text)
    except ValueError:
        return False, []
    result = data.get('v1') if isinstance(data, dict) else None
    if not isinstance(result, dict):
        return False, []
    errors = result.get('errors') or []
    return True, [str(error) for error in errors]


def read_file(agent, path):
    """The text of ``path`` in the guest (at most 64 KiB), or None when it does not exist."""
    try:
        handle = agent({'execute': 'guest-file-open', 'arguments': {'path': path, 'mode': 'r'}})
    except AgentError as err:
        if 'No such file' in str(err) or 'not found' in str(err).lower():
            return None
        raise
    try:
        read = agent({'execute': 'guest-file-read', 'arguments': {'handle': handle, 'count': _MAX_READ}})
    finally:
        try:
            agent({'execute': 'guest-file-close', 'arguments': {'handle': handle}})
        except AgentError:
            pass
    return base64.b64decode(read.get('buf-b64') or '').decode('utf-8', 'replace')


def wait(kind, timeout, agent, running, clock=time.monotonic, sleep=time.sleep, progress=None):
    """Poll until ``kind`` (agent or cloud_init) is reached; returns the seconds it took.

    ``agent(command)`` returns the command's ``return`` value or raises AgentError, ``running()``
    says whether the guest still runs, ``progress(last)`` (optional) hears what was last seen at each
    poll. Raises WaitFailed with the cause."""
    started = clock()
    deadline = started + timeout
    last = 'no answer yet'
    while True:
        if not running():
            raise WaitFailed('it stopped running while waiting for %s' % what(kind))
        try:
            agent({'execute': 'guest-ping'})
            if kind == 'agent':
                return clock() - started
            text = read_file(agent, RESULT_FILE)
            if text is None:
                last = '%s does not exist yet' % RESULT_FILE
            else:
                finished, errors = cloud_init_outcome(text)
                if finished and errors:
                    raise WaitFailed('cloud-init finished with %d error(s), the first: %s'
                                     % (len(errors), errors[0].rstrip('.')))
                if finished:
                    return clock() - started
                last = '%s is not complete yet' % RESULT_FILE
        except AgentError as err:
            last = 'the guest agent did not answer (%s)' % str(err).rstrip('.')
        if clock() + POLL_SECONDS > deadline:
            raise WaitFailed('%s did not happen within wait_timeout (%d s); last: %s' % (what(kind), timeout, last))
        if progress:
            progress(last)
        sleep(POLL_SECONDS)


def what(kind):
    return 'the guest agent to answer' if kind == 'agent' else 'cloud-init to finish'


def libvirt_agent(dom):
    """``agent(command)`` for ``wait``, through libvirt."""
    import libvirt_qemu  # pylint: disable=import-outside-toplevel  # part of libvirt-python, needed only here

    def call(command):
        try:
            out = libvirt_qemu.qemuAgentCommand(dom, json.dumps(command), AGENT_CALL_SECONDS, 0)
        except libvirt.libvirtError as err:
            raise AgentError(describe_libvirt_error(err))
        return json.loads(out).get('return')
    return call


def libvirt_running(dom):
    return lambda: dom.state()[0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
