"""An iSCSI target for the lab: userspace tgtd on 127.0.0.1:3260 with one target,
LUN 1 backed by a 64 MiB sparse file, and a CHAP account bound to the target.

tgtd daemonizes itself (`-p` writes its pid file) and ignores SIGTERM while it has
targets, so teardown deletes the targets with --force and then asks the daemon to
exit with `tgtadm --op delete --mode system`.
"""
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass

from lab.proc import (LAB_ROOT, STATE_DIR, LabError, find_pids, pid_is, read_pid, run, run_daemon, say,
                      state_drop, state_save, stop_pid, wait_for)

PORTAL = '127.0.0.1:3260'
IQN = 'iqn.2026-11.lab.virtops:lab1'
TID = 1
LUN = 1
SIZE = 64 * 1024 * 1024
CHAP_USER = 'virtops-lab'
ISCSI_DIR = os.path.join(LAB_ROOT, 'iscsi')
BACKING = os.path.join(ISCSI_DIR, 'lab1.img')
CHAP_FILE = os.path.join(ISCSI_DIR, 'chap.json')
PIDFILE = os.path.join(STATE_DIR, 'tgtd.pid')
LOGFILE = os.path.join(ISCSI_DIR, 'tgtd.log')


@dataclass
class IscsiTarget:
    portal: str
    iqn: str
    lun: int
    chap_username: str
    chap_password: str
    backing_file: str = BACKING

    @property
    def host(self):
        return self.portal.rsplit(':', 1)[0]

    @property
    def port(self):
        return int(self.portal.rsplit(':', 1)[1])


def _tgtadm(*args, check=True):
    return run(['tgtadm', '--lld', 'iscsi'] + list(args), check=check, timeout=30)


def _our_tgtd():
    pid = read_pid(PIDFILE)
    if pid and pid_is(pid, 'tgtd', PIDFILE):
        return pid
    # pid file lost (e.g. /run wiped) while the daemon lived on
    pids = find_pids('tgtd', PIDFILE)
    return pids[0] if pids else 0


def running():
    """Is the lab's tgtd up?"""
    return bool(_our_tgtd())


def _control_answers():
    return _tgtadm('--op', 'show', '--mode', 'sys', check=False).returncode == 0


def _chap_password():
    """The lab's CHAP secret: generated once, kept root-only beside the LUN."""
    try:
        with open(CHAP_FILE) as fh:
            return json.load(fh)['password']
    except (OSError, ValueError, KeyError):
        pass
    password = secrets.token_hex(8)      # 16 characters: inside tgt's and RFC 3720's CHAP limits
    fd = os.open(CHAP_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as fh:
        json.dump({'username': CHAP_USER, 'password': password}, fh)
    return password


def _targets():
    """{tid: (iqn, luns, accounts)} from `tgtadm --op show --mode target`."""
    out = _tgtadm('--op', 'show', '--mode', 'target').stdout
    found, tid, section = {}, None, None
    for line in out.splitlines():
        m = re.match(r'Target (\d+): (\S+)', line)
        if m:
            tid = int(m.group(1))
            found[tid] = (m.group(2), set(), set())
            continue
        if tid is None:
            continue
        stripped = line.strip()
        if stripped.endswith('information:'):
            section = stripped
            continue
        m = re.match(r'LUN: (\d+)', stripped)
        if m:
            found[tid][1].add(int(m.group(1)))
        elif section == 'Account information:' and stripped:
            found[tid][2].add(stripped.split()[0])
    return found


def _accounts():
    out = _tgtadm('--op', 'show', '--mode', 'account').stdout
    return {line.strip() for line in out.splitlines()[1:] if line.strip()}


def _configure(log):
    """Create whatever part of target, LUN, ACL and CHAP account is missing."""
    password = _chap_password()
    targets = _targets()
    other = [tid for tid, entry in targets.items() if tid == TID and entry[0] != IQN]
    if other:
        raise LabError('tgtd target id %d already holds %s' % (TID, targets[TID][0]))
    if TID not in targets:
        log('creating iSCSI target %s (tid %d)' % (IQN, TID))
        _tgtadm('--op', 'new', '--mode', 'target', '--tid', str(TID), '-T', IQN)
        _tgtadm('--op', 'bind', '--mode', 'target', '--tid', str(TID), '-I', 'ALL')
        targets = _targets()
    if LUN not in targets[TID][1]:
        if not os.path.exists(BACKING):
            log('creating sparse %d MiB LUN backing file %s' % (SIZE >> 20, BACKING))
            with open(BACKING, 'wb') as fh:
                fh.truncate(SIZE)
        log('adding LUN %d backed by %s' % (LUN, BACKING))
        _tgtadm('--op', 'new', '--mode', 'logicalunit', '--tid', str(TID), '--lun', str(LUN), '-b', BACKING)
    # The account's password cannot be read back: (re)create it so it surely matches CHAP_FILE.
    if CHAP_USER in _accounts():
        if CHAP_USER in targets[TID][2]:
            _tgtadm('--op', 'unbind', '--mode', 'account', '--tid', str(TID), '--user', CHAP_USER, check=False)
        _tgtadm('--op', 'delete', '--mode', 'account', '--user', CHAP_USER)
    log('binding CHAP account %s to %s' % (CHAP_USER, IQN))
    _tgtadm('--op', 'new', '--mode', 'account', '--user', CHAP_USER, '--password', password)
    _tgtadm('--op', 'bind', '--mode', 'account', '--tid', str(TID), '--user', CHAP_USER)
    return password


def ensure_iscsi(log=say):
    """tgtd of ours on 127.0.0.1:3260 with the lab target; returns an IscsiTarget."""
    os.makedirs(ISCSI_DIR, mode=0o700, exist_ok=True)
    pid = _our_tgtd()
    if pid and _control_answers():
        log('tgtd (pid %d) of the lab already runs on %s; reusing it' % (pid, PORTAL))
    else:
        if pid:
            log('tgtd (pid %d) of the lab does not answer; replacing it' % pid)
            stop_pid(pid, 'tgtd', log=log, timeout=5)
        if find_pids('tgtd') and _control_answers():
            raise LabError('another tgtd (pids %s), not started by the lab, owns the control socket; '
                           'stop it or let the lab manage it' % find_pids('tgtd'))
        log('starting tgtd on %s ...' % PORTAL)
        if os.path.exists(BACKING):
            os.unlink(BACKING)     # a fresh daemon gets a fresh, empty LUN
        run_daemon(['tgtd', '-p', PIDFILE, '--iscsi', 'portal=' + PORTAL], LOGFILE, timeout=30)
        pid = wait_for(_our_tgtd, 15, 'tgtd to write ' + PIDFILE)
        wait_for(_control_answers, 15, 'tgtd to answer tgtadm')
        state_save('tgtd', {'pid': pid, 'portal': PORTAL})
        log('tgtd up (pid %d)' % pid)
    password = _configure(log)
    return IscsiTarget(portal=PORTAL, iqn=IQN, lun=LUN, chap_username=CHAP_USER, chap_password=password)


def stop_iscsi(log=say):
    """Delete our targets (--force), then ask tgtd to exit; True when one was running."""
    pid = _our_tgtd()
    if not pid:
        state_drop('tgtd')
        return False
    log('stopping tgtd (pid %d): deleting targets, then the system ...' % pid)
    if _control_answers():
        for tid in sorted(_targets()):
            _tgtadm('--op', 'delete', '--mode', 'target', '--tid', str(tid), '--force', check=False)
        if CHAP_USER in _accounts():
            _tgtadm('--op', 'delete', '--mode', 'account', '--user', CHAP_USER, check=False)
        _tgtadm('--op', 'delete', '--mode', 'system', check=False)
    try:
        wait_for(lambda: not pid_is(pid, 'tgtd'), 15, 'tgtd to exit')
    except LabError:
        stop_pid(pid, 'tgtd', log=log, timeout=5)
    for path in (PIDFILE,):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    state_drop('tgtd')
    log('tgtd stopped')
    return True


def iscsi_status():
    pid = _our_tgtd()
    if not pid:
        return ['tgtd: not running (for the lab)']
    lines = ['tgtd: pid %d on %s' % (pid, PORTAL)]
    for tid, (iqn, luns, accounts) in sorted(_targets().items()):
        lines.append('  target %d %s luns=%s accounts=%s' % (tid, iqn, sorted(luns), sorted(accounts)))
    return lines


def qemu_login(target, username, password, timeout=60):
    """Ask QEMU's own iSCSI initiator (qemu-img, block driver `iscsi`) to open the LUN.

    The password goes through a secret object read from a 0600 file, never argv.
    Returns the CompletedProcess (rc 0 and 'virtual size' on success)."""
    opts = ['driver=iscsi', 'transport=tcp', 'portal=' + target.portal, 'target=' + target.iqn,
            'lun=%d' % target.lun]
    with tempfile.TemporaryDirectory(prefix='virtops-lab-') as tmp:
        objects = []
        if username is not None:
            opts.append('user=' + username)
        if password is not None:
            secret_file = os.path.join(tmp, 'chap')
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, 'w') as fh:
                fh.write(password)
            objects = ['--object', 'secret,id=chap0,file=%s,format=raw' % secret_file]
            opts.append('password-secret=chap0')
        return run(['qemu-img', 'info'] + objects + ['--image-opts', ','.join(opts)],
                   check=False, timeout=timeout)
