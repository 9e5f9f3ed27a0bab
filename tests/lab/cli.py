"""The lab from the command line (run with tests/ on PYTHONPATH, as the Makefile does):

  python -m lab.cli up [--hosts N] [--iscsi] [--ovs] [--main-tcp] [--default-network]
  python -m lab.cli down [--purge]
  python -m lab.cli status
  python -m lab.cli host kill|poweron|is-off N
  python -m lab.cli fleet up|down|status|partition|heal|poweroff|poweron|kill|is-off HOST   (lab.fleet)

`host` acts on lab host N the way a management controller acts on a machine: `kill` cuts its power (its libvirtd,
virtlogd and every QEMU in it die at once, its definitions stay), `poweron` boots it again with its definitions
(libvirtd autostarts what was marked so), `is-off` exits 0 when nothing of it runs and 1 otherwise. They are the
fence and verify commands the evacuate role's tests give it.

`up` is idempotent (what already runs is reused). `down` removes the lab's guests
(`lab-*`), stops the lab hosts, tgtd and Open vSwitch, then whatever of the main
libvirtd/virtlogd the lab itself started; it also cleans what a crashed run left
behind (processes in a lab host's UTS namespace, test ports, stale pid files).
"""
import argparse
import os
import shutil
import sys

from lab import daemons, hostns, hosts, iscsi, ovs
from lab.fleet import cli as fleet_cli
from lab.proc import (LAB_ROOT, SHARED_DIR, STATE_DIR, LabError, find_pids, forget_dead_claims, lock_holder,
                      run, say, state_load)

GUEST_PREFIX = 'lab-'


def _lab_guests(uri):
    res = run(['virsh', '-c', uri, 'list', '--all', '--name'], check=False, timeout=30)
    if res.returncode != 0:
        return None
    return [n for n in res.stdout.split() if n.startswith(GUEST_PREFIX)]


def remove_lab_guests(uri, log=say):
    names = _lab_guests(uri) or []
    for name in names:
        log('removing lab guest %s from %s' % (name, uri))
        run(['virsh', '-c', uri, 'destroy', name], check=False, timeout=60)
        run(['virsh', '-c', uri, 'undefine', name, '--managed-save', '--snapshots-metadata',
             '--checkpoints-metadata', '--nvram'], check=False, timeout=60)
    return names


def up(args, log=say):
    forget_dead_claims()
    daemons.ensure_main(log=log)
    if args.default_network:
        daemons.ensure_default_network(log=log)
    summary = ['main host: %s' % daemons.MAIN_URI]
    if args.main_tcp:
        summary.append('main host over TCP: %s' % daemons.ensure_main_tcp(log=log))
    for index in range(1, args.hosts + 1):
        host = hosts.start_host(index, log=log)
        summary.append('%s: %s (shared dir %s)' % (host.name, host.uri, host.shared_dir))
    if args.iscsi:
        target = iscsi.ensure_iscsi(log=log)
        summary.append('iSCSI: %s %s lun %d, CHAP user %s (password in %s)' % (
            target.portal, target.iqn, target.lun, target.chap_username, iscsi.CHAP_FILE))
    if args.ovs:
        bridge = ovs.ensure_ovs(log=log)
        summary.append('Open vSwitch bridge: %s (datapath_type=%s)' % (bridge.name, bridge.datapath_type))
    for line in summary:
        log('up: ' + line)
    return 0


def leftover_processes():
    """(what, pid) of every lab process still alive."""
    left = []
    for index in range(1, hosts.MAX_INDEX + 1):
        left += [('%s %s' % (hosts.host_name(index), prog), pid)
                 for pid, prog in hosts.host_processes(hosts.host_name(index))]
    left += [('tgtd', pid) for pid in find_pids('tgtd', iscsi.PIDFILE)]
    left += [('ovsdb-server', pid) for pid in find_pids('ovsdb-server', ovs.DB)]
    left += [('ovs-vswitchd', pid) for pid in find_pids('ovs-vswitchd', ovs.OVS_DIR)]
    return left


def down(args, log=say):
    holder = lock_holder()
    if holder and not args.force:
        log('a test session (pid %s) is using the lab; let it finish, or use --force' % holder)
        return 1
    failures = []

    def step(what, func, *a, **kw):
        try:
            return func(*a, **kw)
        except (LabError, OSError) as exc:
            log('%s failed: %s' % (what, exc))
            failures.append(what)
            return None

    if daemons.libvirt_answers():
        step('removing lab guests from the main host', remove_lab_guests, daemons.MAIN_URI, log=log)
    step('stopping lab hosts', hosts.stop_all, log=log)
    step('stopping the main host TCP forwarder', daemons.stop_main_tcp, log=log)
    step('stopping tgtd', iscsi.stop_iscsi, log=log)
    step('stopping Open vSwitch', ovs.stop_ovs, log=log)
    main_parts = None
    if not args.restore_kvm_mode:
        main_parts = ['libvirtd', 'virtlogd', 'default_network', 'virtlogd.service', 'libvirtd.service']
    step('stopping what the lab started of the main host', daemons.stop_main, log=log, only=main_parts)
    forget_dead_claims()
    if not args.restore_kvm_mode and state_load(daemons.STATE).get('kvm_node'):
        log('leaving %s as root:kvm 0660 (other libvirt users gain from it too); '
            '--restore-kvm-mode puts the old mode back' % daemons.KVM_NODE)
    if args.purge:
        for path in [os.path.join(LAB_ROOT, 'hosts'), os.path.join(SHARED_DIR, 'boot'),
                     os.path.join(SHARED_DIR, 'disks'), os.path.join(SHARED_DIR, 'logs')]:
            if os.path.exists(path):
                log('purging %s' % path)
                shutil.rmtree(path, ignore_errors=True)
    left = leftover_processes()
    if left:
        log('still running after down: %s' % ', '.join('%s (pid %d)' % x for x in left))
        return 1
    if os.path.isdir(STATE_DIR) and not os.listdir(STATE_DIR):
        os.rmdir(STATE_DIR)
    log('down: no lab processes left%s' % (' (with errors in: %s)' % ', '.join(failures) if failures else ''))
    return 1 if failures else 0


def status(args, log=print):
    holder = lock_holder()
    log('== test session holding the lab: %s' % (holder or 'none'))
    log('== main host')
    for line in daemons.main_status():
        log('  ' + line)
    if daemons.libvirt_answers():
        guests = _lab_guests(daemons.MAIN_URI)
        log('  lab guests: %s' % (', '.join(guests) if guests else 'none'))
    log('== lab hosts')
    for line in hosts.host_status() or ['none']:
        log('  ' + line)
    log('== iSCSI')
    for line in iscsi.iscsi_status():
        log('  ' + line)
    log('== Open vSwitch')
    for line in ovs.ovs_status():
        log('  ' + line)
    stopped = [hosts.host_name(i) for i in hosts.known_indexes() if not hosts.get_host(i).libvirtd_pid]
    stale = sorted({name for name in stopped for _m, _t, _o, d in hostns.host_cgroups(name) if os.path.isdir(d)})
    if stale:
        log('== cgroups left by stopped lab hosts: %s' % ', '.join(stale))
    return 0


def host(args, log=say):
    if args.action == 'kill':
        hosts.kill_host(args.index, log=log)
        return 0
    if args.action == 'poweron':
        hosts.start_host(args.index, log=log, keep_state=True)
        return 0
    left = hosts.host_processes(hosts.host_name(args.index))
    log('%s: %s' % (hosts.host_name(args.index), 'off' if not left else 'running (%s)' % ', '.join(
        '%s %d' % (prog, pid) for pid, prog in left)))
    return 0 if not left else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m lab.cli', description='virtops.compute test lab')
    sub = parser.add_subparsers(dest='command', required=True)
    p_up = sub.add_parser('up', help='start (or reuse) the lab services')
    p_up.add_argument('--hosts', type=int, default=0, metavar='N', help='extra libvirt hosts lab-host1..N')
    p_up.add_argument('--iscsi', action='store_true', help='tgtd with the lab iSCSI target (CHAP)')
    p_up.add_argument('--ovs', action='store_true', help='userspace Open vSwitch with bridge vopsbr0')
    p_up.add_argument('--main-tcp', action='store_true',
                      help='main host also on qemu+tcp://127.0.0.1:16509/system (migration back)')
    p_up.add_argument('--default-network', action='store_true', help="start libvirt's 'default' network")
    p_down = sub.add_parser('down', help='stop what the lab started and clean leftovers of crashed runs')
    p_down.add_argument('--purge', action='store_true',
                        help='also delete lab host state and the guests\' shared boot files, disks and logs')
    p_down.add_argument('--force', action='store_true', help='even while a test session holds the lab')
    p_down.add_argument('--restore-kvm-mode', action='store_true',
                        help='also give /dev/kvm back the owner and mode the lab found')
    sub.add_parser('status', help='what runs and what the lab started')
    p_host = sub.add_parser('host', help="a lab host's power, as its management controller would switch it")
    p_host.add_argument('action', choices=['kill', 'poweron', 'is-off'])
    p_host.add_argument('index', type=int)
    fleet_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error('the lab needs root (it starts libvirtd, tgtd and Open vSwitch)')
    if getattr(args, 'hosts', 0) and not 0 <= args.hosts <= hosts.MAX_INDEX:
        parser.error('--hosts must be between 0 and %d' % hosts.MAX_INDEX)
    try:
        return {'up': up, 'down': down, 'status': status, 'host': host, 'fleet': fleet_cli.main}[args.command](args)
    except LabError as exc:
        say('error: %s' % exc)
        return 1


if __name__ == '__main__':
    sys.exit(main())
