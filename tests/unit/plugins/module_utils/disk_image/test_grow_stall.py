"""Which stalls of grow_root's appliance are started again (an fsck may be, a cut-off resize may not), and sizes a
guest's superblock leaves out."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import grow
from ansible_collections.virtops.compute.plugins.module_utils.disk_image.appliance_watch import ApplianceStalled

STALLED = ApplianceStalled("the libguestfs appliance for image '/i.qcow2' stopped answering during %s (no CPU time "
                           "and no disk I/O for 300 s) and was stopped.")


class _Handle:
    def __init__(self, stalls_in):
        self.stalls_in = stalls_in
        self.calls = []

    def __getattr__(self, name):
        def call(*_args, **_kwargs):
            self.calls.append(name)
            if name == self.stalls_in:
                raise ApplianceStalled(str(STALLED) % name)
        return call


def test_a_stalled_fsck_is_left_to_be_started_again():
    with pytest.raises(ApplianceStalled):
        grow._grow_filesystem(_Handle('e2fsck'), '/dev/sda1', 'ext4', '/i.qcow2')


@pytest.mark.parametrize('fstype,call', [('ext4', 'resize2fs'), ('xfs', 'xfs_growfs'),
                                         ('btrfs', 'btrfs_filesystem_resize')])
def test_a_stalled_resize_is_not_started_again_and_says_what_to_check(fstype, call):
    handle = _Handle(call)
    with pytest.raises(VirtopsError) as caught:
        grow._grow_filesystem(handle, '/dev/sda1', fstype, '/i.qcow2')
    assert not isinstance(caught.value, ApplianceStalled), 'a cut-off resize would be retried'
    assert str(caught.value) == (
        "the libguestfs appliance for image '/i.qcow2' stopped answering during %s (no CPU time and no disk I/O for "
        "300 s) and was stopped. The file system /dev/sda1 may be damaged by the interrupted resize: check it "
        "(e2fsck -f, xfs_repair or btrfs check) before the guest boots from image '/i.qcow2'." % call)


def test_a_superblock_without_sizes_fails_in_one_sentence(monkeypatch):
    class _Image:
        g = None

        def __init__(self, *_args, **_kwargs):
            handle = _Handle(None)
            handle.__dict__['tune2fs_l'] = lambda _device: {'Block size': '4096'}  # a guest wrote no block count
            handle.__dict__['vfs_type'] = lambda _device: 'ext4'
            handle.__dict__['list_devices'] = lambda: ['/dev/sda']
            self.g = handle

        def __enter__(self):
            return self

        def __exit__(self, *_exc):
            return False

        def mount_root(self):
            return '/dev/sda1'
    monkeypatch.setattr(grow, 'GuestImage', _Image)
    with pytest.raises(VirtopsError) as caught:
        grow.grow_root('/i.qcow2', 'qcow2', tcg=True)
    assert str(caught.value) == ("growing the root file system /dev/sda1 of image '/i.qcow2' failed: libguestfs "
                                 "reports no usable size for it (is its superblock damaged?).")
