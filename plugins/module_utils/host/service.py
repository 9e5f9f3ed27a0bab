# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting, stopping and restarting a compute host's libvirt daemons.

With systemd the units do it. Without systemd the daemons are found through
their pid files; a daemon that is stopped leaves a note (command line,
environment, working directory, cgroups) next to its pid file so that the next
start brings back the same daemon, as a restart does. Guests survive both:
QEMU runs daemonized and libvirtd reconnects to it, and virtlogd is re-executed
in place rather than killed so the guests' log pipes stay open.
"""


import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, connected, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.host import procfs

MODULAR_DAEMONS = ('virtqemud', 'virtnetworkd', 'virtstoraged', 'virtnodedevd', 'virtsecretd', 'virtnwfilterd',
                   'virtinterfaced', 'virtproxyd')
SOCKET_SUFFIXES = ('.socket', '-ro.socket', '-admin.socket', '-tcp.socket', '-tls.socket')
NOTE_SUFFIX = '.virtops.json'


def systemd_present():
    return bool(shutil.which('systemctl')) and os.path.isdir('/run/systemd/system')


# ---------------------------------------------------------------- systemd

def systemd_plan(action, main, active):
    """The systemctl command lines for ``action``; ``main`` the libvirt daemon's name, ``active(unit)`` a probe."""
    service = main + '.service'
    if action == 'started':
        if active(service) and active('virtlogd.service'):
            return []
        return [['systemctl', 'start', 'virtlogd.service', service]]
    if action == 'stopped':
        # an active socket would start the daemon again at the next client connection
        units = [service] + [main + suffix for suffix in SOCKET_SUFFIXES if active(main + suffix)]
        if not any(active(unit) for unit in units):
            return []
        return [['systemctl', 'stop'] + units]
    if action == 'reloaded':
        # SIGHUP through the unit: libvirtd reads its hooks and its definitions again, guests and clients untouched
        return [['systemctl', 'reload', service]] if active(service) else [['systemctl', 'start', service]]
    # virtlogd's unit reloads by re-executing it in place, which keeps the guests' log pipes open
    plan = [['systemctl', 'restart', service]]
    plan.insert(0, ['systemctl', 'reload-or-restart', 'virtlogd.service'])
    return plan


def _systemd_active(unit):
    return subprocess.call(['systemctl', 'is-active', '--quiet', unit]) == 0


def _systemd_main():
    if not _systemd_active('libvirtd.service') and _systemd_active('virtqemud.service'):
        return 'virtqemud'
    return 'libvirtd'


# ---------------------------------------------------------------- processes

def read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def process_name(pid):
    try:
        exe = os.path.basename(os.readlink('/proc/%d/exe' % pid))
        return exe.split(' (deleted)')[0]
    except OSError:
        return None


def pid_running(pid, program):
    """True when ``pid`` is a live (not zombie) process of ``program``."""
    if not pid or process_name(pid) != program:
        return False
    state = procfs.stat(pid)
    return state is not None and procfs.alive(state[1])


def snapshot(pid):
    """How ``pid`` was started: argv, environment, working directory and cgroups."""
    with open('/proc/%d/cmdline' % pid, 'rb') as handle:
        argv = [part.decode('utf-8', 'surrogateescape') for part in handle.read().split(b'\0') if part]
    with open('/proc/%d/environ' % pid, 'rb') as handle:
        env = dict(item.decode('utf-8', 'surrogateescape').split('=', 1)
                   for item in handle.read().split(b'\0') if b'=' in item)
    with open('/proc/%d/cgroup' % pid) as handle:
        cgroups = [line.rstrip('\n') for line in handle if line.strip()]
    return dict(argv=argv, env=env, cwd=os.readlink('/proc/%d/cwd' % pid), cgroups=cgroups,
                hostname=socket.gethostname())


def cgroup_procs_files(cgroups):
    """The cgroup.procs files of the cgroups in /proc/PID/cgroup lines, found through this process's mounts."""
    mounts = []
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            pre, post = line.split(' - ', 1)
            fields = pre.split()
            fstype, _source, superopts = post.split()[:3]
            if fstype in ('cgroup', 'cgroup2'):
                mounts.append((fstype, set(superopts.split(',')), fields[3], fields[4]))
    files = []
    for line in cgroups:
        _hid, controllers, path = line.split(':', 2)
        for fstype, opts, root, mountpoint in mounts:
            if fstype == 'cgroup2' and controllers == '' or fstype == 'cgroup' and controllers and set(
                    controllers.split(',')) <= opts:
                if path.startswith('/..') or not (path + '/').startswith(root.rstrip('/') + '/'):
                    break       # a cgroup outside what this namespace sees cannot be joined
                target = os.path.join(mountpoint, path[len(root.rstrip('/')):].lstrip('/'), 'cgroup.procs')
                if os.path.exists(target):
                    files.append(target)
                break
    return files


def qemu_in_this_namespace():
    """Pids of QEMU processes of this host (its UTS namespace): the guests its virtlogd serves.

    Not the mount namespace: libvirt gives every QEMU a private one of its own."""
    try:
        mine = os.readlink('/proc/self/ns/uts')
    except OSError:
        return []
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            pid = int(entry)
            name = process_name(pid) or ''
            try:
                if name.startswith('qemu-system') and os.readlink('/proc/%d/ns/uts' % pid) == mine:
                    found.append(pid)
            except OSError:
                continue
    return found


class Daemon:
    """One daemon run without a service manager, known by its pid file."""

    def __init__(self, name, pid_file, extra_args=()):
        self.name = name
        self.pid_file = pid_file
        self.extra_args = list(extra_args)

    @property
    def note_file(self):
        return self.pid_file + NOTE_SUFFIX

    @property
    def pid(self):
        pid = read_pid(self.pid_file)
        return pid if pid_running(pid, self.name) else 0

    def default_argv(self):
        binary = shutil.which(self.name) or self.name
        return [binary, '--daemon'] + self.extra_args + ['--pid-file', self.pid_file]

    def saved(self):
        try:
            with open(self.note_file) as handle:
                note = json.load(handle)
            return note if note.get('argv') else None
        except (OSError, ValueError):
            return None

    def start_plan(self):
        note = self.saved()
        return note or dict(argv=self.default_argv(), env=None, cwd='/', cgroups=[])

    def save(self, note):
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(self.note_file) or '.')
        # the environment can hold secrets, so the note is root-only
        with os.fdopen(handle, 'w') as out:
            json.dump(note, out)
        os.rename(tmp, self.note_file)

    def stop(self, timeout):
        pid = self.pid
        if not pid:
            return
        self.save(snapshot(pid))
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while pid_running(pid, self.name):
            if time.time() > deadline:
                raise VirtopsError('%s (pid %d) did not exit within %d seconds after SIGTERM.' % (self.name, pid, timeout))
            time.sleep(0.2)

    def start(self, timeout):
        plan = self.start_plan()
        argv = plan['argv']
        if plan.get('hostname') not in (None, socket.gethostname()):
            # a note left on another host (a shared pid file directory) must not start its daemon here
            raise VirtopsError("%s was stopped on host '%s', not on '%s', so its command line in %s is not this host's."
                               % (self.name, plan['hostname'], socket.gethostname(), self.note_file))
        procs = cgroup_procs_files(plan.get('cgroups') or [])

        def join_cgroups():
            # the daemon goes back to the cgroups it had, so libvirt finds its guests' cgroups where it left them
            for path in procs:
                try:
                    with open(path, 'w') as handle:
                        handle.write(str(os.getpid()))
                except OSError:
                    pass

        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(argv, env=plan.get('env'), cwd=plan.get('cwd') or '/', stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
                                        close_fds=True, preexec_fn=join_cgroups)
            except OSError as err:
                raise VirtopsError('cannot start %s with %s: %s.' % (self.name, ' '.join(argv), err.strerror))
            deadline = time.time() + timeout
            daemonizes = '-d' in argv or '--daemon' in argv
            while True:
                if daemonizes and proc.poll() not in (None, 0):
                    errors.seek(0)
                    said = errors.read().decode('utf-8', 'replace').strip().splitlines()
                    raise VirtopsError('%s failed to start (exit %d)%s.' % (
                        self.name, proc.returncode, ': ' + said[-1].rstrip('.') if said else ''))
                if self.pid:
                    break
                if time.time() > deadline:
                    raise VirtopsError('%s started with %s wrote no live pid to %s within %d seconds.' % (
                        self.name, ' '.join(argv), self.pid_file, timeout))
                time.sleep(0.2)
        try:
            os.unlink(self.note_file)
        except OSError:
            pass
        return ' '.join(argv)

    def reexec(self):
        """virtlogd's own restart: SIGUSR1 makes it re-execute itself keeping its open files."""
        os.kill(self.pid, signal.SIGUSR1)

    def reload(self):
        """libvirtd's reload: SIGHUP makes it look for hook scripts again and re-read its definitions."""
        os.kill(self.pid, signal.SIGHUP)


def direct_daemons(params):
    """(main daemons, virtlogd) found from the pid files; the main ones are libvirtd or the modular set."""
    virtlogd = Daemon('virtlogd', params['virtlogd_pid_file'] or '/run/virtlogd.pid', params['virtlogd_args'])
    given = params['libvirtd_pid_file']
    if given:
        name = os.path.basename(given).split('.')[0]
        name = name if name == 'virtqemud' else 'libvirtd'
        return [Daemon(name, given, params['libvirtd_args'])], virtlogd
    monolithic = Daemon('libvirtd', '/run/libvirtd.pid', params['libvirtd_args'])
    if monolithic.pid or monolithic.saved():
        return [monolithic], virtlogd
    modular = [Daemon(name, '/run/%s.pid' % name) for name in MODULAR_DAEMONS]
    modular = [daemon for daemon in modular if daemon.pid or daemon.saved()]
    if modular or not shutil.which('libvirtd') and shutil.which('virtqemud'):
        modular = modular or [Daemon('virtqemud', '/run/virtqemud.pid', params['libvirtd_args'])]
        return modular, virtlogd
    return [monolithic], virtlogd


def wait_for_libvirt(uri, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            with connected(uri) as conn:
                conn.getLibVersion()
                return
        except (VirtopsError, libvirt.libvirtError) as err:
            if time.time() > deadline:
                raise VirtopsError("libvirt did not answer on '%s' within %d seconds after the daemons started: %s"
                                   % (uri, timeout, str(err).rstrip('.') + '.'))
        time.sleep(0.5)


def _direct(module, action):
    mains, virtlogd = direct_daemons(module.params)
    timeout = module.params['timeout']
    actions = []
    check = module.check_mode
    everyone = [virtlogd] + mains
    if action == 'started':
        for daemon in everyone:
            if not daemon.pid:
                actions.append('started ' + (' '.join(daemon.start_plan()['argv']) if check else daemon.start(timeout)))
    elif action == 'reloaded':
        for daemon in mains:
            if daemon.pid:
                actions.append('reloaded %s (pid %d, SIGHUP)' % (daemon.name, daemon.pid))
                if not check:
                    daemon.reload()
            else:
                actions.append('started ' + (' '.join(daemon.start_plan()['argv']) if check else daemon.start(timeout)))
    elif action == 'stopped':
        for daemon in mains:
            if daemon.pid:
                actions.append('stopped %s (pid %d)' % (daemon.name, daemon.pid))
                if not check:
                    daemon.stop(timeout)
        if virtlogd.pid:
            guests = qemu_in_this_namespace()
            if guests:
                module.warn('virtlogd is left running because %d guest(s) still run and it holds their console logs.'
                            % len(guests))
            else:
                actions.append('stopped virtlogd (pid %d)' % virtlogd.pid)
                if not check:
                    virtlogd.stop(timeout)
    else:
        if virtlogd.pid:
            actions.append('re-executed virtlogd (pid %d)' % virtlogd.pid)
            if not check:
                virtlogd.reexec()
        elif check:
            actions.append('started ' + ' '.join(virtlogd.start_plan()['argv']))
        else:
            actions.append('started ' + virtlogd.start(timeout))
        for daemon in mains:
            if daemon.pid:
                actions.append('stopped %s (pid %d)' % (daemon.name, daemon.pid))
                if not check:
                    daemon.stop(timeout)
            actions.append('started ' + (' '.join(daemon.start_plan()['argv']) if check else daemon.start(timeout)))
    daemons = dict((daemon.name, dict(pid=daemon.pid or None, running=bool(daemon.pid))) for daemon in everyone)
    return actions, daemons


def _systemd(module, action):
    main = _systemd_main()
    plan = systemd_plan(action, main, _systemd_active)
    actions = []
    for argv in plan:
        actions.append(' '.join(argv))
        if not module.check_mode:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=module.params['timeout'], check=False)
            if proc.returncode:
                said = (proc.stderr or proc.stdout).strip().splitlines()
                raise VirtopsError('%s failed%s.' % (' '.join(argv), ': ' + said[-1].rstrip('.') if said else ''))
    daemons = dict((name, dict(pid=None, running=_systemd_active(name + '.service'))) for name in (main, 'virtlogd'))
    return actions, daemons


def converge(module, result):
    action = module.params['service']
    manager = module.params['service_manager']
    if manager == 'auto':
        manager = 'systemd' if systemd_present() else 'direct'
    actions, daemons = (_systemd if manager == 'systemd' else _direct)(module, action)
    if actions and action != 'stopped' and not module.check_mode:
        wait_for_libvirt(module.uri, module.params['timeout'])
    result['service'] = dict(manager=manager, daemons=daemons, actions=actions)
    if actions:
        result['changed'] = True
    return result
