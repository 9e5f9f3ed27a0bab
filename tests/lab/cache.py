"""Directories built once and kept under a hash of their recipe: the guest images (lab.images), the fleet's
host root and its apt repository (lab.fleet.build).

CACHE/<name>-<digest>/ is taken only when it holds `.complete`; a build runs in a temporary directory beside
it, under an flock, so concurrent sessions build once and an interrupted build is never taken for a finished
one. Builds of an older recipe are removed once the new one is in place, unless the caller says why one stays.
"""
import fcntl
import glob
import os
import shutil
import tempfile
import time

COMPLETE = '.complete'


def is_complete(directory):
    return os.path.exists(os.path.join(directory, COMPLETE))


def mounts_below(path):
    """Mount points at or under `path` (deepest first), from this process's mount table."""
    path = os.path.realpath(path).rstrip('/') + '/'
    found = []
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            point = line.split()[4].replace('\\040', ' ')
            if (point.rstrip('/') + '/').startswith(path):
                found.append(point)
    return sorted(set(found), key=lambda p: -p.count('/'))


def used_by_a_mount(path):
    """Is `path` a layer of a mounted overlay (a running fleet host's root)?"""
    needle = os.path.realpath(path).rstrip('/')
    with open('/proc/self/mountinfo') as handle:
        return any(needle + ',' in line or needle + ':' in line or needle + ' ' in line
                   for line in handle if ' - overlay ' in line)


def remove_tree(path):
    """rmtree that first unmounts whatever a crashed build left mounted inside (never deleting through a mount)."""
    import subprocess
    for point in mounts_below(path):
        subprocess.run(['umount', '-l', point], capture_output=True, check=False)
    if mounts_below(path):
        raise RuntimeError('cannot remove %s: %s is still mounted' % (path, mounts_below(path)[0]))
    shutil.rmtree(path, ignore_errors=True)


def _mounted_overlay_layer(path):
    return 'a mounted overlay uses it' if used_by_a_mount(path) else None


def cached_build(cache, name, digest, build, log, before_build=None, keep_old=_mounted_overlay_layer):
    """CACHE/<name>-<digest>, made first with build(work_dir, log) when it is not complete. Returns its path.

    After a build, the builds of other recipes are removed unless ``keep_old(path)`` gives a reason to keep one."""
    directory = os.path.join(cache, '%s-%s' % (name, digest))
    if is_complete(directory):
        return directory
    os.makedirs(cache, mode=0o755, exist_ok=True)
    with open(os.path.join(cache, '.%s.lock' % name), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(directory):
            return directory
        # holding the lock, any work directory of this name is an interrupted build's
        for stale in glob.glob(os.path.join(cache, '.%s-build-*' % name)):
            log('%s: removing the interrupted build %s' % (name, os.path.basename(stale)))
            remove_tree(stale)
        if before_build:
            before_build(log)
        work = tempfile.mkdtemp(prefix='.%s-build-' % name, dir=cache)
        started = time.time()
        try:
            log('%s: building (recipe %s) in %s' % (name, digest, work))
            build(work, log)
            os.chmod(work, 0o755)
            open(os.path.join(work, COMPLETE), 'w').close()
            remove_tree(directory)
            os.rename(work, directory)
        except BaseException:
            remove_tree(work)
            raise
        for old in glob.glob(os.path.join(cache, name + '-*')):
            if old == directory:
                continue
            reason = keep_old(old)
            if reason:
                log('%s: keeping the outdated build %s: %s' % (name, os.path.basename(old), reason))
            else:
                log('%s: removing the outdated build %s' % (name, os.path.basename(old)))
                remove_tree(old)
        log('%s: built in %.0f s at %s' % (name, time.time() - started, directory))
    return directory
