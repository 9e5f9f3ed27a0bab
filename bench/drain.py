"""Host drain rows: the wall time of `playbooks/host_maintenance.yml` (action enter) emptying lab host 4 of
eight tiny guests onto peers 5 and 6, one live migration at a time and four at a time.

community.libvirt has no drain (nor any migration), so the rows compare with the floor only: the same
migrations made directly with ``migrateToURI3`` from one Python process, with the flags and parameters the
``migrate`` module builds for the role's settings (``migration.build_plan``), to the peers the role chose, in
batches of the same size. A batch costs its slowest call, since the role waits for a whole batch before it
starts the next; the serial floor is thus the sum of the calls. Connections are opened before the clock starts.

The whole run holds the lab's session lock (lab.proc.SessionLock), so it waits for a test session instead of
loading the machine beside it (and never removes that session's lab guests).

Run alone: ``.venv/bin/python bench/drain.py`` (BENCH_REPEATS, default 3).
"""
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
for _path in (os.path.join(REPO_ROOT, '.build', 'collections'), os.path.join(REPO_ROOT, 'tests'), REPO_ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import libvirt  # noqa: E402

from ansible_collections.virtops.compute.plugins.module_utils.migration import plan as migration  # noqa: E402
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain  # noqa: E402
from lab import guests  # noqa: E402
from lab.computes import MIGRATION_ADDRESS, lab_computes, write_inventory  # noqa: E402
from lab.proc import SessionLock, lock_holder  # noqa: E402
from lab.runner import run_playbook  # noqa: E402

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'host_maintenance.yml')
COUNT = 8
MEMORY_MIB = 256
NAMES = ['lab-bench-drain-%d' % i for i in range(1, COUNT + 1)]
CONCURRENCIES = (1, 4)
BOOT_TIMEOUT = 180
# what the role passes to the migrate module with the playbook's settings below and the role's defaults
ROLE_OPTIONS = dict(live=True, copy_storage='none', allow_unsafe=True, migration_uri=MIGRATION_ADDRESS,
                    auto_converge=True, timeout=600)


def _label(concurrency):
    what = 'serial (concurrency 1)' if concurrency == 1 else 'concurrency %d' % concurrency
    return 'drain a host of %d tiny guests, %s' % (COUNT, what)


def _play(inventory, action, concurrency=2):
    extra = dict(target_host='lab-host4', action=action, concurrency=concurrency, reason='bench drain',
                 migration_address=MIGRATION_ADDRESS, allow_unsafe=True)
    started = time.monotonic()
    result = run_playbook(PLAYBOOK, extra_vars=extra, args=('-i', inventory), timeout=1200)
    elapsed = time.monotonic() - started
    if result.rc != 0:
        tail = ' '.join((result.stdout[-1500:] + result.stderr[-500:]).split())
        raise RuntimeError('host_maintenance.yml action %s failed (rc %d): %s' % (action, result.rc, tail))
    return elapsed


def _remove_everywhere(conns):
    for conn in conns:
        for name in NAMES:
            guests.remove_guest(conn, name, log=lambda _msg: None)


def _fresh_guests(conns, tiny):
    """All eight guests running on the source (conns[0]) and booted to their shell, nowhere else."""
    _remove_everywhere(conns)
    made = [guests.start_guest(conns[0], name, tiny, memory_mib=MEMORY_MIB, log=lambda _msg: None)
            for name in NAMES]
    for guest in made:
        guest.wait_for_serial(guest.marker, timeout=BOOT_TIMEOUT)


def _placement(conns, computes):
    """guest name -> URI of the peer it runs on; a guest left on the source, or not running, is an error."""
    found = {}
    for conn, host in zip(conns, computes):
        for dom in conn.listAllDomains(0):
            if dom.name() in NAMES and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
                found[dom.name()] = host
    wrong = sorted(name for name in NAMES if name not in found or found[name] is computes[0])
    if wrong:
        raise RuntimeError('guest(s) %s did not end up running on a peer' % ', '.join(wrong))
    return dict((name, host.uri) for name, host in found.items())


def direct_migrations(source_uri, destinations, names, concurrency, options):
    """The floor of a drain: seconds the migrations of ``names`` to ``destinations`` ({name: peer URI}) take made
    directly from one process, batch by batch, with the plan ``options`` give: the sum of each batch's slowest call."""
    total = 0.0
    for first in range(0, len(names), concurrency):
        batch = names[first:first + concurrency]
        conns = [libvirt.open(source_uri) for _name in batch]
        jobs = []
        for conn, name in zip(conns, batch):
            dom = conn.lookupByName(name)
            plan = migration.build_plan(Domain.from_xml(dom.XMLDesc(0)), options, "guest '%s'" % name)
            jobs.append(dict(name=name, dom=dom, plan=plan, seconds=None, error=None))

        def migrate(job):
            started = time.monotonic()
            try:
                job['dom'].migrateToURI3(destinations[job['name']], job['plan']['params'], job['plan']['flags'])
            except libvirt.libvirtError as err:
                job['error'] = str(err)
            job['seconds'] = time.monotonic() - started

        threads = [threading.Thread(target=migrate, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for conn in conns:
            conn.close()
        failed = ['%s (%s)' % (job['name'], job['error']) for job in jobs if job['error']]
        if failed:
            raise RuntimeError('direct migration of %s failed' % ', '.join(failed))
        total += max(job['seconds'] for job in jobs)
    return total


def _one(computes, conns, inventory, tiny, concurrency):
    """(role's enter wall time, floor) for one drain at `concurrency`; host 4 is enabled again afterwards."""
    _fresh_guests(conns, tiny)
    try:
        ours = _play(inventory, 'enter', concurrency)
        placement = _placement(conns, computes)
    except RuntimeError:
        try:
            _play(inventory, 'exit')
        except RuntimeError:
            pass        # the enter failure is the one worth reporting
        raise
    _play(inventory, 'exit')
    _fresh_guests(conns, tiny)
    floor = direct_migrations(computes[0].uri, placement, NAMES, concurrency, ROLE_OPTIONS)
    _placement(conns, computes)
    _remove_everywhere(conns)
    return ours, floor


def _rows(figures):
    rows = []
    for concurrency in CONCURRENCIES:
        runs = figures[concurrency]
        done = [run for run in runs if 'error' not in run]
        if not done:
            # a drain that fails is a result too; the log has the playbook's output
            rows.append(dict(workload='%s: failed, %s' % (_label(concurrency), runs[-1]['error'][:200]),
                             ours=float('nan'), theirs=None, floor=None, unit='s'))
            continue
        rows.append(dict(workload=_label(concurrency), ours=statistics.median(r['ours'] for r in done),
                         theirs=None, floor=statistics.median(r['floor'] for r in done), unit='s'))
    return rows


def _lock(log):
    """The lab's session lock, unless this process holds it already (a second flock here would wait forever)."""
    if lock_holder() == os.getpid():
        return None
    log('drain: taking the lab session lock (waits while a test session runs) ...')
    lock = SessionLock(log=log).acquire()
    log('drain: lab session lock held')
    return lock


def run(tiny, repeats, log):
    """Rows for the bench table; starts lab hosts 4, 5, 6 when they are not running (and stops them after)."""
    lock = _lock(log)
    try:
        return _run(tiny, repeats, log)
    finally:
        if lock:
            lock.release()


def _run(tiny, repeats, log):
    figures = dict((concurrency, []) for concurrency in CONCURRENCIES)
    computes_gen = lab_computes()
    computes = next(computes_gen)
    conns = [libvirt.open(host.uri) for host in computes]
    try:
        with tempfile.TemporaryDirectory(prefix='bench-drain-') as tmp:
            inventory = write_inventory(os.path.join(tmp, 'inventory.json'), computes)
            for attempt in range(repeats):
                for concurrency in CONCURRENCIES:
                    try:
                        ours, floor = _one(computes, conns, inventory, tiny, concurrency)
                    except RuntimeError as err:
                        log('drain, %d tiny guests, concurrency %d: FAILED: %s' % (COUNT, concurrency, err))
                        figures[concurrency].append(dict(error=str(err)))
                        _remove_everywhere(conns)
                        continue
                    figures[concurrency].append(dict(ours=ours, floor=floor))
                    log('drain, %d tiny guests, concurrency %d: %.1f s, floor %.1f s (run %d of %d)'
                        % (COUNT, concurrency, ours, floor, attempt + 1, repeats))
    finally:
        _remove_everywhere(conns)
        for conn in conns:
            conn.close()
        for name in NAMES:
            guests.remove_guest_files(name)
            try:
                os.unlink(os.path.join(guests.LOG_DIR, name + '.serial.log'))
            except FileNotFoundError:
                pass
        # stops the hosts that lab_computes started, leaves the ones that already ran
        next(computes_gen, None)
    return _rows(figures)


def main():
    from lab import images

    def log(message):
        print('[bench] %s' % message, flush=True)

    repeats = int(os.environ.get('BENCH_REPEATS', '3'))
    lock = _lock(log)
    try:
        rows = _run(images.ensure_image('tiny', log=log), repeats, log)
    finally:
        if lock:
            lock.release()
    for row in rows:
        floor = 'n/a' if row['floor'] is None else '%.1f s' % row['floor']
        log('%s: ours %.1f s, floor %s' % (row['workload'], row['ours'], floor))
    return 0 if all(row['floor'] is not None for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
