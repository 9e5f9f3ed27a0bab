"""community.libvirt, the collection we compare with, installed for the benchmark only.

Galaxy is not reachable from every machine, but the `ansible` package on PyPI carries
community.libvirt; its wheel is downloaded once into the lab cache and only that
collection is unpacked under .build/bench-collections.
"""
import glob
import os
import subprocess
import sys
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = '/var/cache/virtops-lab/bench'
ANSIBLE_PACKAGE = 'ansible==12.3.0'      # ships community.libvirt for ansible-core 2.19
COLLECTIONS = os.path.join(REPO_ROOT, '.build', 'bench-collections')
PREFIX = 'ansible_collections/community/libvirt/'


def ensure_community_libvirt(log):
    target = os.path.join(COLLECTIONS, PREFIX)
    manifest = os.path.join(target, 'MANIFEST.json')
    if os.path.exists(manifest):
        log('community.libvirt already unpacked in %s' % COLLECTIONS)
        return COLLECTIONS
    os.makedirs(CACHE, exist_ok=True)
    wheels = glob.glob(os.path.join(CACHE, 'ansible-*.whl'))
    if not wheels:
        log('downloading %s (for its community.libvirt) into %s ...' % (ANSIBLE_PACKAGE, CACHE))
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '-q', '-d', CACHE, ANSIBLE_PACKAGE],
                       check=True)
        wheels = glob.glob(os.path.join(CACHE, 'ansible-*.whl'))
    log('unpacking community.libvirt from %s' % os.path.basename(wheels[0]))
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = [name for name in wheel.namelist() if name.startswith(PREFIX)]
        wheel.extractall(COLLECTIONS, members)
    return COLLECTIONS


def version():
    import json
    with open(os.path.join(COLLECTIONS, PREFIX, 'MANIFEST.json')) as handle:
        return json.load(handle)['collection_info']['version']
