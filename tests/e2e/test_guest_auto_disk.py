"""Auto disk config: a guest made with a root disk larger than its image boots with a root file system that
fills it, with nothing in the guest growing it (cloud-init is switched off)."""
import base64
import json
import time

import libvirt
import libvirt_qemu

from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.runner import run_module

NAME = 'lab-autodisk'
GIB = 1024 ** 3


def _agent(dom, command, arguments=None):
    payload = {'execute': command}
    if arguments is not None:
        payload['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(payload), 10, 0)).get('return')


def _guest_exec(dom, path, *args, timeout=300):
    deadline = time.time() + timeout
    while True:
        try:
            started = _agent(dom, 'guest-exec', {'path': path, 'arg': list(args), 'capture-output': True})
            break
        except libvirt.libvirtError:
            if time.time() > deadline:
                raise
            time.sleep(3)
    while time.time() < deadline:
        status = _agent(dom, 'guest-exec-status', {'pid': started['pid']})
        if status.get('exited'):
            return base64.b64decode(status.get('out-data', '')).decode()
        time.sleep(0.5)
    raise AssertionError('%s did not finish in the guest' % path)


def test_root_file_system_fills_the_larger_disk(libvirt_conn, full_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=512, kernel=full_image.kernel, initrd=full_image.initrd,
                  cmdline=full_image.cmdline + ' cloud-init=disabled', image=full_image.disk, root_size_gb=4,
                  auto_disk_config=True, guest_agent=True, shutdown_timeout=60)
    run_module('guest', name=NAME, state='absent')
    try:
        result = run_module('guest', **params)
        assert not result.failed, result.msg
        assert any('grew the root file system' in action for action in result['actions']), result['actions']
        out = _guest_exec(libvirt_conn.lookupByName(NAME), '/bin/df', '-B1', '--output=size', '/')
        size = int(out.split()[-1])
        assert size > 3.5 * GIB, 'the root file system is %d bytes, not about 4 GiB' % size
        assert not run_module('guest', **params).changed

        before = libvirt_snapshot(libvirt_conn)
        refused = run_module('guest', **(params | {'root_size_gb': 5, 'allow_restart': False}))
        assert refused.failed
        assert_one_sentence(refused.msg, NAME, 'allow_restart')
        assert libvirt_snapshot(libvirt_conn) == before
    finally:
        run_module('guest', name=NAME, state='absent')
