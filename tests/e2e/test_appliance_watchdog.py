"""A libguestfs appliance that stops answering is stopped, and the call fails in one sentence (appliance_watch).

A real appliance (libguestfs's direct backend, QEMU under TCG) is kept waiting by its own ``sleep`` call, which is
what a stuck appliance looks like from outside: no CPU time, no disk bytes. The same appliance first answers
ordinary calls (the positive control), so the stall is the watchdog's doing, not a dead appliance."""
import os

import pytest

from ansible_collections.virtops.compute.plugins.module_utils.disk_image import appliance_watch
from ansible_collections.virtops.compute.plugins.module_utils.disk_image import guestfs as guestfs_ops
from lab.checks import assert_one_sentence

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
STALL_SECONDS = 30


def _log(msg):
    print('[test_appliance_watchdog] %s' % msg, flush=True)


def test_a_stuck_appliance_is_stopped_and_the_call_fails_in_one_sentence(tmp_path):
    image_path = str(tmp_path / 'blank.raw')
    with open(image_path, 'wb') as handle:
        handle.truncate(64 * MIB)
    image = guestfs_ops.GuestImage(image_path, 'raw', readonly=True, tcg=True, log=_log, stall_seconds=STALL_SECONDS)
    with image:
        pid = image._watchdog.pid
        assert pid and appliance_watch.process_progress(pid) is not None, 'no appliance QEMU to watch'
        # positive control: the appliance answers, and a short wait inside it is not taken for a stall
        assert image.g.blockdev_getsize64('/dev/sda') == 64 * MIB
        image.g.sleep(2)
        assert image._watchdog.fired is None
        with pytest.raises(appliance_watch.ApplianceStalled) as caught:
            image.g.sleep(600)  # returns normally (after 10 minutes) unless the watchdog stops the appliance
        message = str(caught.value)
        _log(message)
        assert_one_sentence(message)
        assert message == ("the libguestfs appliance for image '%s' stopped answering during sleep (no CPU time "
                           "and no disk I/O for %d s) and was stopped." % (image_path, STALL_SECONDS))
        assert appliance_watch.process_progress(pid) is None, 'the appliance QEMU still runs'
        with pytest.raises(appliance_watch.ApplianceStalled):
            image.g.blockdev_getsize64('/dev/sda')
    assert image.g is None
    assert not os.path.exists('/proc/%d' % pid) or appliance_watch.process_progress(pid) is None
    assert pid not in appliance_watch.qemu_children(), 'the stopped appliance was left behind'
