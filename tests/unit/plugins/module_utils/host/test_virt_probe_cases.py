"""The usable-virt-type probe's verdicts for the three kinds of host, on a fake libvirt connection whose probe
guests behave as each kind's would: /dev/kvm absent (libvirt lists only qemu), kvm listed but unable to run a
guest (this project's lab machine: the guest never reaches long mode, or QEMU refuses to start), and kvm working.
The end-to-end tests prove the probe on the real host they run on; these cover the kinds that host is not."""
import re

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.compute.plugins.module_utils.host import virt_probe

BOOTS = virt_probe.REAL_MODE_MARKER + b'\r\n' + virt_probe.LONG_MODE_MARKER + b'\r\n'
HANGS_IN_REAL_MODE = virt_probe.REAL_MODE_MARKER + b'\r\n'
SILENT = b''
KERNEL_PANICS = b'[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n'


class _Stream:
    def __init__(self):
        self.pending = b''

    def recv(self, _size):
        out, self.pending = self.pending, b''
        return out or -2

    def abort(self):
        pass


class _Domain:
    def __init__(self, prints):
        self.prints, self.stream, self.destroyed = prints, None, False

    def openConsole(self, _dev, stream, _flags):  # noqa: N802 (libvirt's name)
        self.stream = stream

    def resume(self):
        # the guest prints after resume() answered: as in libvirt's client without an event loop, its output is
        # read from the connection only while a later call waits for its answer
        self.arriving = self.prints

    def isActive(self):  # noqa: N802 (libvirt's name)
        self.stream.pending += getattr(self, 'arriving', b'')
        self.arriving = b''
        return 1

    def destroy(self):
        self.destroyed = True


class _Volume:
    def path(self):
        return '/var/lib/libvirt/virtops-probe-x/boot.img'

    def delete(self, _flags):
        pass


class _Pool:
    def __init__(self, conn):
        self.conn = conn

    def build(self, _flags):
        pass

    def create(self, _flags):
        pass

    def createXML(self, _xml, _flags):  # noqa: N802
        return _Volume()

    def destroy(self):
        self.conn.pool_removed = True

    def delete(self, _flags):
        pass

    def undefine(self):
        pass


class _Conn:
    """``behaviour``: virt type -> what its probe guest prints, or an exception QEMU's start raises."""

    def __init__(self, behaviour):
        self.behaviour, self.domains, self.pool_removed = behaviour, [], False

    def storagePoolDefineXML(self, _xml, _flags):  # noqa: N802
        return _Pool(self)

    def newStream(self, _flags=0):  # noqa: N802
        return _Stream()

    def createXML(self, xml, _flags):  # noqa: N802
        virt_type = re.search(r'<domain type=.(\w+).', xml).group(1)
        outcome = self.behaviour[virt_type]
        if isinstance(outcome, dict):       # {'boot': what the boot sector prints, 'kernel': what the kernel prints}
            outcome = outcome['kernel' if '<kernel>' in xml else 'boot']
        if isinstance(outcome, Exception):
            raise outcome
        domain = _Domain(outcome)
        self.domains.append(domain)
        return domain


@pytest.fixture(autouse=True)
def no_upload(monkeypatch):
    monkeypatch.setattr(virt_probe, '_upload', lambda *_args: None)


def _probe(behaviour, timeout=0.5, kernel=''):
    conn = _Conn(behaviour)
    found = virt_probe.probe_virt_types(conn, list(behaviour), timeout=timeout, kernel=kernel)
    assert conn.pool_removed and all(domain.destroyed for domain in conn.domains), 'the probe left something behind'
    return found


def test_no_dev_kvm_libvirt_lists_only_qemu_and_qemu_is_usable():
    found = _probe({'qemu': BOOTS})
    assert list(found) == ['qemu'] and found['qemu']['usable'] is True


def test_kvm_listed_but_never_reaching_long_mode_is_not_usable():
    found = _probe({'qemu': BOOTS, 'kvm': HANGS_IN_REAL_MODE})
    assert found['qemu']['usable'] is True
    assert found['kvm']['usable'] is False and 'did not reach 64-bit long mode' in found['kvm']['reason']


def test_kvm_listed_but_silent_is_not_usable():
    found = _probe({'qemu': BOOTS, 'kvm': SILENT})
    assert found['kvm']['usable'] is False and 'printed nothing' in found['kvm']['reason']


def test_kvm_that_qemu_cannot_start_is_not_usable_and_says_why():
    refused = libvirt.libvirtError('internal error: process exited while connecting to monitor: '
                                   'failed to initialize kvm: Permission denied')
    found = _probe({'qemu': BOOTS, 'kvm': refused})
    assert found['kvm']['usable'] is False and 'failed to initialize kvm' in found['kvm']['reason']


def test_working_kvm_is_usable():
    found = _probe({'qemu': BOOTS, 'kvm': BOOTS})
    assert found['kvm']['usable'] is True and found['qemu']['usable'] is True


@pytest.fixture
def kernel(tmp_path):
    path = tmp_path / 'vmlinuz'
    path.write_bytes(b'not really a kernel')
    return str(path)


def test_kvm_that_runs_the_boot_sector_but_hangs_a_kernel_is_not_usable(kernel, monkeypatch):
    """This project's lab machine: the 512 bytes reach long mode under KVM, a Linux kernel never prints a line."""
    monkeypatch.setattr(virt_probe, 'kernel_timeout', lambda timeout: 0.5)
    found = _probe({'qemu': {'boot': BOOTS, 'kernel': KERNEL_PANICS}, 'kvm': {'boot': BOOTS, 'kernel': SILENT}},
                   kernel=kernel)
    assert found['qemu']['usable'] is True and kernel in found['qemu']['checked']
    assert found['kvm']['usable'] is False and 'Linux kernel' in found['kvm']['reason']


def test_working_kvm_boots_the_kernel_too(kernel, monkeypatch):
    monkeypatch.setattr(virt_probe, 'kernel_timeout', lambda timeout: 0.5)
    found = _probe({'qemu': {'boot': BOOTS, 'kernel': KERNEL_PANICS}, 'kvm': {'boot': BOOTS, 'kernel': KERNEL_PANICS}},
                   kernel=kernel)
    assert found['kvm']['usable'] is True and found['qemu']['usable'] is True


def test_without_a_kernel_the_boot_sector_decides():
    found = _probe({'qemu': BOOTS, 'kvm': BOOTS})
    assert found['kvm'] == dict(found['kvm'], usable=True, checked='boot sector')


def test_an_accelerator_slower_than_emulation_is_given_up_on_before_the_time_out(kernel, monkeypatch):
    """KVM still silent when emulation has long been done (this lab machine's KVM): not usable, and the probe does not
    wait out its time-out for it (here 300 s, which the unit tests' time limit would stop first)."""
    monkeypatch.setattr(virt_probe, 'ACCELERATOR_GRACE', 0.3)
    found = _probe({'qemu': {'boot': BOOTS, 'kernel': KERNEL_PANICS}, 'kvm': {'boot': BOOTS, 'kernel': SILENT}},
                   timeout=300, kernel=kernel)
    assert found['qemu']['usable'] is True
    assert found['kvm']['usable'] is False and 'slower than emulation' in found['kvm']['reason'], found['kvm']
    assert found['kvm']['seconds'] < 30, found['kvm']


def test_without_emulation_to_compare_with_the_time_out_decides(monkeypatch):
    monkeypatch.setattr(virt_probe, 'ACCELERATOR_GRACE', 0)
    found = _probe({'kvm': SILENT})
    assert found['kvm']['usable'] is False and 'printed nothing' in found['kvm']['reason']
