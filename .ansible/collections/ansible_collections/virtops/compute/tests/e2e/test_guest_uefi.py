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


def test_uefi_on_a_host_without_ovmf_is_refused(host_without_uefi, tiny_image):
    import libvirt

    from lab.checks import assert_one_sentence, libvirt_snapshot
    conn = libvirt.open(host_without_uefi.uri)
    try:
        before = libvirt_snapshot(conn)
        result = run_module('guest', name=NAME + '-nofw', uri=host_without_uefi.uri, virt_type='qemu', memory_mb=128,
                            firmware='uefi', kernel=tiny_image.kernel, initrd=tiny_image.initrd)
        assert result.failed
        assert_one_sentence(result.msg, NAME + '-nofw', 'OVMF')
        assert libvirt_snapshot(conn) == before
        # the same host boots a BIOS guest: it is the firmware that is missing, nothing else
        assert not run_module('guest', name=NAME + '-nofw', uri=host_without_uefi.uri, virt_type='qemu', memory_mb=128,
                              state='stopped', kernel=tiny_image.kernel, initrd=tiny_image.initrd).failed
        run_module('guest', name=NAME + '-nofw', uri=host_without_uefi.uri, state='absent')
    finally:
        conn.close()
