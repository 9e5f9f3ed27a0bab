"""Storage workloads: attach + detach round trip, a live swap of a 1 GiB volume, live and cold
snapshots of a root disk with 1 GiB of data.

community.libvirt has no module that attaches a disk to a running guest, so these rows
compare with the floor only: the same libvirt calls from one Python process (attach,
detach and wait until the guest has let go), and for the swap the time to copy 1 GiB
on this disk with dd, which a block copy cannot beat.
"""
import os
import re
import subprocess
import time

import libvirt

from bench import workloads

GUEST = 'bench-storage'
POOL = workloads.POOL
SERIAL_PORT = 4590


def _volume(conn, name, mib, fill=False):
    pool = conn.storagePoolLookupByName(POOL)
    try:
        pool.storageVolLookupByName(name).delete(0)
    except libvirt.libvirtError:
        pass
    vol = pool.createXML("<volume><name>%s</name><capacity unit='MiB'>%d</capacity><target><format type='raw'/>"
                         "</target></volume>" % (name, mib), 0)
    if fill:
        subprocess.run(['dd', 'if=/dev/urandom', 'of=' + vol.path(), 'bs=4M', 'count=%d' % (mib // 4), 'conv=notrunc',
                        'status=none'], check=True)
    return vol


BASE_1G = '/var/cache/virtops-lab/bench/base-1g-used.qcow2'
SNAPSHOT = '/var/lib/virtops-lab/shared/bench-snapshot.qcow2'


def _base_with_data(log):
    """A qcow2 base image holding 1 GiB of random data (made once)."""
    if os.path.exists(BASE_1G):
        return BASE_1G
    log('making %s (1 GiB of random data) for the snapshot rows' % BASE_1G)
    raw = BASE_1G + '.raw'
    subprocess.run(['dd', 'if=/dev/urandom', 'of=' + raw, 'bs=4M', 'count=256', 'status=none'], check=True)
    subprocess.run(['qemu-img', 'convert', '-O', 'qcow2', raw, BASE_1G + '.tmp'], check=True)
    os.rename(BASE_1G + '.tmp', BASE_1G)
    os.unlink(raw)
    return BASE_1G


def _boot(tiny, log):
    log('booting the tiny guest %s for the storage rows' % GUEST)
    tasks = """    - virtops.compute.guest:
        name: %s
        virt_type: qemu
        memory_mb: 128
        kernel: %s
        initrd: %s
        cmdline: %s
        image: %s
""" % (GUEST, tiny.kernel, tiny.initrd, tiny.cmdline, _base_with_data(log))
    workloads.playbook(tasks, {})
    time.sleep(15)      # the guest's kernel has to be up to grant unplug requests


def _remove(conn):
    workloads.playbook('    - virtops.compute.guest: {name: %s, state: absent}\n' % GUEST, {})
    pool = conn.storagePoolLookupByName(POOL)
    for name in ('bench-att.raw', 'bench-swap-old.raw', 'bench-swap-new.raw'):
        try:
            pool.storageVolLookupByName(name).delete(0)
        except libvirt.libvirtError:
            pass


ROUND_TRIP = """    - virtops.compute.volume_attachment:
        guest: %s
        target: vdb
        volume: {pool: %s, name: bench-att.raw}
    - virtops.compute.volume_attachment:
        guest: %s
        target: vdb
        state: absent
""" % (GUEST, POOL, GUEST)

SWAP = """    - virtops.compute.volume_attachment:
        guest: %s
        target: vdc
        volume: {pool: %s, name: bench-swap-new.raw}
        swap: true
""" % (GUEST, POOL)


def _floor_round_trip(conn, path):
    dom = conn.lookupByName(GUEST)
    xml = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
           "<target dev='vdb' bus='virtio'/></disk>" % path)
    started = time.monotonic()
    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
    dom.attachDeviceFlags(xml, flags)
    dom.detachDeviceFlags(xml, flags)
    while "dev='vdb'" in dom.XMLDesc(0):
        time.sleep(0.05)
    return time.monotonic() - started


def _snapshot(mode, start):
    if os.path.exists(SNAPSHOT):
        os.unlink(SNAPSHOT)
    elapsed, out = workloads.playbook("""    - virtops.compute.snapshot:
        guest: %s
        dest: %s
        mode: %s
      register: snap
    - ansible.builtin.debug:
        msg: "paused={{ snap.snapshot.guest_paused_seconds }}"
""" % (GUEST, SNAPSHOT, mode), {})
    paused = float(re.search(r'paused=([0-9.]+)', out).group(1))
    return elapsed - start, paused


def _snapshots(start, log):
    live, live_paused = _snapshot('live', start)
    started = time.monotonic()
    subprocess.run(['qemu-img', 'convert', '-O', 'qcow2', SNAPSHOT, SNAPSHOT + '.floor'], check=True)
    floor = time.monotonic() - started
    os.unlink(SNAPSHOT + '.floor')
    workloads.playbook('    - virtops.compute.guest: {name: %s, state: stopped, shutdown_timeout: 20}\n' % GUEST, {})
    cold, _paused = _snapshot('cold', start)
    os.unlink(SNAPSHOT)
    log('snapshot of a disk with 1 GiB of data: live %.1f s (guest paused %.2f s), cold %.1f s, qemu-img convert %.1f s'
        % (live, live_paused, cold, floor))
    return [dict(workload='live snapshot, 1 GiB used: total', ours=live, theirs=None, floor=floor, unit='s'),
            dict(workload='live snapshot, 1 GiB used: guest paused', ours=live_paused, theirs=None, floor=0.0, unit='s'),
            dict(workload='cold snapshot, 1 GiB used, stopped guest', ours=cold, theirs=None, floor=floor, unit='s')]


def run(uri, tiny, repeats, log):
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(uri)
    rows = []
    try:
        _remove(conn)
        _boot(tiny, log)
        vol = _volume(conn, 'bench-att.raw', 64)
        startup = [workloads.playbook(workloads.EMPTY, {})[0] for _attempt in range(repeats)]
        ours, floor = [], []
        for attempt in range(repeats):
            ours.append(workloads.playbook(ROUND_TRIP, {})[0])
            floor.append(_floor_round_trip(conn, vol.path()))
            log('attach + detach round trip: ours %.1f s (playbook), floor %.2f s (run %d of %d)'
                % (ours[-1], floor[-1], attempt + 1, repeats))
        start = workloads.median(startup)
        rows.append(dict(workload='attach + detach round trip on a running guest (playbook start-up taken off)',
                         ours=workloads.median(ours) - start, theirs=None, floor=workloads.median(floor), unit='s'))
        log('filling a 1 GiB volume with random data for the swap')
        old = _volume(conn, 'bench-swap-old.raw', 1024, fill=True)
        _volume(conn, 'bench-swap-new.raw', 1024)
        workloads.playbook(SWAP.replace('bench-swap-new.raw', 'bench-swap-old.raw').replace('        swap: true\n', ''), {})
        swap = workloads.playbook(SWAP, {})[0] - start
        started = time.monotonic()
        subprocess.run(['dd', 'if=' + old.path(), 'of=/var/tmp/bench-copy.raw', 'bs=4M', 'conv=fsync', 'status=none'],
                       check=True)
        copy = time.monotonic() - started
        os.unlink('/var/tmp/bench-copy.raw')
        log('swap of a 1 GiB volume on the running guest: ours %.1f s, dd copy of the same data %.1f s' % (swap, copy))
        rows.append(dict(workload='swap a 1 GiB volume on a running guest (block copy + pivot)', ours=swap, theirs=None,
                         floor=copy, unit='s'))
        rows += _snapshots(start, log)
    finally:
        _remove(conn)
        conn.close()
    return rows
