"""Module start-up imports only what a run needs.

AnsiballZ ships a module with every module_utils file it may import and compiles what the run imports, anew on
every run; so the code only some runs need (config drive writers, libguestfs, attachments and block jobs,
migration) is imported where it is used. This test imports each module as AnsiballZ would start it and fails when
one of them pulls in at start-up code its plain runs never use (bench/startup.py measures what that costs).
"""
import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PREFIX = 'ansible_collections.virtops.compute.plugins.module_utils.'
# module -> module_utils (and libraries) it must not import at start-up
NOT_AT_START = {
    'guests': ['config_drive.image', 'config_drive.vfat', 'config_drive.layout', 'config_drive.pool',
               'storage.attachments', 'storage.volumes', 'storage.images', 'libvirt.block_jobs', 'libvirt.streams',
               'disk_image.guestfs', 'disk_image.grow', 'disk_image.appliance_watch', 'migration.cold_move',
               'migration.live_job', 'pycdlib', 'guestfs'],
    'guest': ['config_drive.image', 'storage.attachments', 'libvirt.block_jobs', 'disk_image.guestfs',
              'disk_image.grow', 'migration.cold_move', 'migration.live_job', 'pycdlib', 'guestfs'],
    'guest_info': ['guest.converge', 'storage.attachments', 'config_drive.image', 'disk_image.guestfs',
                   'migration.live_job', 'pycdlib', 'guestfs'],
    'guest_action': ['guest.converge', 'guest.rebuild', 'config_drive.image', 'migration.cold_move',
                     'migration.control', 'migration.live_job', 'pycdlib', 'guestfs'],
}


def _imported_by(module):
    code = ('import json, sys; import ansible_collections.virtops.compute.plugins.modules.%s; '
            'print(json.dumps(sorted(sys.modules)))' % module)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO_ROOT, '.build', 'collections'))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=True)
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize('module', sorted(NOT_AT_START))
def test_module_start_up_imports_only_what_its_runs_need(module):
    loaded = _imported_by(module)
    assert PREFIX + 'common' in loaded, 'the check did not import the module'
    unwanted = [name for name in NOT_AT_START[module]
                if (PREFIX + name if '.' in name else name) in loaded]
    assert not unwanted, '%s imports %s at start-up; import it where it is used' % (module, unwanted)
