"""Fleet rows: the same operations as the namespace-lab rows, on the fleet lab (tests/lab/fleet: Debian hosts
cn1..cn3 under systemd, reached over SSH, the migration streams over the lab bridge), each against its floor.

- drain: `playbooks/host_maintenance.yml` (action enter) on cn1 with the fleet's inventory, emptying it of eight
  tiny guests onto cn2 and cn3, one live migration at a time and four at a time. Floor: the same migrations made
  with ``migrateToURI3`` from one Python process on the controller, over its qemu+ssh connection to cn1, with the
  flags and parameters the ``migrate`` module builds for the role's settings (``migration.build_plan``), peer to
  peer to the peer URI the role chose, in batches of the same size (a batch costs its slowest call).
- migration: one live migration of a tiny guest between two fleet hosts over qemu+ssh, with the ``migrate`` module
  through ansible-playbook over SSH (on the source host), against the same ``migrateToURI3`` call made from one
  Python process (the guest goes back the other way for the floor: cn1 -> cn2 for ours, cn2 -> cn1 for the floor).
- evacuation: bench/fleet_evacuate.py.

The fleet is brought up (lab.fleet.control.up) when it is not running and left running afterwards; compute_host.yml
is applied first (idempotent). Every guest made here is removed at the end. The whole run holds the lab's session
lock, as bench/run.py and a test session do.

Run alone: ``.venv/bin/python bench/fleet.py`` (BENCH_REPEATS, default 3).
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
for _path in (os.path.join(REPO_ROOT, '.build', 'collections'), os.path.join(REPO_ROOT, 'tests'), REPO_ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)


from ansible_collections.virtops.compute.plugins.module_utils.migration import plan as migration  # noqa: E402
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain  # noqa: E402
from bench import fleet_evacuate  # noqa: E402
from bench.drain import _lock, direct_migrations  # noqa: E402
from bench.fleet_lab import PREFIX, FleetLab, _tail  # noqa: E402
from lab.fleet import layout  # noqa: E402

MAINTENANCE = os.path.join(REPO_ROOT, 'playbooks', 'host_maintenance.yml')
COUNT = 8
NAMES = ['%s%d' % (PREFIX, i) for i in range(1, COUNT + 1)]
MIGRANT = PREFIX + 'mig'
SOURCE = 'cn1'
CONCURRENCIES = (1, 4)
# what the maintenance role passes to the migrate module with host_maintenance.yml's defaults (no
# migration_address, no allow_unsafe, no tls), and what the migrate module does with its own defaults
ROLE_OPTIONS = dict(live=True, copy_storage='none', allow_unsafe=False, tls=False, auto_converge=True, timeout=600)
MODULE_OPTIONS = dict(live=True, copy_storage='none', allow_unsafe=False, tls=False, auto_converge=False,
                      timeout=3600)
MIGRATE_PLAY = """- hosts: "{{ bench_source }}"
  gather_facts: false
  tasks:
    - name: Live-migrate the guest to its peer
      virtops.compute.migrate:
        guest: "{{ bench_guest }}"
        dest_uri: "{{ hostvars[bench_dest].virtops_peer_uri }}"
"""


def _drain_label(concurrency):
    what = 'serial (concurrency 1)' if concurrency == 1 else 'concurrency %d' % concurrency
    return 'fleet: drain a host of %d tiny guests over SSH, %s' % (COUNT, what)


MIGRATION_LABEL = 'fleet: live migration of a tiny guest, qemu+ssh between hosts, migrate module over SSH'


def _maintenance(lab, action, concurrency=2):
    extra = dict(target_host=SOURCE, action=action, concurrency=concurrency, reason='bench fleet drain')
    started = time.monotonic()
    result = lab.playbook(MAINTENANCE, extra_vars=extra, timeout=1200)
    elapsed = time.monotonic() - started
    if result.rc != 0:
        raise RuntimeError('host_maintenance.yml action %s on %s failed (rc %d): %s'
                           % (action, SOURCE, result.rc, _tail(result)))
    return elapsed


def _plan(dom, options):
    return migration.build_plan(Domain.from_xml(dom.XMLDesc(0)), options, "guest '%s'" % dom.name())


def _drain_one(lab, concurrency):
    """(role's enter wall time, floor) for one drain of cn1 at `concurrency`; cn1 is enabled again afterwards."""
    lab.boot(SOURCE, NAMES)
    try:
        ours = _maintenance(lab, 'enter', concurrency)
        placement = lab.placement(NAMES, SOURCE)
    except RuntimeError:
        try:
            _maintenance(lab, 'exit')
        except RuntimeError:
            pass        # the enter failure is the one worth reporting
        raise
    _maintenance(lab, 'exit')
    lab.boot(SOURCE, NAMES)
    destinations = {name: layout.host(host).peer_uri for name, host in placement.items()}
    floor = direct_migrations(lab.uri(SOURCE), destinations, NAMES, concurrency, ROLE_OPTIONS)
    lab.placement(NAMES, SOURCE)
    lab.remove(NAMES)
    return ours, floor


def _migrate_one(lab, path):
    """(wall time of the migrate module through ansible-playbook cn1 -> cn2, direct migrateToURI3 cn2 -> cn1)."""
    started = time.monotonic()
    result = lab.playbook(path, extra_vars=dict(bench_source='cn1', bench_dest='cn2', bench_guest=MIGRANT),
                          timeout=900)
    ours = time.monotonic() - started
    if result.rc != 0:
        raise RuntimeError('the migrate module cn1 -> cn2 failed: %s' % _tail(result))
    if lab.placement([MIGRANT], 'cn1') != {MIGRANT: 'cn2'}:
        raise RuntimeError('%s is not running on cn2 after its migration' % MIGRANT)
    dom = lab.conn('cn2').lookupByName(MIGRANT)
    plan = _plan(dom, MODULE_OPTIONS)
    started = time.monotonic()
    dom.migrateToURI3(layout.host('cn1').peer_uri, plan['params'], plan['flags'])
    floor = time.monotonic() - started
    if lab.placement([MIGRANT], 'cn2') != {MIGRANT: 'cn1'}:
        raise RuntimeError('%s is not running on cn1 after its direct migration' % MIGRANT)
    return ours, floor


def _migration(lab, repeats, log):
    path = os.path.join(lab.tmp.name, 'migrate.yml')
    with open(path, 'w') as handle:
        handle.write(MIGRATE_PLAY)
    runs = []
    try:
        lab.boot('cn1', [MIGRANT])
        lab.conn('cn2')
        for attempt in range(repeats):
            ours, floor = _migrate_one(lab, path)
            runs.append((ours, floor))
            log('fleet migration, one tiny guest over qemu+ssh: %.1f s, floor %.1f s (run %d of %d)'
                % (ours, floor, attempt + 1, repeats))
    except RuntimeError as err:
        log('fleet migration: FAILED: %s' % err)
        return [_failed(MIGRATION_LABEL, err)]
    finally:
        lab.remove([MIGRANT])
    return [dict(workload=MIGRATION_LABEL, ours=statistics.median(r[0] for r in runs), theirs=None,
                 floor=statistics.median(r[1] for r in runs), unit='s', vs_floor=True)]


def _drain(lab, repeats, log):
    figures = dict((concurrency, []) for concurrency in CONCURRENCIES)
    for attempt in range(repeats):
        for concurrency in CONCURRENCIES:
            try:
                ours, floor = _drain_one(lab, concurrency)
            except RuntimeError as err:
                log('fleet drain, concurrency %d: FAILED: %s' % (concurrency, err))
                figures[concurrency].append(dict(error=str(err)))
                lab.remove(NAMES)
                continue
            figures[concurrency].append(dict(ours=ours, floor=floor))
            log('fleet drain, %d tiny guests, concurrency %d: %.1f s, floor %.1f s (run %d of %d)'
                % (COUNT, concurrency, ours, floor, attempt + 1, repeats))
    rows = []
    for concurrency in CONCURRENCIES:
        done = [run for run in figures[concurrency] if 'error' not in run]
        if not done:
            rows.append(_failed(_drain_label(concurrency), figures[concurrency][-1]['error']))
            continue
        rows.append(dict(workload=_drain_label(concurrency), ours=statistics.median(r['ours'] for r in done),
                         theirs=None, floor=statistics.median(r['floor'] for r in done), unit='s', vs_floor=True))
    return rows


def _failed(label, err):
    """A measurement that failed is a result too (the log has the playbook's output)."""
    return dict(workload='%s: failed, %s' % (label, str(err)[:200]), ours=float('nan'), theirs=None, floor=None,
                unit='s', vs_floor=True)


def _wanted(part):
    """BENCH_FLEET_PARTS=drain,migration,evacuation (default all) picks parts of the group."""
    parts = os.environ.get('BENCH_FLEET_PARTS')
    return not parts or part in [name.strip() for name in parts.split(',')]


def run(tiny, repeats, log):
    """Rows for the bench table; brings the fleet up when it is not running and leaves it running."""
    lock = _lock(log)
    try:
        return _run(tiny, repeats, log)
    finally:
        if lock:
            lock.release()


def _run(tiny, repeats, log):
    lab = FleetLab(log, tiny)
    rows = []
    try:
        if _wanted('drain'):
            log('fleet: drain %d tiny guests off cn1 with host_maintenance.yml, concurrency 1 and 4 ...' % COUNT)
            rows += _drain(lab, repeats, log)
        if _wanted('migration'):
            log('fleet: one live migration between fleet hosts with the migrate module ...')
            rows += _migration(lab, repeats, log)
        if _wanted('evacuation'):
            log('fleet: evacuation of cn1 with %d tiny guests after its power cut ...' % COUNT)
            rows += fleet_evacuate.run(lab, NAMES, repeats, log)
    finally:
        lab.close(NAMES + [MIGRANT])
    return rows


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
