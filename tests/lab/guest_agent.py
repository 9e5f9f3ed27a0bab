"""Talking to any guest's agent through libvirt (for guests the collection made, which have no LabGuest handle)."""
import base64
import json
import time


def command(dom, name, arguments=None, timeout=10):
    """Run guest-agent command ``name``; its parsed 'return' value."""
    import libvirt_qemu
    payload = dict(execute=name, **({'arguments': arguments} if arguments is not None else {}))
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(payload), timeout, 0)).get('return')


def wait(dom, timeout=120):
    """Poll guest-ping until the agent answers; raises on the time-out."""
    import libvirt
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            command(dom, 'guest-ping', timeout=5)
            return
        except libvirt.libvirtError as err:
            last = err
        time.sleep(1)
    raise AssertionError('the guest agent of %s did not answer within %ds: %s' % (dom.name(), timeout, last))


def write_file(dom, path, data, mode='w'):
    """Write ``data`` (bytes or text) to ``path`` in the guest, in chunks the agent accepts."""
    data = data.encode() if isinstance(data, str) else data
    handle = command(dom, 'guest-file-open', dict(path=path, mode=mode))
    try:
        for start in range(0, len(data), 48 * 1024):
            command(dom, 'guest-file-write', {'handle': handle,
                                              'buf-b64': base64.b64encode(data[start:start + 48 * 1024]).decode()})
        command(dom, 'guest-file-flush', dict(handle=handle))
    finally:
        command(dom, 'guest-file-close', dict(handle=handle))


def shell(dom, script, timeout=60):
    """Run ``script`` with the guest's /bin/sh; (exit code, what it printed)."""
    pid = command(dom, 'guest-exec', {'path': '/bin/sh', 'arg': ['-c', script], 'capture-output': True})['pid']
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = command(dom, 'guest-exec-status', {'pid': pid})
        if status.get('exited'):
            return status.get('exitcode'), base64.b64decode(status.get('out-data') or '').decode(errors='replace')
        time.sleep(0.2)
    raise AssertionError('%s: %r did not end within %ds' % (dom.name(), script, timeout))
