"""`python -m lab.cli fleet up|down|status|partition|heal|poweroff|poweron|kill|is-off HOST` (see lab.fleet.control).

`kill` and `is-off` are a fleet host's management controller as the evacuate role's fence sees it: `kill` cuts its
power, `is-off` exits 0 when nothing of the host runs and 1 otherwise."""
from lab.fleet import control, layout
from lab.proc import say

HOST_COMMANDS = {
    'partition': (control.partition, "cut the host's link: it keeps running, nobody reaches it, it reaches nobody"),
    'heal': (control.heal, "restore a partitioned host's link"),
    'poweroff': (control.poweroff, 'clean shutdown (systemctl poweroff inside)'),
    'poweron': (control.poweron, 'boot a host that is off, from the writable root it had'),
    'kill': (control.kill, 'power cut: the container and every QEMU in it killed at once'),
}


def add_parser(sub):
    fleet = sub.add_parser('fleet', help='three Debian compute hosts under systemd in systemd-nspawn (cn1..cn3)')
    commands = fleet.add_subparsers(dest='fleet_command', required=True)
    commands.add_parser('up', help='boot the fleet (or reuse it) and write %s' % layout.INVENTORY)
    down = commands.add_parser('down', help='stop every fleet host, the repository server and the bridge')
    down.add_argument('--force', action='store_true', help='even while a test session uses the fleet')
    commands.add_parser('status', help="each host's state, address and systemd state")
    for name, (_func, text) in HOST_COMMANDS.items():
        command = commands.add_parser(name, help=text)
        command.add_argument('host', choices=layout.HOST_NAMES, help='the host as the inventory names it')
    is_off = commands.add_parser('is-off', help='exit 0 when nothing of the host runs (a fence verification)')
    is_off.add_argument('host', choices=layout.HOST_NAMES, help='the host as the inventory names it')


def main(args, log=say):
    if args.fleet_command == 'up':
        control.up(log=log)
    elif args.fleet_command == 'down':
        if control.in_use() and not args.force:
            log('a test session is using the fleet; let it finish, or use --force')
            return 1
        control.down(log=log)
    elif args.fleet_command == 'status':
        return control.status()
    elif args.fleet_command == 'is-off':
        return 0 if control.is_off(args.host, log=log) else 1
    else:
        HOST_COMMANDS[args.fleet_command][0](args.host, log=log)
    return 0
