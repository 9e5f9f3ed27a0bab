# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block copy jobs on a running guest's disk: start, wait until the mirror is ready, then pivot or cut.

A volume swap and a live snapshot are the same job with a different ending: the swap pivots the
guest onto the copy, the snapshot cancels the mirror and keeps the copy as a consistent image.
"Ready" is decided one way for both: libvirt marks the mirror ``ready='yes'`` in the live
definition once QEMU reports that source and copy are in step; ``cur == end`` alone is not
enough (QEMU may still be settling the last writes).
"""

import time

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.libvirt.live_devices import libvirt_reason
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain
from ansible_collections.virtops.compute.plugins.module_utils.model.units import MIB

POLL_SECONDS = 0.2


class BlockCopy:
    """One copy job of ``target`` on ``dom``; ``where`` starts every error sentence."""

    def __init__(self, dom, target, where, log=None, what='copy'):
        self.dom, self.target, self.where = dom, target, where
        self.log = log or (lambda _msg: None)
        self.what = what

    def start(self, destination_xml, flags, describe_failure):
        """Start the copy into the disk described by ``destination_xml``; a refusal is one sentence."""
        try:
            self.dom.blockCopy(self.target, destination_xml, {}, flags)
        except libvirt.libvirtError as err:
            raise VirtopsError('%s: %s: %s.' % (self.where, describe_failure, libvirt_reason(err))) from None

    def wait_ready(self, timeout, why_stopped=lambda: ''):
        """Wait until the mirror is ready; the bytes copied.  Raises when the job ends early or on the timeout."""
        deadline = time.monotonic() + timeout
        reported = -1
        while time.monotonic() < deadline:
            job = self.dom.blockJobInfo(self.target, 0)
            if not job:
                raise VirtopsError('%s: the %s of %s stopped before it finished%s.'
                                   % (self.where, self.what, self.target, why_stopped()))
            done = int(100 * job['cur'] / job['end']) if job.get('end') else 0
            if done // 10 != reported // 10:
                self.log('%s: %s %d%% (%d of %d MiB)' % (self.where, self.what, done, job['cur'] // MIB,
                                                         job['end'] // MIB))
                reported = done
            if self._mirror_ready():
                return job.get('end') or job['cur']
            time.sleep(POLL_SECONDS)
        raise VirtopsError('%s: the %s of %s did not catch up within %d s; it was cancelled.'
                           % (self.where, self.what, self.target, timeout))

    def _mirror_ready(self):
        disk = Domain.from_xml(self.dom.XMLDesc(0)).find_disk(self.target)
        return disk is not None and disk.get_attr('mirror', 'ready') == 'yes'

    def pivot(self):
        """Switch the guest onto the copy (the job ends)."""
        self.dom.blockJobAbort(self.target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)

    def cut(self):
        """End the mirror, keeping the copy as it is now (the guest stays on its disk)."""
        self.dom.blockJobAbort(self.target, 0)

    def cancel(self):
        """End the job after a failure; never raises (the job may already be gone)."""
        try:
            self.dom.blockJobAbort(self.target, 0)
        except libvirt.libvirtError:
            pass
