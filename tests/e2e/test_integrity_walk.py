"""Data integrity walk: random data written inside one tiny guest onto its data disk reads back with the same
checksum after pause/resume, suspend (managed save)/resume, a reboot, a live migration to lab-host1 and back, a
swap of the disk's source and a snapshot booted as a new guest. Every step goes through the collection's modules.

The guest is driven through its guest agent, not a TCP serial console: during a migration between two hosts on
127.0.0.1 the source and the destination QEMU would both have to bind the console's port. Disks and boot files
live under the lab's shared directory, which every lab host sees (shared storage for the migration)."""
import os
import re
import shutil
import time

import libvirt
import pytest

from lab import guests, tally
from lab.runner import run_module
from test_migrate import MIGRATION_URI, agent_sh, find, uptime, wait_agent

NAME = 'lab-ri-walk'
COPY = 'lab-ri-walk-copy'
WORK = os.path.join(guests.SHARED_DIR, 'ri-walk')
POOL = 'lab-ri-walk'
POOL_DIR = os.path.join(WORK, 'pool')
SERIAL = 'ri-data'
MIB = 4
AGENT_WAIT = 240     # the agent reconnects after each step; on a loaded 2-core machine that can take minutes


def _sha(conn, name, serial=SERIAL):
    """sha256 of the first MIB MiB of the disk with ``serial``, read past the guest's page cache."""
    out = agent_sh(conn, name, 'for s in /sys/block/*/serial; do grep -qx %s $s && d=${s%%/serial}; done; '
                               'dd if=/dev/${d##*/} bs=64k count=%d iflag=direct 2>/dev/null | sha256sum'
                   % (serial, MIB * 16))
    match = re.search(r'\b([0-9a-f]{64})\b', out)
    assert match, 'no checksum from %s: %r' % (name, out)
    return match.group(1)


def _ok(result, what):
    assert not result.failed, '%s: %s' % (what, result.msg)
    return result


def _cleanup(conns):
    for conn in conns:
        for name in (NAME, COPY):
            guests.remove_guest(conn, name)
    guests.remove_pool(conns[0], POOL)
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture(scope='module')
def walk(libvirt_conn, tiny_image, lab_host1, main_tcp_uri):
    remote = libvirt.open(lab_host1.uri)
    _cleanup((libvirt_conn, remote))
    os.makedirs(os.path.join(WORK, 'boot'), mode=0o755)
    os.chmod(WORK, 0o755)
    base = guests.blank_image(os.path.join(WORK, 'base.qcow2'))
    boot = guests.readable_boot_files(tiny_image, os.path.join(WORK, 'boot'))
    _ok(run_module('storage_pool', name=POOL, type='dir', path=POOL_DIR), 'storage_pool')
    params = dict(name=NAME, virt_type='qemu', memory_mb=160, cmdline=tiny_image.cmdline, image=base,
                  storage_pool=POOL, guest_agent=True, shutdown_timeout=10, **boot)
    yield params, remote, main_tcp_uri, lab_host1
    _cleanup((libvirt_conn, remote))
    remote.close()


def test_checksum_survives_the_walk(walk, libvirt_conn):
    params, remote, main_tcp_uri, host1 = walk
    main = libvirt_conn
    _ok(run_module('guest', **params), 'launch')
    _ok(run_module('volume', pool=POOL, name='data.qcow2', size_gb=1, format='qcow2'), 'volume')
    data = dict(guest=NAME, target='vdb', volume=dict(pool=POOL, name='data.qcow2'), serial=SERIAL)
    _ok(run_module('volume_attachment', **data), 'attach')
    started = time.monotonic()
    wait_agent(main, NAME, AGENT_WAIT)
    agent_sh(main, NAME, 'for s in /sys/block/*/serial; do grep -qx %s $s && d=${s%%/serial}; done; '
                         'dd if=/dev/urandom of=/dev/${d##*/} bs=64k count=%d conv=fsync 2>/dev/null'
             % (SERIAL, MIB * 16))
    digest = _sha(main, NAME)
    assert digest != _sha(main, NAME, serial='nothing-here'), 'the checksum does not depend on the data'
    steps = []

    def verify(step, conn=main):
        wait_agent(conn, NAME, AGENT_WAIT)
        assert _sha(conn, NAME) == digest, 'the data changed after %s' % step
        steps.append(step)
        print('%s: checksum unchanged after %.0f s' % (step, time.monotonic() - started))

    _ok(run_module('guest', **dict(params, state='paused')), 'pause')
    assert main.lookupByName(NAME).state()[0] == libvirt.VIR_DOMAIN_PAUSED
    _ok(run_module('guest', **params), 'resume')
    verify('pause/resume')

    _ok(run_module('guest', **dict(params, state='suspended')), 'suspend')
    assert main.lookupByName(NAME).hasManagedSaveImage(0) and not main.lookupByName(NAME).isActive()
    _ok(run_module('guest', **params), 'resume from managed save')
    verify('suspend/resume')

    before_reboot = time.monotonic()
    _ok(run_module('guest_action', name=NAME, action='reboot', reboot_type='hard'), 'reboot')
    up = uptime(main, NAME, AGENT_WAIT)
    # a guest that kept running would count its uptime from its first boot, before this step began
    assert up < time.monotonic() - before_reboot, 'the guest did not reboot (uptime %ss)' % up
    verify('reboot')

    moved = _ok(run_module('migrate', guest=NAME, dest_uri=host1.uri, migration_uri=MIGRATION_URI,
                           allow_unsafe=True), 'migrate to lab-host1')
    assert moved.changed and find(main, NAME) is None and find(remote, NAME).isActive()
    verify('live migration to lab-host1', remote)
    back = _ok(run_module('migrate', uri=host1.uri, guest=NAME, dest_uri=main_tcp_uri, migration_uri=MIGRATION_URI,
                          allow_unsafe=True), 'migrate back')
    assert back.changed and find(remote, NAME) is None and main.lookupByName(NAME).isActive()
    verify('live migration back')

    _ok(run_module('volume', pool=POOL, name='data-new.qcow2', size_gb=1, format='qcow2'), 'swap volume')
    swapped = _ok(run_module('volume_attachment', swap=True, **(data | {'volume': dict(pool=POOL, name='data-new.qcow2')})),
                  'swap')
    assert swapped.changed and swapped['attachment']['source'].endswith('data-new.qcow2')
    agent_sh(main, NAME, 'echo 3 > /proc/sys/vm/drop_caches')
    verify('volume swap')

    dest = os.path.join(WORK, 'snap.qcow2')
    snap = _ok(run_module('snapshot', guest=NAME, dest=dest, disk='vdb'), 'snapshot')
    assert snap.changed and os.path.exists(dest)
    _ok(run_module('guest', **dict(params, name=COPY, image=dest)), 'boot the snapshot')
    wait_agent(main, COPY, AGENT_WAIT)
    # the snapshot is the new guest's root disk (serial-less vda)
    out = agent_sh(main, COPY, 'dd if=/dev/vda bs=64k count=%d iflag=direct 2>/dev/null | sha256sum' % (MIB * 16))
    assert digest in out, 'the guest booted from the snapshot reads other data: %r' % out
    steps.append('snapshot booted as a new guest')
    for step in steps:
        tally.case('integrity steps checked', step)
