"""The two things the fleet builds once and caches (lab.cache) under a hash of their recipe:

root  a Debian 12 root made with mmdebstrap: systemd, dbus, sshd, Python with python3-apt (what Ansible
      needs), iproute2; every host boots an overlay of it (recipes/root-customize.sh says what is changed).
repo  a flat apt repository of the hypervisor packages the compute_host role installs on Debian
      (roles/compute_host/vars/Debian.yml) with every dependency the root lacks: apt resolves them inside an
      overlay of the root itself, so it holds exactly what a bare host needs.

The mirror is this machine's own apt source file; no registry address is written anywhere.
"""
import glob
import hashlib
import inspect
import os
import shutil
import subprocess

import yaml

from lab import cache
from lab.fleet import layout
from lab.proc import LabError, run, say

MIRROR = '/etc/apt/sources.list.d/debian.sources'
SUITE = 'bookworm'
RECIPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recipes')
ROOT_CUSTOMIZE = os.path.join(RECIPES, 'root-customize.sh')
ROLE_PACKAGE_VARS = os.path.join(layout.REPO_ROOT, 'roles', 'compute_host', 'vars', 'Debian.yml')
# a bare host: systemd as init, D-Bus, sshd, Python for Ansible (python3-apt for its apt module), iproute2
ROOT_PACKAGES = ('systemd-sysv', 'dbus', 'openssh-server', 'python3', 'python3-apt', 'iproute2', 'netbase',
                 'procps')
REPO_URL = 'http://%s:%d/' % (layout.GATEWAY, layout.REPO_PORT)
HOST_TOOLS = {'mmdebstrap': 'mmdebstrap', 'apt-ftparchive': 'apt-utils', 'systemd-nspawn': 'systemd-container'}


def _digest(*parts):
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode() + b'\0')
    return digest.hexdigest()[:12]


def _read(path):
    with open(path) as handle:
        return handle.read()


def repo_packages():
    """The role's Debian hypervisor packages and the Python bindings its modules import."""
    with open(ROLE_PACKAGE_VARS) as handle:
        role_vars = yaml.safe_load(handle)
    return tuple(role_vars['__compute_host_packages'] + role_vars['__compute_host_python_packages'])


def root_digest():
    return _digest(ROOT_PACKAGES, SUITE, MIRROR, REPO_URL, _read(ROOT_CUSTOMIZE), inspect.getsource(build_root))


def repo_digest():
    return _digest(root_digest(), repo_packages(), inspect.getsource(build_repo), inspect.getsource(_index))


def check_host_tools(_log=say):
    missing = sorted(pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None)
    if missing:
        raise LabError('the fleet needs the Debian packages %s on this machine: run `make setup` '
                       '(scripts/debian-packages.txt lists them)' % ', '.join(missing))


def build_root(work, log):
    rootfs = os.path.join(work, 'rootfs')
    log('fleet root: mmdebstrap %s with %s' % (SUITE, ', '.join(ROOT_PACKAGES)))
    run(['mmdebstrap', '--variant=apt', '--include=' + ','.join(ROOT_PACKAGES),
         '--customize-hook=sh %s "$1" %s' % (ROOT_CUSTOMIZE, REPO_URL), SUITE, rootfs, MIRROR], timeout=1800)


def ensure_root(log=say):
    """The cached root's directory (the overlays' lower layer)."""
    directory = cache.cached_build(layout.CACHE, 'fleet-root', root_digest(), build_root, log,
                                   before_build=check_host_tools)
    return os.path.join(directory, 'rootfs')


def build_repo(work, log):
    """apt-get --download-only inside a throwaway overlay of the root, pointed at this machine's mirror."""
    rootfs = ensure_root(log)
    scratch = os.path.join(work, '.chroot')
    upper, overlay_work, merged = (os.path.join(scratch, d) for d in ('upper', 'work', 'merged'))
    for directory in (upper, overlay_work, merged):
        os.makedirs(directory)
    run(['mount', '-t', 'overlay', 'fleet-repo-build', '-o',
         'lowerdir=%s,upperdir=%s,workdir=%s' % (rootfs, upper, overlay_work), merged])
    try:
        for source in glob.glob(os.path.join(merged, 'etc/apt/sources.list.d/*')):
            os.unlink(source)
        shutil.copy(MIRROR, os.path.join(merged, 'etc/apt/sources.list.d/debian.sources'))
        shutil.copy('/etc/resolv.conf', os.path.join(merged, 'etc/resolv.conf'))
        packages = repo_packages()
        log('fleet repo: resolving and downloading %s and what they need' % ', '.join(packages))
        run(['chroot', merged, 'apt-get', 'update', '-q'], timeout=600)
        run(['chroot', merged, 'apt-get', 'install', '-y', '-q', '--download-only', '--no-install-recommends']
            + list(packages), timeout=1800, env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
        debs = glob.glob(os.path.join(merged, 'var/cache/apt/archives/*.deb'))
        if not debs:
            raise LabError('apt downloaded no package for the fleet repository')
        for deb in debs:
            shutil.move(deb, work)
    finally:
        run(['umount', merged], check=False)
    shutil.rmtree(scratch)
    _index(work)
    log('fleet repo: %d packages' % len(glob.glob(os.path.join(work, '*.deb'))))


def _index(work):
    """Packages, Packages.gz and Release of a flat repository (`Suites: ./`)."""
    # run in the repository so that each Filename is relative to it
    with open(os.path.join(work, 'Packages'), 'w') as handle:
        subprocess.run(['apt-ftparchive', 'packages', '.'], cwd=work, stdout=handle, check=True, timeout=300)
    subprocess.run(['gzip', '-9', '-k', '-f', 'Packages'], cwd=work, check=True, timeout=300)
    release = subprocess.run(['apt-ftparchive', 'release', '.'], cwd=work, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    with open(os.path.join(work, 'Release'), 'w') as handle:
        handle.write(release)
    for path in glob.glob(os.path.join(work, '*')):
        os.chmod(path, 0o644)


def ensure_repo(log=say):
    """The cached repository's directory (what the HTTP server serves)."""
    return cache.cached_build(layout.CACHE, 'fleet-repo', repo_digest(), build_repo, log,
                              before_build=check_host_tools)
