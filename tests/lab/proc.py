"""Process, pid-file and state-file helpers shared by the lab's services.

Everything the lab starts is recorded so that ``down`` stops exactly that and
nothing else: a process is only ever signalled after its command line has been
checked against what the lab itself would have started.
"""
import json
import os
import signal
import subprocess
import time

STATE_DIR = '/run/virtops-lab'           # what the lab started (pids, flags)
LAB_ROOT = '/var/lib/virtops-lab'        # persistent lab data (hosts, images, LUNs)
SHARED_DIR = os.path.join(LAB_ROOT, 'shared')   # seen by every lab host (outside bind mounts)


class LabError(RuntimeError):
    """A lab service could not be brought to the wanted state."""


def say(msg):
    print('[lab] %s' % msg, flush=True)


def run(cmd, check=True, timeout=60, input=None, env=None, log=None):
    """Run a command, capture its output; on failure raise LabError naming the command."""
    if log:
        log('$ ' + ' '.join(cmd))
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, env=env,
                             check=False)
    except subprocess.TimeoutExpired:
        raise LabError('%s did not finish within %ss' % (' '.join(cmd), timeout)) from None
    except FileNotFoundError:
        raise LabError('%s is not installed' % cmd[0]) from None
    if check and res.returncode != 0:
        output = (res.stderr or res.stdout).strip()[-800:]
        raise LabError('%s failed (rc=%s): %s' % (' '.join(cmd), res.returncode, output))
    return res


def run_daemon(cmd, logpath, timeout=60, log=None):
    """Run a command that daemonizes itself. Its output goes to logpath (never to a pipe
    of ours, which a daemon that keeps its stdio would hold open forever)."""
    if log:
        log('$ ' + ' '.join(cmd))
    os.makedirs(os.path.dirname(logpath), exist_ok=True)
    with open(logpath, 'ab') as out:
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 timeout=timeout, start_new_session=True, check=False)
        except subprocess.TimeoutExpired:
            raise LabError('%s did not return within %ss (see %s)' % (' '.join(cmd), timeout, logpath)) from None
    if res.returncode != 0:
        raise LabError('%s failed (rc=%s): %s' % (' '.join(cmd), res.returncode, tail(logpath)))


def tail(path, lines=15):
    try:
        with open(path, errors='replace') as fh:
            return ''.join(fh.readlines()[-lines:]).strip()
    except OSError:
        return '(no %s)' % path


def wait_for(predicate, timeout, what, interval=0.2):
    """Poll predicate() until it is truthy; raise LabError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- processes

def read_pid(path):
    try:
        with open(path) as fh:
            text = fh.read().strip()
        return int(text.split()[0]) if text else None
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid):
    """True for a live process (a zombie waiting to be reaped does not count)."""
    if not pid:
        return False
    try:
        with open('/proc/%d/stat' % pid) as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] not in ('Z', 'X')


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as fh:
            return [a.decode(errors='replace') for a in fh.read().split(b'\0') if a]
    except OSError:
        return []


def comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as fh:
            return fh.read().strip()
    except OSError:
        return ''


def qemu_pids(guest):
    """The live QEMU processes running the guest named ``guest`` (libvirt passes ``-name guest=NAME,...``), on
    whichever lab host: they all share this machine's process table."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        args = cmdline(int(entry))
        if not args or not os.path.basename(args[0]).startswith('qemu-system'):
            continue
        names = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == '-name']
        if any(name.split(',')[0] == 'guest=' + guest for name in names) and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def pid_is(pid, program, *needles):
    """Is pid a live `program` whose command line contains every needle?"""
    if not pid_alive(pid):
        return False
    args = cmdline(pid)
    if not args or os.path.basename(args[0]) != program and comm(pid) != program[:15]:
        return False
    joined = ' '.join(args)
    return all(n in joined for n in needles)


def find_pids(program, *needles):
    """All live processes that pid_is(program, *needles)."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and pid_is(int(entry), program, *needles):
            found.append(int(entry))
    return sorted(found)


def stop_pid(pid, what, log=say, timeout=15, sig=signal.SIGTERM):
    """Signal pid, wait for it to go; SIGKILL it when it does not. True if it was running."""
    if not pid_alive(pid):
        return False
    log('stopping %s (pid %d) ...' % (what, pid))
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        log('%s (pid %d) ignored %s for %ss; killing it' % (what, pid, signal.Signals(sig).name, timeout))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        wait_for(lambda: not pid_alive(pid), 10, '%s (pid %d) to die' % (what, pid))
    return True


def uts_hostname(pid):
    """The hostname seen in pid's UTS namespace, or None when it shares ours."""
    try:
        if os.stat('/proc/%d/ns/uts' % pid).st_ino == os.stat('/proc/self/ns/uts').st_ino:
            return None
    except OSError:
        return None
    res = subprocess.run(['nsenter', '-t', str(pid), '-u', 'hostname'],
                         capture_output=True, text=True, timeout=10, check=False)
    return res.stdout.strip() if res.returncode == 0 else None


# ---------------------------------------------------------------- state files

def _state_path(name):
    return os.path.join(STATE_DIR, name + '.json')


def state_load(name):
    try:
        with open(_state_path(name)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def state_save(name, data):
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    tmp = _state_path(name) + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, _state_path(name))


def state_drop(name):
    try:
        os.unlink(_state_path(name))
    except FileNotFoundError:
        pass


def state_names():
    try:
        return sorted(f[:-5] for f in os.listdir(STATE_DIR) if f.endswith('.json'))
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- one test session at a time

LOCK_FILE = os.path.join(STATE_DIR, 'session.lock')
# set by scripts/run-tests.sh to its pid: it holds the lock itself, for its lanes, and no other session gets in
HELD_ENV = 'VIRTOPS_LAB_LOCK_HELD'


class SessionLock:
    """An exclusive flock on /run/virtops-lab/session.lock: test sessions that use the lab
    (same guest names, same lab hosts, same bridge) take turns instead of tearing down
    each other's guests. The kernel drops the lock when its holder dies."""

    def __init__(self, log=say):
        self.log = log
        self.fh = None

    def acquire(self, timeout=3600, shared=False):
        import fcntl
        held_by = os.environ.get(HELD_ENV)
        if held_by and pid_alive(int(held_by)):
            # scripts/run-tests.sh holds the lock for the whole run and both of its lanes
            self.log('the lab is held for this session by the test run of pid %s' % held_by)
            return self
        os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
        self.fh = open(LOCK_FILE, 'a+')
        start, said = time.monotonic(), 0
        while True:
            try:
                fcntl.flock(self.fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited > timeout:
                    raise LabError('another test session (pid %s) has held the lab for over %ss'
                                   % (lock_holder(), timeout)) from None
                if waited >= said:
                    self.log('waiting for another test session (pid %s) to finish with the lab ...'
                             % lock_holder())
                    said = waited + 60
                time.sleep(1)
        if not shared:
            self.fh.seek(0)
            self.fh.truncate()
            self.fh.write('%d\n' % os.getpid())
            self.fh.flush()
        return self

    def release(self):
        if self.fh:
            self.fh.close()
            self.fh = None


def lock_holder():
    """pid of the session holding the lab, or None when it is free."""
    import fcntl
    try:
        fh = open(LOCK_FILE)
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_pid(LOCK_FILE) or '?'
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


# What a test session started is recorded with its pid in /run/virtops-lab/sessions.json.
# A later session adopts what a killed session left running (and so stops it at its end);
# what `python -m lab.cli up` started is never recorded, and `up`/`down` forget dead claims.
OWNED = 'sessions'


def adopt(key, started_now, value=True, log=say):
    """Does this session own `key` (it just started it, or a dead session had)? Returns the
    claim's value (truthy) when it does, recording the claim under this process's pid."""
    owned = state_load(OWNED)
    previous = owned.get(key)
    orphan = bool(previous) and previous['pid'] != os.getpid() and not pid_alive(previous['pid'])
    if orphan:
        log('adopting %s left behind by a test session that died (pid %d)' % (key, previous['pid']))
    if not (started_now or orphan):
        return None
    claim = value if started_now else previous['value']
    owned[key] = {'pid': os.getpid(), 'value': claim}
    state_save(OWNED, owned)
    return claim


def release(key):
    owned = state_load(OWNED)
    if owned.pop(key, None) is not None:
        if owned:
            state_save(OWNED, owned)
        else:
            state_drop(OWNED)


def forget_dead_claims():
    """Drop the claims of test sessions that are gone (the command line takes over)."""
    owned = state_load(OWNED)
    alive = {k: v for k, v in owned.items() if pid_alive(v['pid'])}
    if not alive:
        state_drop(OWNED)
    elif alive != owned:
        state_save(OWNED, alive)
