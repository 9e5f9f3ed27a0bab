"""`make bench`: set up through the lab, run every benchmark, print one table.

Environment: BENCH_SIZES (default 10,50,100) and BENCH_REPEATS (default 3; the median of
that many runs for sizes up to 10, larger sizes run once: they take minutes each);
BENCH_MIGRATION=0 leaves out the live migration rows, BENCH_DRAIN=0 the host drain rows, BENCH_FLEET=0 the fleet
rows (bench/fleet.py: drain, live migration and evacuation on the fleet lab over SSH; BENCH_FLEET_PARTS=drain,
migration,evacuation picks some of them; the fleet is brought up if it is down and left running);
BENCH_ONLY=startup,storage (a comma list of converge, startup, storage, config_drive, migration, drain, fleet) runs
only those groups.
Results: bench/results/latest.json and latest.md (git ignores the folder), and the "Latest run" section of
docs/performance.md (bench/report.py): a full run rewrites it, a BENCH_ONLY run replaces the rows it measured.
The benchmark holds the lab's session lock while it runs, so it waits for a test session using the lab, and a
test session waits for it.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path[:0] = [REPO_ROOT, os.path.join(REPO_ROOT, 'tests'), os.path.join(REPO_ROOT, '.build', 'collections')]

from bench import comparison, config_drive, drain, fleet, migration, report, startup, storage, workloads  # noqa: E402
from lab import daemons  # noqa: E402
from lab.proc import SessionLock  # noqa: E402

RESULTS = os.path.join(HERE, 'results')
URI = 'qemu:///system'
BASE_DIR = '/var/lib/virtops-lab/shared/bases'
ALL_CONTENDERS_UP_TO = 50


def log(message):
    print('[bench] %s' % message, flush=True)


def setup():
    log('starting the lab libvirtd (if it is not running)')
    daemons.ensure_main(log=log)
    import libvirt
    from ansible_collections.virtops.compute.plugins.module_utils.guest import storage as instance_storage
    conn = libvirt.open(URI)
    instance_storage.ensure_pool(conn, workloads.POOL, check_mode=False)
    conn.close()
    os.makedirs(BASE_DIR, exist_ok=True)
    base = os.path.join(BASE_DIR, 'bench-blank.qcow2')
    if not os.path.exists(base):
        log('making the blank base image %s' % base)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M'], check=True)
    return base, comparison.ensure_community_libvirt(log)


def _median(values):
    return statistics.median(values) if values else None


def converge(count, base, theirs, repeats):
    """{contender: {'create': s, 'noop': s}} for ``count`` guests; the guests are removed afterwards."""
    guest_names = workloads.names(count)
    variables = dict(bench_names=guest_names, bench_base=base, guests=workloads.batch_items(count, base))
    runs = {'ours per task': workloads.OURS_PER_TASK, 'ours batch': workloads.batch_tasks(),
            'community.libvirt': workloads.VIRT}
    if count > ALL_CONTENDERS_UP_TO:
        # one task per guest grows linearly (the smaller sizes give the slope); keep the run under 20 minutes
        runs = {'ours batch': workloads.batch_tasks()}
    figures = dict((name, dict(create=[], noop=[])) for name in list(runs) + ['floor'])
    info = dict(ours=[], theirs=[], floor=[])
    for attempt in range(repeats):
        startup = workloads.playbook(workloads.EMPTY, {})[0]
        figures.setdefault('startup', dict(create=[], noop=[]))['create'].append(startup)
        for name, tasks in runs.items():
            workloads.remove_all(URI, base, count)
            collections = [theirs] if name == 'community.libvirt' else []
            for phase in ('create', 'noop'):
                elapsed, _out = workloads.playbook(tasks, variables, collections)
                figures[name][phase].append(elapsed)
                log('%d guests, %s, %s: %.1f s (run %d of %d)' % (count, name, phase, elapsed, attempt + 1, repeats))
        workloads.remove_all(URI, base, count)
        for phase in ('create', 'noop'):
            elapsed = workloads.floor(phase, URI, base, guest_names) + startup
            figures['floor'][phase].append(elapsed)
            log('%d guests, floor, %s: %.1f s' % (count, phase, elapsed))
        info['ours'].append(workloads.playbook(workloads.OURS_INFO, {})[0])
        info['theirs'].append(workloads.playbook(workloads.VIRT_INFO, {}, [theirs])[0])
        info['floor'].append(workloads.floor('info', URI, base, []) + startup)
        log('%d guests, status of all: ours %.1f s, community.libvirt %.1f s, floor %.1f s'
            % (count, info['ours'][-1], info['theirs'][-1], info['floor'][-1]))
        workloads.remove_all(URI, base, count)
    medians = dict((name, dict((phase, _median(values)) for phase, values in phases.items()))
                   for name, phases in figures.items())
    medians['info'] = dict((name, _median(values)) for name, values in info.items())
    return medians


def rows_for(count, m):
    startup = m['startup']['create']
    theirs = m.get('community.libvirt') or dict(create=None, noop=None)
    rows = []
    for phase, label in (('create', 'from nothing'), ('noop', 'second run (no-op)')):
        for ours in ('ours per task', 'ours batch'):
            if ours in m:
                rows.append(dict(workload='converge %d guests %s, %s' % (count, label, ours.replace('ours ', '')),
                                 ours=m[ours][phase], theirs=theirs[phase], floor=m['floor'][phase], unit='s'))
    rows.append(dict(workload='status of %d guests (guest_info vs virt info)' % count, ours=m['info']['ours'],
                     theirs=m['info']['theirs'], floor=m['info']['floor'], unit='s'))

    def per_guest(total):
        return None if total is None else (total - startup) / count * 1000.0

    rows.append(dict(workload='provision overhead per guest, %d guests, batch (overlay, define, start)' % count,
                     ours=per_guest(m['ours batch']['create']), theirs=per_guest(theirs['create']),
                     floor=per_guest(m['floor']['create']), unit='ms'))
    return rows


def machine():
    return dict(cpus=os.cpu_count(), platform=platform.platform(), python=workloads.python_version(),
                date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                community_libvirt=comparison.version())


def main():
    # the lab's session lock, as a test session takes it: the benchmark's guests, lab hosts and timings must not
    # meet a test session's (the kernel drops the lock if this process dies)
    lock = SessionLock(log=log).acquire()
    try:
        run_all()
    finally:
        lock.release()


def _wanted(group):
    only = os.environ.get('BENCH_ONLY')
    if only:
        return group in [name.strip() for name in only.split(',')]
    return os.environ.get('BENCH_%s' % group.upper(), '1') == '1'


def run_all():
    sizes = [int(size) for size in os.environ.get('BENCH_SIZES', '10,50,100').split(',')]
    repeats = int(os.environ.get('BENCH_REPEATS', '3'))
    base, theirs = setup()
    from lab import images
    tiny = images.ensure_image('tiny', log=log)
    rows = []
    if _wanted('converge'):
        for count in sizes:
            log('converging %d guests with each contender ...' % count)
            rows += rows_for(count, converge(count, base, theirs, repeats if count <= 10 else 1))
    if _wanted('startup'):
        log('module start-up: one no-op task of guest, guests, guest_info, and the guest role over 20 guests ...')
        rows += startup.run(URI, base, repeats, log)
    if _wanted('storage'):
        log('storage: attach/detach and swap on a running tiny guest ...')
        rows += storage.run(URI, tiny, repeats, log)
    if _wanted('config_drive'):
        rows += config_drive.run(log)
    if _wanted('migration'):
        log('migration: a tiny guest between two lab hosts, idle and dirtying memory, per mode ...')
        rows += migration.run(tiny, repeats, log)
    if _wanted('drain'):
        log('drain: 8 tiny guests off lab host 4 with host_maintenance.yml, concurrency 1 and 4 ...')
        rows += drain.run(tiny, repeats, log)
    if _wanted('fleet'):
        log('fleet: drain, live migration and evacuation on the fleet lab (cn1..cn3 over SSH) ...')
        rows += fleet.run(tiny, repeats, log)
    about = machine()
    about['repeats'] = repeats
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, 'latest.json'), 'w') as handle:
        json.dump(dict(machine=about, rows=rows), handle, indent=2)
    text = report.tables(rows)
    with open(os.path.join(RESULTS, 'latest.md'), 'w') as handle:
        handle.write(report.run_line(about) + '\n\n' + text)
    report.update_performance_doc(about, rows, partial=os.environ.get('BENCH_ONLY'))
    print()
    print(text)
    log('results in %s; docs/performance.md updated' % RESULTS)


if __name__ == '__main__':
    main()
