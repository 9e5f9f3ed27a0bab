"""pytest session fixtures of the fleet lab (enabled in tests/conftest.py), shared by every fleet test:

fleet          lab.fleet.fixtures.Fleet: the fleet up once per session (reused when it runs already, as
               `make fleet-up` leaves it; stopped at the end only if this session started it), under the lab's
               session lock like every end-to-end test
fleet_compute  the same Fleet after playbooks/compute_host.yml ran once on it over SSH (its first run kept as
               fleet.role_run)
fleet_ansible  pytest-ansible's host manager over the fleet's inventory, group `compute`: modules run on the
               hosts over SSH, e.g. fleet_ansible['cn1'].command('hostname')
fleet_tiny     the lab's tiny guest image (kernel + busybox initramfs) on the fleet's shared directory, as
               FleetTiny: the guest module's boot options as paths inside the hosts, and its boot marker

A test that cuts, powers off or kills a host gives it back running before it ends (Fleet.restored), so that
tests need no order. VIRTOPS_LAB_KEEP=1 leaves a fleet this session started running.
"""
import contextlib
import os
import time
from dataclasses import dataclass, field

import pytest

from lab.fleet import control, layout, machines, network
from lab.proc import adopt, release, say
from lab.runner import REPO_ROOT, run_playbook

COMPUTE_HOST_PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'compute_host.yml')
TIMINGS = {}        # what the fleet cost this session, printed at its end
RECAP = r'^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)'


@dataclass
class Fleet:
    inventory: str
    hosts: list
    role_run: object = None        # lab.runner.PlaybookResult of the session's compute_host run, with .took
    bare_at_start: bool = False    # the role found the hosts without their packages
    names: list = field(default_factory=lambda: list(layout.HOST_NAMES))

    def host(self, name):
        return layout.host(name)

    def playbook(self, playbook, extra_vars=None, check=False, diff=False, limit=None, timeout=1200):
        """ansible-playbook over SSH against the fleet; returns a PlaybookResult with .took and .recap(host)."""
        args = ['-i', self.inventory] + (['--limit', limit] if limit else [])
        start = time.monotonic()
        result = run_playbook(playbook, extra_vars=extra_vars, check=check, diff=diff, args=args, timeout=timeout)
        result.took = time.monotonic() - start
        result.recap = lambda host: recap(result, host)
        return result

    @contextlib.contextmanager
    def restored(self, name):
        """Whatever the block does to host `name` (partition, power off, power cut), it is running and
        reachable again afterwards."""
        try:
            yield self.host(name)
        finally:
            host = self.host(name)
            if not machines.nspawn_pid(host):
                control.poweron(name)
            if network.port_state(host) == network.PORT_DISABLED:
                control.heal(name)


def recap(result, host):
    import re
    found = re.search(RECAP % host, result.stdout, re.M)
    assert found, 'no recap line for %s:\n%s\n%s' % (host, result.stdout[-3000:], result.stderr[-2000:])
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, found.groups())))


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep('=', 'fleet: ' + ', '.join('%s %.0f s' % item for item in TIMINGS.items()))


def _keep():
    return os.environ.get('VIRTOPS_LAB_KEEP') == '1'


@pytest.fixture(scope='session')
def fleet(lab_session):
    with control.FleetUse():
        was_up = control.healthy(log=say)
        start = time.monotonic()
        path = control.up(log=say)
        TIMINGS['up (reused)' if was_up else 'up'] = time.monotonic() - start
        mine = adopt('fleet', not was_up)
        yield Fleet(inventory=path, hosts=layout.all_hosts())
        release('fleet')
    if mine and not _keep():
        control.down(log=say)
    elif mine:
        say('VIRTOPS_LAB_KEEP=1: leaving the fleet running')


def _has_libvirt(host):
    res = machines.inside(host, 'dpkg-query', '-W', '-f=${Status}', 'libvirt-daemon-system', check=False)
    return res.stdout.strip() == 'install ok installed'


@pytest.fixture(scope='session')
def fleet_compute(fleet):
    """The role applied once per session: packages from the fleet's repository, systemd units, TLS listener,
    lock manager, SSH trust (the inventory's settings). On bare hosts (a fleet this session booted) a check
    run goes first, which must report the packages and install nothing."""
    fleet.bare_at_start = not any(_has_libvirt(h) for h in fleet.hosts)
    if fleet.bare_at_start:
        check = fleet.playbook(COMPUTE_HOST_PLAYBOOK, check=True, diff=True)
        TIMINGS['compute_host check run on bare hosts'] = check.took
        assert check.rc == 0 and 'libvirt-daemon-system' in check.stdout, check.stdout[-4000:]
        assert not any(_has_libvirt(h) for h in fleet.hosts), 'a check run installed packages'
    result = fleet.playbook(COMPUTE_HOST_PLAYBOOK)
    assert result.rc == 0, result.stdout[-5000:] + result.stderr[-2000:]
    TIMINGS['compute_host' + ('' if fleet.bare_at_start else ' (hosts set up already)')] = result.took
    fleet.role_run = result
    return fleet


@dataclass
class FleetTiny:
    kernel: str
    initrd: str
    cmdline: str
    marker: str

    def boot_options(self):
        return dict(kernel=self.kernel, initrd=self.initrd, cmdline=self.cmdline)


@pytest.fixture(scope='session')
def fleet_tiny(fleet, tiny_image):
    from lab.guests import readable_boot_files
    files = readable_boot_files(tiny_image, os.path.join(layout.SHARED_DIR, 'boot'))
    return FleetTiny(kernel=layout.inside(files['kernel']), initrd=layout.inside(files['initrd']),
                     cmdline=tiny_image.cmdline, marker=tiny_image.marker)


@pytest.fixture(scope='session')
def fleet_ansible(request, fleet):
    """pytest-ansible's HostManager for the fleet's inventory (its ansible_adhoc fixture is per test; this
    one is made once, with the same plugin)."""
    plugin = request.config.pluginmanager.getplugin('ansible')
    return plugin.initialize(config=request.config, request=None, inventory=fleet.inventory, host_pattern='compute')
