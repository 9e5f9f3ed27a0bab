"""UEFI: a guest boots through OVMF and its NVRAM goes with it."""
import os

from lab.console import wait_for_log
from lab.runner import run_module

NAME = 'lab-uefi'


def test_uefi_guest_boots_and_nvram_is_removed(libvirt_conn, tiny_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=256, firmware='uefi', kernel=tiny_image.kernel,
                  initrd=tiny_image.initrd, cmdline=tiny_image.cmdline)
    run_module('guest', name=NAME, state='absent')
    try:
        result = run_module('guest', **params)
        assert not result.failed, result.msg
        assert result['guest']['firmware'] == 'uefi'
        xml = libvirt_conn.lookupByName(NAME).XMLDesc(0)
        assert 'OVMF' in xml and '<nvram' in xml, xml
        nvram = xml.split('<nvram', 1)[1].split('>', 1)[1].split('<', 1)[0]
        assert os.path.exists(nvram)
        wait_for_log(result['guest']['consoles']['serial_log'], tiny_image.marker, timeout=120)
        assert not run_module('guest', **params).changed
        gone = run_module('guest', name=NAME, state='absent')
        assert gone.changed and not os.path.exists(nvram), 'NVRAM left behind'
    finally:
        run_module('guest', name=NAME, state='absent')
