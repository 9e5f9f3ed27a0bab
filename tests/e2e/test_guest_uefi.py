"""UEFI: guests boot through OVMF (the guest's kernel sees EFI firmware, which a BIOS guest's does not), the full
image boots from its own disk through its own EFI boot loader, and the NVRAM goes with the guest."""
import os

import pytest

from lab import agent
from lab.console import wait_for_log
from lab.runner import run_module

NAME = 'lab-uefi'
BIOS = 'lab-uefi-bios'
FULL = 'lab-uefi-full'
# inside the guest: the firmware's word size, which only EFI firmware publishes (64 for OVMF on x86_64)
EFI_CHECK = 'cat /sys/firmware/efi/fw_platform_size 2>/dev/null || echo no-efi'


def _firmware_seen_inside(dom):
    agent.wait_for_agent(dom)
    return agent.sh(dom, EFI_CHECK).strip()


def test_uefi_guest_boots_and_nvram_is_removed(libvirt_conn, tiny_image):
    params = dict(name=NAME, virt_type='qemu', memory_mb=256, firmware='uefi', kernel=tiny_image.kernel,
                  initrd=tiny_image.initrd, cmdline=tiny_image.cmdline, guest_agent=True)
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
        assert _firmware_seen_inside(libvirt_conn.lookupByName(NAME)) == '64', 'the guest kernel sees no EFI firmware'
        assert not run_module('guest', **params).changed
        gone = run_module('guest', name=NAME, state='absent')
        assert gone.changed and not os.path.exists(nvram), 'NVRAM left behind'
        # the control: the same guest with BIOS firmware sees none
        bios = run_module('guest', **(params | dict(name=BIOS, firmware='bios')))
        assert not bios.failed and bios['guest']['firmware'] == 'bios', bios.msg
        assert _firmware_seen_inside(libvirt_conn.lookupByName(BIOS)) == 'no-efi', 'a BIOS guest sees EFI firmware'
    finally:
        for name in (NAME, BIOS):
            run_module('guest', name=name, state='absent')


@pytest.mark.slow
def test_full_image_boots_through_ovmf_and_its_own_efi_boot_loader(libvirt_conn, full_image):
    """No kernel given to libvirt: OVMF finds the disk's EFI system partition, starts systemd-boot from it, and
    systemd-boot starts the image's kernel with the root file system on partition 2."""
    params = dict(name=FULL, virt_type='qemu', memory_mb=512, firmware='uefi', image=full_image.uefi_disk,
                  guest_agent=True, shutdown_timeout=60)
    run_module('guest', name=FULL, state='absent')
    try:
        result = run_module('guest', **params)
        assert not result.failed, result.msg
        xml = libvirt_conn.lookupByName(FULL).XMLDesc(0)
        assert '<kernel>' not in xml and 'OVMF' in xml, xml
        wait_for_log(result['guest']['consoles']['serial_log'], full_image.marker, timeout=600)
        dom = libvirt_conn.lookupByName(FULL)
        assert _firmware_seen_inside(dom) == '64', 'the full guest sees no EFI firmware'
        booted = agent.sh(dom, 'cat /proc/cmdline; findmnt -n -o SOURCE /; ls /sys/firmware/efi/efivars | wc -l')
        cmdline, root, variables = booted.strip().splitlines()
        assert 'root=LABEL=root' in cmdline, 'not the loader entry of the image: %s' % cmdline
        assert root == '/dev/vda2', 'the root file system is not the disk\'s second partition: %s' % root
        assert int(variables) > 0, 'the firmware offers no EFI variables'
        assert not run_module('guest', **params).changed
    finally:
        run_module('guest', name=FULL, state='absent')


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
