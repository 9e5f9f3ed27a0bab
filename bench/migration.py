"""Live migration rows: time and downtime of moving a tiny guest between two lab hosts
(lab-host1 -> lab-host2 on 127.0.0.1, shared storage), idle and while it rewrites 16 MiB
of its memory in a loop, with pre-copy, auto-converge and post-copy.

community.libvirt has no migration module, so the rows compare with the floor only: the
time libvirt's own job took (``time_elapsed`` of the completed job), which the module's
wall time (a Python start, both connections, the checks) can only add to.

Environment: BENCH_MIGRATION_BANDWIDTH (MiB/s, default 16) caps the link, as a real
network would; on 127.0.0.1 an uncapped link outruns any TCG guest.
"""
import base64
import json
import os
import time

import libvirt
import libvirt_qemu

from lab import guests, hosts
from lab.runner import run_module

GUEST = 'lab-bench-migrate'
MIGRATION_URI = 'tcp://127.0.0.1'
DIRTY_LOOP = ("head -c 16777216 /dev/urandom > /run/pa; head -c 16777216 /dev/urandom > /run/pb; cp /run/pa /run/dirty; "
              "(while true; do for p in pa pb; do dd if=/run/$p of=/run/dirty bs=1M conv=notrunc 2>/dev/null; done; "
              "done) >/dev/null 2>&1 </dev/null &")
MODES = (('pre-copy', {}), ('auto-converge', dict(auto_converge=True)), ('post-copy', dict(post_copy=True)))
TIMEOUT = 45


def _agent(dom, command, arguments=None):
    payload = {'execute': command}
    if arguments is not None:
        payload['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(payload), 30, 0)).get('return')


def _wait_agent(dom, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _agent(dom, 'guest-ping')
            return
        except libvirt.libvirtError:
            time.sleep(0.5)
    raise RuntimeError('the guest agent of %s did not answer' % GUEST)


def _sh(dom, command):
    pid = _agent(dom, 'guest-exec', {'path': '/bin/sh', 'arg': ['-c', command], 'capture-output': True})['pid']
    while True:
        status = _agent(dom, 'guest-exec-status', {'pid': pid})
        if status.get('exited'):
            return base64.b64decode(status.get('out-data', '')).decode(errors='replace')
        time.sleep(0.2)


def _boot(conn, tiny, dirty):
    guests.remove_guest(conn, GUEST)
    kernel, initrd = guests.stage_boot_files(tiny, GUEST)
    xml = guests.domain_xml(GUEST, kernel, initrd, tiny.cmdline, guests.serial_log_path(GUEST), memory_mib=192)
    dom = conn.defineXML(xml)
    dom.create()
    _wait_agent(dom)
    if dirty:
        _sh(dom, DIRTY_LOOP)


def _one(src_host, dst_host, conns, tiny, dirty, options, bandwidth):
    for conn in conns:
        guests.remove_guest(conn, GUEST)
    _boot(conns[0], tiny, dirty)
    started = time.monotonic()
    result = run_module('migrate', uri=src_host.uri, guest=GUEST, dest_uri=dst_host.uri, migration_uri=MIGRATION_URI,
                        bandwidth_mib=bandwidth, timeout=TIMEOUT, **options)
    wall = time.monotonic() - started
    for conn in conns:
        guests.remove_guest(conn, GUEST)
    if result.failed:
        return dict(wall=None, job=None, downtime=None, mode=None, note=result.msg)
    stats = result['migration']
    return dict(wall=wall, job=stats['duration_seconds'], downtime=stats.get('downtime_ms'), mode=stats['mode_used'],
                note='')


def run(tiny, repeats, log):
    """Rows for the bench table; starts lab hosts 1 and 2 when they are not running (and stops them after)."""
    bandwidth = int(os.environ.get('BENCH_MIGRATION_BANDWIDTH', '16'))
    started = []
    pair = []
    for index in (1, 2):
        host = hosts.start_host(index, log=log)
        pair.append(host)
        if host.started:
            started.append(host)
    conns = [libvirt.open(host.uri) for host in pair]
    rows = []
    try:
        for dirty in (False, True):
            for mode, options in MODES:
                runs = []
                for attempt in range(repeats):
                    figures = _one(pair[0], pair[1], conns, tiny, dirty, options, bandwidth)
                    log('migration, %s guest, %s: %s' % ('dirtying' if dirty else 'idle', mode, figures))
                    runs.append(figures)
                    if figures['wall'] is None:
                        break
                rows += _rows(runs, dirty, mode, bandwidth)
    finally:
        for conn in conns:
            guests.remove_guest(conn, GUEST)
            conn.close()
        guests.remove_guest_files(GUEST)
        for host in started:
            hosts.stop_host(host, log=log)
    return rows


def _median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _rows(runs, dirty, mode, bandwidth):
    what = 'live migration, tiny guest %s, %s, %d MiB/s link' % (
        'rewriting 16 MiB of RAM' if dirty else 'idle', mode, bandwidth)
    if any(r['wall'] is None for r in runs):
        # a mode that cannot finish is a result too: shown as the time it was given
        return [dict(workload=what + ': did not finish, aborted at the %ds timeout' % TIMEOUT, ours=float(TIMEOUT),
                     theirs=None, floor=None, unit='s')]
    used = runs[-1]['mode']
    return [dict(workload=what + ' (ended as %s): time' % used, ours=_median([r['wall'] for r in runs]), theirs=None,
                 floor=_median([r['job'] for r in runs]), unit='s'),
            dict(workload=what + ' (ended as %s): guest downtime' % used,
                 ours=float(_median([r['downtime'] for r in runs]) or 0), theirs=None, floor=None, unit='ms')]
