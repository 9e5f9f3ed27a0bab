"""Live, quiesced snapshot of the full Debian guest under write load (issue 8): the guest is never paused, it keeps
writing through the snapshot, the image boots as a new guest holding a file written before the cut, and its ext4
root needs no journal replay.

"Never paused" is read from libvirt's lifecycle events for the guest (lab.events): libvirt sends a suspended event
whenever the guest's vCPUs stop, whoever stops them, and a deliberate pause beforehand shows that the listener
hears them. The writes are seen on the host: a loop in the guest prints a line to its serial console after each
write, and a thread here stamps each line with the host's clock as virtlogd writes it to the log."""
import base64
import os
import re
import struct
import subprocess
import threading
import time
import uuid

import libvirt
import pytest

from lab.checks import libvirt_snapshot
from lab.events import LifecycleEvents
from lab.guests import LabGuest
from lab.proc import SHARED_DIR
from lab.runner import run_module

COPY = 'lab-snapfull-copy'
SNAP_DIR = os.path.join(SHARED_DIR, 'snapshots')
MARKER_FILE = '/var/tmp/virtops-snapshot-marker'
LOAD_PID = '/run/virtops-snapshot-load.pid'
TICK = re.compile(r'virtops-tick (\d+)')
WROTE = re.compile(r'virtops-wrote (\d+)')
# the tick loop touches no filesystem (builtins and a tty), so a frozen root cannot stall it; the write loop
# rewrites 4 MiB with fsync and appends a line, so the mirror always has fresh dirty blocks to chase
LOAD_SCRIPT = r"""
echo $$ > %(pid)s
( n=0; while :; do n=$((n+1)); echo "virtops-tick $n" > /dev/ttyS0; sleep 0.2; done ) &
n=0
while :; do
  n=$((n+1))
  dd if=/dev/zero of=/var/tmp/virtops-load bs=64k count=64 conv=notrunc,fsync 2>/dev/null
  echo "write $n" >> /var/tmp/virtops-load.log
  echo "virtops-wrote $n" > /dev/ttyS0
  sleep 0.3
done
""" % dict(pid=LOAD_PID)
EXT4_RECOVER = 0x4       # s_feature_incompat bit: the journal must be replayed before use


def _decoded(status, key):
    return base64.b64decode(status.get(key, '')).decode(errors='replace')


def _exec(guest, path, *args, stdin=None, timeout=60):
    """(exit code, stdout, stderr) of a command run in the guest through its agent."""
    request = {'path': path, 'arg': list(args), 'capture-output': True}
    if stdin is not None:
        request['input-data'] = base64.b64encode(stdin.encode()).decode()
    pid = guest.agent('guest-exec', request)['pid']
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = guest.agent('guest-exec-status', {'pid': pid})
        if status.get('exited'):
            return status.get('exitcode'), _decoded(status, 'out-data'), _decoded(status, 'err-data')
        time.sleep(0.3)
    raise AssertionError('%s %s did not finish in %s within %d s' % (path, ' '.join(args), guest.name, timeout))


class SerialTicks:
    """Tails a serial log from its current end, stamping each tick and write line with the host's monotonic clock."""

    def __init__(self, path):
        self.path = path
        self.ticks, self.writes = [], []
        self._stop = threading.Event()
        self._offset = os.path.getsize(path)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        pending = ''
        with open(self.path, 'rb') as handle:
            handle.seek(self._offset)
            while not self._stop.is_set():
                chunk = handle.read()
                now = time.monotonic()
                if not chunk:
                    self._stop.wait(0.02)
                    continue
                lines = (pending + chunk.decode(errors='replace')).split('\n')
                pending = lines.pop()
                for line in lines:
                    if TICK.search(line):
                        self.ticks.append(now)
                    elif WROTE.search(line):
                        self.writes.append(now)

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def wait_for_ticks(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.ticks) < count:
            assert time.monotonic() < deadline, 'no ticks from the guest load on its serial log within %d s' % timeout
            time.sleep(0.2)

    def wait_for_write_after(self, moment, timeout=120):
        """Until the guest reported a write after ``moment`` (host monotonic seconds)."""
        deadline = time.monotonic() + timeout
        while not [t for t in self.writes if t > moment]:
            assert time.monotonic() < deadline, 'the guest wrote nothing for %d s after %.1f' % (timeout, moment)
            time.sleep(0.2)


def _superblock_flags(image, force_share=False):
    """ext4's incompatible-feature flags, read from the image's primary superblock (offset 1024) with qemu-img.

    The first 2 KiB are read whole: QEMU 7.2's `qemu-img dd` counts skipped blocks against count."""
    out = os.path.join(SNAP_DIR, 'superblock-%s.raw' % uuid.uuid4().hex[:8])
    cmd = ['qemu-img', 'dd'] + (['-U'] if force_share else []) + [
        '-f', 'qcow2', '-O', 'raw', 'bs=2048', 'count=1', 'if=' + image, 'of=' + out]
    try:
        subprocess.run(cmd, check=True, capture_output=True)
        with open(out, 'rb') as handle:
            block = handle.read(2048)[1024:]
    finally:
        if os.path.exists(out):
            os.unlink(out)
    assert struct.unpack_from('<H', block, 0x38)[0] == 0xEF53, '%s holds no ext4 superblock at 1024' % image
    return struct.unpack_from('<I', block, 0x60)[0]


def _stop_load(guest):
    _exec(guest, '/bin/sh', '-c', '[ -f %s ] && pkill -g "$(cat %s)"; rm -f %s' % (LOAD_PID, LOAD_PID, LOAD_PID))


@pytest.fixture
def snapshot_dest(libvirt_conn):
    os.makedirs(SNAP_DIR, exist_ok=True)
    dest = os.path.join(SNAP_DIR, 'lab-full-live.qcow2')
    leftovers = (dest, dest + '.virtops-partial')

    def clean():
        run_module('guest', name=COPY, state='absent')
        for path in leftovers:
            if os.path.exists(path):
                os.unlink(path)

    clean()
    yield dest
    clean()


@pytest.fixture
def events(full_guest, lab_libvirt):
    listener = LifecycleEvents(lab_libvirt, full_guest.name)
    yield listener
    listener.close()


@pytest.fixture
def loaded_guest(full_guest, libvirt_conn):
    """lab-full with the tick and write loops running (stopped afterwards; the guest stays up for other tests)."""
    full_guest.wait_for_agent(timeout=300)
    ticks = SerialTicks(full_guest.serial_log)
    code, _out, err = _exec(full_guest, '/bin/sh', '-c', 'setsid -f /bin/sh -c "$1" </dev/null >/dev/null 2>&1',
                            'sh', LOAD_SCRIPT)
    assert code == 0, err
    try:
        yield full_guest, ticks
    finally:
        ticks.stop()
        if libvirt_conn.lookupByName(full_guest.name).isActive():
            _stop_load(full_guest)


def test_quiesced_live_snapshot_under_write_load(loaded_guest, events, snapshot_dest, libvirt_conn, full_image):
    guest, ticks = loaded_guest
    dest = snapshot_dest
    content = ''.join('virtops marker %s line %d\n' % (uuid.uuid4(), i) for i in range(200))
    code, _out, err = _exec(guest, '/bin/sh', '-c', 'cat > %s && sync' % MARKER_FILE, stdin=content)
    assert code == 0, err

    # the control: a deliberate pause and resume reach the listener as a suspended and a resumed event, so the
    # absence of a suspended event during the snapshot below means something
    ticks.wait_for_ticks(5)
    dom = libvirt_conn.lookupByName(guest.name)
    paused_at = time.monotonic()
    dom.suspend()
    events.wait_for(libvirt.VIR_DOMAIN_EVENT_SUSPENDED, paused_at)
    dom.resume()
    events.wait_for(libvirt.VIR_DOMAIN_EVENT_RESUMED, paused_at)

    before = libvirt_snapshot(libvirt_conn)
    checked = run_module('snapshot', check=True, guest=guest.name, dest=dest, quiesce=True)
    assert not checked.failed and checked.changed, checked.msg
    assert checked['snapshot']['mode'] == 'live'
    assert not os.path.exists(dest) and not os.path.exists(dest + '.virtops-partial')
    assert libvirt_snapshot(libvirt_conn) == before

    boot_id = dom.ID()
    writes_before = len(ticks.writes)
    started = time.monotonic()
    result = run_module('snapshot', guest=guest.name, dest=dest, quiesce=True)
    ended = time.monotonic()
    assert not result.failed, result.msg
    snap = result['snapshot']
    print('snapshot took %.1f s wall (module: %.1f s), paused %.3f s, frozen %.3f s'
          % (ended - started, snap['duration_seconds'], snap['guest_paused_seconds'], snap['frozen_seconds']))
    assert snap['mode'] == 'live' and snap['guest_paused_seconds'] == 0.0
    assert 0 < snap['frozen_seconds'] < ended - started
    assert dom.ID() == boot_id and dom.state()[0] == 1, 'the guest did not keep running through the snapshot'
    assert '<mirror' not in dom.XMLDesc(0), 'the copy job was left running'
    assert not os.path.exists(dest + '.virtops-partial')
    # never paused: libvirt announced no suspension of the guest while the module ran
    assert events.between(started, time.monotonic(), libvirt.VIR_DOMAIN_EVENT_SUSPENDED) == [], \
        'the guest was paused during the snapshot: %s' % events.between(started, time.monotonic())
    assert writes_before and [t for t in ticks.writes if started < t < ended], 'the guest was not writing meanwhile'
    ticks.wait_for_write_after(ended)

    again = run_module('snapshot', guest=guest.name, dest=dest, quiesce=True)
    assert not again.failed and not again.changed
    _stop_load(guest)

    info = subprocess.run(['qemu-img', 'info', '-U', dest], capture_output=True, text=True, check=True).stdout
    assert 'backing file' not in info, 'the snapshot still depends on a backing file'
    # the running guest's disk carries needs_recovery (set while mounted) — so the flag check can fail — while
    # the quiesced image must not: freezing flushed the journal and cleared it
    live_disk = dom.XMLDesc(0).split("<source file='", 1)[1].split("'", 1)[0]
    assert _superblock_flags(live_disk, force_share=True) & EXT4_RECOVER, 'the mounted root shows no needs_recovery'
    assert not _superblock_flags(dest) & EXT4_RECOVER, 'the quiesced snapshot needs a journal replay'

    booted = run_module('guest', name=COPY, virt_type='qemu', memory_mb=512, kernel=full_image.kernel,
                        initrd=full_image.initrd, cmdline=full_image.cmdline + ' cloud-init=disabled', image=dest,
                        guest_agent=True, shutdown_timeout=30)
    assert not booted.failed, booted.msg
    copy = LabGuest(name=COPY, uuid=booted['guest']['uuid'], uri=libvirt_conn.getURI(),
                    serial_log=booted['guest']['consoles']['serial_log'], conn=libvirt_conn)
    copy.wait_for_agent(timeout=300)
    code, out, err = _exec(copy, '/bin/cat', MARKER_FILE)
    assert code == 0, 'the marker file is missing from the copy: %s' % err
    assert out == content, 'the marker file in the copy differs from what was written before the snapshot'
    kernel_log = _exec(copy, '/bin/dmesg')[1]
    serial = copy.serial_text()
    # the mount line proves the kernel's ext4 messages reach both places the replay line is looked for in
    assert 'EXT4-fs (vda): mounted filesystem' in kernel_log, kernel_log[-3000:]
    assert 'EXT4-fs (vda): mounted filesystem' in serial, copy.serial_tail(60)
    assert 'recovering journal' not in kernel_log and 'recovering journal' not in serial, (
        'the copy replayed its journal at boot although the snapshot was quiesced')
    assert libvirt_conn.lookupByName(guest.name).ID() == boot_id
    assert guest.agent('guest-ping') == {}
