"""The guest module's config_drive option: an ISO reaches the guest as a CD-ROM, and can be taken away again."""
import io
import os

import pycdlib

from lab.console import serial_shell, wait_for_log
from lab.checks import assert_one_sentence
from lab.runner import run_module

NAME = 'lab-cfgdrive'
SERIAL_PORT = 4566


def _iso(path, text):
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge='1.09', vol_ident='config-2')
    data = text.encode()
    iso.add_fp(io.BytesIO(data), len(data), '/HELLO.TXT;1', rr_name='hello.txt', joliet_path='/hello.txt')
    iso.write(path)
    iso.close()


DRIVE_DIR = '/var/lib/virtops-lab/shared/config-drives'


def test_config_drive_is_attached_read_only_and_removable(libvirt_conn, tiny_image):
    os.makedirs(DRIVE_DIR, exist_ok=True)
    drive = os.path.join(DRIVE_DIR, NAME + '.iso')
    _iso(drive, 'from the config drive\n')
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                  cmdline=tiny_image.cmdline, serial_console=dict(type='tcp', port=SERIAL_PORT), config_drive=drive,
                  shutdown_timeout=20)
    run_module('guest', name=NAME, state='absent')
    try:
        result = run_module('guest', **params)
        assert not result.failed, result.msg
        wait_for_log(result['guest']['consoles']['serial_log'], 'config drive /dev/sr0 mounted', timeout=120)
        assert 'from the config drive' in serial_shell(SERIAL_PORT, 'cat /mnt/config/hello.txt')
        assert not run_module('guest', **params).changed
        refused = run_module('guest', **(params | {'config_drive': ''}))
        assert refused.failed
        assert_one_sentence(refused.msg, NAME, 'config_drive', 'allow_restart')
        removed = run_module('guest', **(params | {'config_drive': '', 'allow_restart': True}))
        assert not removed.failed and removed.changed, removed.msg
        assert drive not in libvirt_conn.lookupByName(NAME).XMLDesc(0)
        assert not run_module('guest', **(params | {'config_drive': ''})).changed
        missing = run_module('guest', **(params | {'config_drive': '/nonexistent/drive.iso', 'allow_restart': True}))
        assert missing.failed
        assert_one_sentence(missing.msg, NAME, '/nonexistent/drive.iso')
    finally:
        run_module('guest', name=NAME, state='absent')
