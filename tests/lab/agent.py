"""Asking a guest through its QEMU guest agent (libvirt's qemuAgentCommand): commands run inside it, and what the
guest's own kernel says about its boot, CPUs and memory. Output comes from the guest's process, never an echo of
the request, and every wait raises when its time is up."""
import base64
import json
import time
from dataclasses import dataclass


def _libvirt():
    import libvirt         # imported late: the lab's command line need not run inside the venv
    return libvirt


def command(dom, execute, arguments=None, timeout=10):
    """The parsed 'return' of one agent command on the virDomain ``dom``."""
    import libvirt_qemu
    payload = {'execute': execute}
    if arguments is not None:
        payload['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(payload), timeout, 0)).get('return')


def wait_for_agent(dom, timeout=300):
    """Until the agent answers guest-ping; returns the seconds it took."""
    libvirt = _libvirt()
    started, last = time.monotonic(), None
    while time.monotonic() - started < timeout:
        try:
            command(dom, 'guest-ping', timeout=5)
            return time.monotonic() - started
        except libvirt.libvirtError as err:
            last = err
        time.sleep(1)
    raise AssertionError('the guest agent of %s did not answer within %d s (last error: %s)'
                         % (dom.name(), timeout, last))


@dataclass
class Exec:
    status: int
    out: str
    err: str


def _decoded(status, key):
    return base64.b64decode(status.get(key) or '').decode(errors='replace')


def run(dom, argv, stdin=None, timeout=120):
    """Run ``argv`` inside the guest; returns its exit status and output. Raises when it has not ended in time."""
    request = {'path': argv[0], 'arg': list(argv[1:]), 'capture-output': True}
    if stdin is not None:
        request['input-data'] = base64.b64encode(stdin.encode()).decode()
    pid = command(dom, 'guest-exec', request)['pid']
    deadline = time.monotonic() + timeout
    while True:
        status = command(dom, 'guest-exec-status', {'pid': pid})
        if status.get('exited'):
            return Exec(status.get('exitcode'), _decoded(status, 'out-data'), _decoded(status, 'err-data'))
        if time.monotonic() > deadline:
            raise AssertionError('%s did not end in %s within %d s' % (' '.join(argv), dom.name(), timeout))
        time.sleep(0.3)


def sh(dom, script, timeout=120):
    """What ``script`` printed when run by the guest's /bin/sh; fails unless it exited 0."""
    done = run(dom, ['/bin/sh', '-c', script], timeout=timeout)
    assert done.status == 0, '%r exited %s in %s: %s' % (script, done.status, dom.name(), done.err or done.out)
    return done.out


def boot(dom):
    """(boot id, seconds since boot) as the guest's kernel tells them: a new boot has a new id."""
    out = sh(dom, 'cat /proc/sys/kernel/random/boot_id /proc/uptime').split()
    return out[0], float(out[1])
