"""Config drive generation time for a typical drive, iso9660 and vfat, in-process.

"Typical": a 2 KiB cloud-config, one ssh key, one NIC with a static address, two injected
files; the layout for eight dated metadata versions plus latest, as the module writes it.
The floor is the same tree written by the external tools Nova uses, where they are installed
(genisoimage for iso9660; mkfs.vfat and mcopy for vfat), from files already on disk; None otherwise.
"""
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from ansible_collections.virtops.compute.plugins.module_utils.config_drive import image as config_drive_image
from ansible_collections.virtops.compute.plugins.module_utils.config_drive import layout as config_drive_layout

REPEATS = 15
TYPICAL = dict(
    name='web1', hostname='web1.example.org',
    public_keys={'ops': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheBenchmarkOnly0000000000000 ops@example'},
    admin_pass='bench-password', meta={'role': 'web', 'tier': 'frontend'},
    user_data='#cloud-config\n' + ''.join('# padding line %04d for a realistic size\n' % index for index in range(48)),
    network_data_from_nics=[dict(mac='52:54:00:00:00:01', address='192.0.2.10/24', gateway='192.0.2.1',
                                 dns=['192.0.2.1'])],
    files=[dict(path='/etc/motd', content='managed by virtops\n'), dict(path='/etc/app.conf', content='x=1\n' * 200)],
    availability_zone='nova', launch_index=0,
)


def _median_seconds(action, repeats=REPEATS):
    times = []
    for _attempt in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _tree():
    return config_drive_layout.tree(config_drive_layout.normalise(TYPICAL, 'bench'))


def _stage(files, root):
    for path, data in files.items():
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'wb') as handle:
            handle.write(data)


def _floor_iso(root, out):
    if not shutil.which('genisoimage'):
        return None
    command = ['genisoimage', '-quiet', '-o', out, '-ldots', '-allow-lowercase', '-allow-multidot', '-l',
               '-V', 'config-2', '-J', '-r', root]
    return _median_seconds(lambda: subprocess.run(command, check=True, capture_output=True), repeats=5)


def _floor_vfat(root, out):
    if not (shutil.which('mkfs.vfat') and shutil.which('mcopy')):
        return None

    def make():
        if os.path.exists(out):
            os.unlink(out)
        subprocess.run(['truncate', '-s', '2200K', out], check=True)
        subprocess.run(['mkfs.vfat', '-n', 'config-2', out], check=True, capture_output=True)
        subprocess.run(['mcopy', '-o', '-s', '-i', out] + [os.path.join(root, name) for name in sorted(os.listdir(root))]
                       + ['::/'], check=True, capture_output=True)
    return _median_seconds(make, repeats=5)


def run(log):
    """Rows for bench/run.py: generation of a typical drive, ours against the external tools where present."""
    files = _tree()
    rows = []
    work = tempfile.mkdtemp(prefix='bench-config-drive-')
    try:
        root = os.path.join(work, 'tree')
        _stage(files, root)
        floors = dict(iso9660=_floor_iso(root, os.path.join(work, 'floor.iso')),
                      vfat=_floor_vfat(root, os.path.join(work, 'floor.img')))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    layout_time = _median_seconds(_tree)
    for fmt in config_drive_image.FORMATS:
        ours = _median_seconds(lambda: config_drive_image.build(_tree(), fmt))
        size = len(config_drive_image.build(files, fmt))
        log('config drive, %s: %.1f ms (layout alone %.1f ms), %d KiB'
            % (fmt, ours * 1000, layout_time * 1000, size // 1024))
        floor = floors[fmt]
        rows.append(dict(workload='config drive generation, typical drive, %s (%d files)' % (fmt, len(files)),
                         ours=ours * 1000, theirs=None, floor=None if floor is None else floor * 1000, unit='ms'))
    return rows
