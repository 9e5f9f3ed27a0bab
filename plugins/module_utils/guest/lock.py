# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One change of a guest at a time.

Two runs that change the same guest at the same moment (two playbooks, an AWX job beside a hand-run one, a reboot
beside a converge) would interleave their shutdowns, definitions and starts: one run's roll-back could stop the
guest the other had just started, and leave it off. ``GuestLock`` makes the later run wait for the earlier one,
through an exclusive lock on a file named after the host (its libvirt host UUID, whatever URI reached it) and the
guest, on the machine where the module runs. The collection's roles run the modules on the hypervisor host, so
every run against a host meets there; runs on two controllers against one host's remote URI are not serialized by
it."""


import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest.progress import Ticker
from ansible_collections.virtops.compute.plugins.module_utils.model.capabilities import Capabilities

# long enough for another run's shutdown, restart and boot wait
WAIT_SECONDS = 900
POLL_SECONDS = 0.5


def lock_dir():
    """Where the lock files live: under /run for root (gone at boot, like the runs they guard), else a private
    directory in the temporary directory."""
    if os.geteuid() == 0 and os.path.isdir('/run'):
        return '/run/virtops-compute/guest-locks'
    # one level, so that the directory checked is the one that holds the files (no parent another user could own)
    return os.path.join(tempfile.gettempdir(), 'virtops-compute-%d-guest-locks' % os.geteuid())


def _private_dir(path):
    """``path``, made 0700 if missing, and refused unless it is a real directory of ours that no one else can write
    (a shared /tmp must not let another user plant the lock files)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise VirtopsError('the guest lock directory %s is not a private directory of this user; remove it or fix '
                           'its owner and mode (0700).' % path)
    return path


def host_uuid(conn):
    """The libvirt host UUID of the host behind ``conn``: what names its guests' lock files, whatever URI reached
    it."""
    return Capabilities.from_xml(conn.getCapabilities()).host_uuid


class GuestLock:
    """``with GuestLock(where, host_uuid, name, log):`` holds the guest's lock, waiting up to ``wait`` seconds (with
    a line in ``log`` every few seconds) for a run that holds it."""

    def __init__(self, where, host_uuid, name, log, wait=WAIT_SECONDS, directory=None, clock=time.monotonic,
                 sleep=time.sleep):
        self.where = where
        key = hashlib.sha256(('%s/%s' % (host_uuid, name)).encode('utf-8')).hexdigest()[:32]
        self.path = os.path.join(_private_dir(directory or lock_dir()), key + '.lock')
        self.log = log
        self.wait = wait
        self.clock = clock
        self.sleep = sleep
        self.fd = None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        ticker = Ticker(self.log, '%s: waiting for another run that is changing it' % self.where,
                        'the wait for it', self.wait, clock=self.clock)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if self.clock() - ticker.started >= self.wait:
                os.close(fd)
                raise VirtopsError('%s: another run has been changing it on this host for %d s, so this run did '
                                   'not touch it; run again once that one has finished.' % (self.where, self.wait))
            ticker.tick()
            self.sleep(POLL_SECONDS)
        self.fd = fd
        return self

    def __exit__(self, *exc):
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)       # closing the file releases the lock
        return False
