# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeps the console_proxy role's daemons (websockify, and per guest xrdp and its RFB relay) running as wanted,
under systemd (one instance of a template unit per daemon) or, without it, as processes started here with pid
files. A daemon is restarted only when what it was started with differs; daemons no longer wanted are stopped.

usage: virtops_daemons.py ensure|check|stop|check-stop < SPEC_JSON   (as root; the role runs it)
       virtops_daemons.py exec RECORD_FILE                            (ExecStart of the template unit)

SPEC_JSON on standard input: {"run_dir": ..., "log_dir": ..., "user": ..., "group": ..., "unit": "<template unit prefix, e.g.
virtops-console@>" or "" without systemd, "daemons": {NAME: {"argv": [...], "env": {...}, "host": ..., "port": N,
"stamp": "<digest of what the daemon reads at start>"}}}. ``stop`` stops every daemon of run_dir, wanted or not.

Prints one JSON line: {"changed": bool, "started": [...], "restarted": [...], "stopped": [...]} ("would start",
"would restart", "would stop" in the check actions), or {"failed": true, "msg": "<one sentence>"} with exit code 1.
"""
import json
import os
import signal
import subprocess
import sys
import time

LISTEN_TIMEOUT = 15
STOP_TIMEOUT = 5
DONE = {'start': 'started', 'restart': 'restarted', 'stop': 'stopped'}
BASE_ENV = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8', 'PYTHONDONTWRITEBYTECODE': '1'}


class Failed(Exception):
    pass


def _read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _start_time(pid):
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), None when gone or a zombie: with the
    pid it tells our process from a later one that got the same pid."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == 'Z' else fields[19]


def _listening(pid, port):
    """Does process ``pid`` hold a socket listening on TCP ``port``?"""
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == '0A' and int(cols[1].rsplit(':', 1)[1], 16) == port:
                inodes.add('socket:[%s]' % cols[9])
    try:
        links = [os.readlink('/proc/%d/fd/%s' % (pid, fd)) for fd in os.listdir('/proc/%d/fd' % pid)]
    except OSError:
        return False
    return bool(inodes.intersection(links))


def _last_lines(text, count=3):
    return ' / '.join(line.strip() for line in text.strip().splitlines()[-count:]).rstrip('.') or 'nothing'


class Daemons(object):
    def __init__(self, spec):
        self.spec = spec
        self.run_dir, self.log_dir, self.unit = spec['run_dir'], spec['log_dir'], spec.get('unit') or ''

    def record_path(self, name):
        return os.path.join(self.run_dir, name + '.json')

    def log_path(self, name):
        return os.path.join(self.log_dir, name + '.log')

    def known(self):
        """Names of the daemons this run directory has a record of."""
        try:
            return sorted(f[:-5] for f in os.listdir(self.run_dir) if f.endswith('.json'))
        except OSError:
            return []

    def pid(self, name):
        """The pid of the daemon's main process when it runs, else None."""
        if self.unit:
            done = subprocess.run(['systemctl', 'show', '-p', 'MainPID', '--value', self.unit + name],
                                  capture_output=True, text=True, check=False)
            pid = int(done.stdout.strip() or 0)
            return pid or None
        record = _read_json(self.record_path(name)) or {}
        pid = record.get('pid')
        return pid if pid and _start_time(pid) == record.get('start_time') else None

    def same(self, name, wanted):
        record = _read_json(self.record_path(name)) or {}
        return {k: record.get(k) for k in wanted} == wanted

    def start(self, name, wanted):
        os.makedirs(self.run_dir, mode=0o755, exist_ok=True)
        os.makedirs(self.log_dir, mode=0o750, exist_ok=True)
        if self.unit:
            self._write(name, wanted)
            subprocess.run(['systemctl', 'enable', '--quiet', self.unit + name], check=True)
            subprocess.run(['systemctl', 'restart', self.unit + name], check=False)
            pid = self.pid(name)
        else:
            with open(self.log_path(name), 'ab') as log:
                os.chmod(self.log_path(name), 0o640)
                proc = subprocess.Popen(
                    wanted['argv'], env=dict(BASE_ENV, **wanted.get('env', {})), cwd='/', stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, user=wanted['user'], group=wanted['group'],
                    extra_groups=[], umask=0o077, start_new_session=True)
            pid = proc.pid
            self._write(name, dict(wanted, pid=pid, start_time=_start_time(pid)))
        self._wait_listening(name, pid, wanted['port'])

    def _write(self, name, record):
        with open(self.record_path(name) + '.new', 'w') as handle:
            json.dump(record, handle)
        os.rename(self.record_path(name) + '.new', self.record_path(name))

    def _wait_listening(self, name, pid, port):
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while time.monotonic() < deadline:
            if not pid or _start_time(pid) is None:
                self.stop(name)
                raise Failed('%s exited at start (%s).' % (name, self._log_end(name)))
            if _listening(pid, port):
                return
            time.sleep(0.1)
        self.stop(name)
        raise Failed('%s did not listen on port %d within %d seconds (%s).' % (
            name, port, LISTEN_TIMEOUT, self._log_end(name)))

    def _log_end(self, name):
        if self.unit:
            done = subprocess.run(['journalctl', '-u', self.unit + name, '-n', '30', '--no-pager', '-o', 'cat'],
                                  capture_output=True, text=True, check=False)
            # the daemon's own lines, not systemd's about the unit
            said = '\n'.join(line for line in done.stdout.splitlines() if self.unit + name not in line)
            return 'journalctl -u %s%s ends with: %s' % (self.unit, name, _last_lines(said))
        try:
            with open(self.log_path(name), errors='replace') as handle:
                text = handle.read()
        except OSError:
            text = ''
        return 'its log %s ends with: %s' % (self.log_path(name), _last_lines(text))

    def stop(self, name):
        if self.unit:
            subprocess.run(['systemctl', 'disable', '--now', '--quiet', self.unit + name], check=False)
        else:
            pid = self.pid(name)
            if pid:
                self._signal_group(pid, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while _start_time(pid) is not None and time.monotonic() < deadline:
                    time.sleep(0.1)
                # xrdp and websockify fork a process per connection, in the daemon's process group
                self._signal_group(pid, signal.SIGKILL)
        try:
            os.unlink(self.record_path(name))
        except FileNotFoundError:
            pass

    @staticmethod
    def _signal_group(pid, number):
        try:
            os.killpg(pid, number)
        except OSError:
            pass


def converge(action, spec):
    daemons, done = Daemons(spec), {'start': [], 'restart': [], 'stop': []}
    check = action.startswith('check')
    wanted = {} if action.endswith('stop') else spec['daemons']
    for name in daemons.known():
        if name not in wanted and (daemons.pid(name) or not check):
            if not check:
                daemons.stop(name)
            done['stop'].append(name)
    if daemons.unit and not check and wanted:
        # the template unit may be new or changed since systemd last read it
        subprocess.run(['systemctl', 'daemon-reload'], check=True)
    for name, want in sorted(wanted.items()):
        # the user it runs as is part of what it was started with
        want = dict(want, user=spec['user'], group=spec['group'])
        running = daemons.pid(name)
        if running and daemons.same(name, want):
            continue
        if not check:
            if running:
                daemons.stop(name)
            daemons.start(name, want)
        done['restart' if running else 'start'].append(name)
    report = {('would ' + verb if check else DONE[verb]): names for verb, names in done.items()}
    report['changed'] = any(done.values())
    return report


def main(argv):
    if len(argv) == 2 and argv[0] == 'exec':
        record = _read_json(argv[1])
        os.execvpe(record['argv'][0], record['argv'], dict(BASE_ENV, **record.get('env', {})))
    if len(argv) != 1 or argv[0] not in ('ensure', 'check', 'stop', 'check-stop'):
        sys.stderr.write('usage: virtops_daemons.py ensure|check|stop|check-stop < SPEC_JSON | exec RECORD\n')
        return 2
    try:
        print(json.dumps(converge(argv[0], json.load(sys.stdin))))
    except (Failed, OSError, subprocess.CalledProcessError) as err:
        msg = str(err) if isinstance(err, Failed) else 'managing the console proxy daemons failed: %s.' % err
        print(json.dumps({'failed': True, 'msg': msg}))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
