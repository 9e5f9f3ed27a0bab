"""Does KVM run guests on this machine? The tests' own answer, found without libvirt or the collection.

host_info's virt-type probe and the demo must agree with this answer on whatever machine the suite runs: a
machine without /dev/kvm, one whose /dev/kvm exists but cannot run guests (this project's lab machine), and a
hypervisor host where KVM works. The answer comes from booting the lab's tiny image with QEMU and
``-accel kvm`` directly and waiting for its boot marker on the serial port: a Linux guest booting to its shell,
not the collection's 512-byte probe. It is kept for the machine's boot in /run/virtops-lab (QEMU and the kernel
do not change under a running machine), so a session pays for it once.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

from lab.proc import STATE_DIR

CACHE = os.path.join(STATE_DIR, 'kvm-verdict.json')
BOOT_TIMEOUT = 60       # the tiny image reaches its shell in seconds under TCG, and faster under working KVM


def _boot_id():
    with open('/proc/sys/kernel/random/boot_id') as handle:
        return handle.read().strip()


def _qemu():
    return shutil.which('qemu-system-x86_64') or '/usr/bin/qemu-system-x86_64'


def _key():
    qemu = _qemu()
    return dict(boot_id=_boot_id(), qemu=qemu, qemu_mtime=os.stat(qemu).st_mtime)


def boot_tiny_with_kvm(image, timeout=BOOT_TIMEOUT):
    """(True, how long it took) when the tiny image boots under KVM, else (False, why not)."""
    if not os.path.exists('/dev/kvm'):
        return False, '/dev/kvm does not exist'
    with tempfile.TemporaryDirectory(prefix='virtops-kvm-check-') as work:
        serial = os.path.join(work, 'serial.log')
        cmd = [_qemu(), '-accel', 'kvm', '-m', '256', '-nodefaults', '-display', 'none', '-no-reboot',
               '-serial', 'file:' + serial, '-kernel', image.kernel, '-initrd', image.initrd,
               '-append', image.cmdline]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            while time.monotonic() - started < timeout:
                if os.path.exists(serial):
                    with open(serial, 'rb') as handle:
                        if image.marker.encode() in handle.read():
                            return True, 'the tiny image booted under KVM in %.1f s' % (time.monotonic() - started)
                if proc.poll() is not None:
                    output = proc.stdout.read().decode(errors='replace').strip()
                    return False, 'QEMU with -accel kvm exited (%s): %s' % (proc.returncode, output[-300:])
                time.sleep(0.5)
            return False, 'the tiny image did not boot under KVM within %d s' % timeout
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def kvm_runs_guests(image):
    """(works, why), from the cache when this boot of the machine has answered already."""
    key = _key()
    try:
        with open(CACHE) as handle:
            cached = json.load(handle)
        if cached['key'] == key:
            return cached['works'], cached['why']
    except (OSError, ValueError, KeyError):
        pass
    works, why = boot_tiny_with_kvm(image)
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    with open(CACHE, 'w') as handle:
        json.dump(dict(key=key, works=works, why=why), handle)
    return works, why
