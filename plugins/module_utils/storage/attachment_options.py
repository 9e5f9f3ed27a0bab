# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``volume_attachment`` module's options, which the ``guests`` module takes per item too (``volumes[]``).

Kept apart from the attachment code (``attachments.py``), so that a module run that only validates them (a
``guests`` run whose items attach nothing) does not import it.
"""


import re

from ansible_collections.virtops.compute.plugins.module_utils.storage.disk_qos import QOS_OPTION

# a disk's device name as the guest sees it
TARGET_PATTERN = re.compile(r'^(vd|sd|hd|xvd)[a-z]{1,2}$')

# every option but ``guest``, which the module adds and a guests item does not need
ATTACHMENT_OPTIONS = dict(
    target=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    volume=dict(type='dict', options=dict(pool=dict(type='str', required=True), name=dict(type='str', required=True))),
    path=dict(type='path'),
    format=dict(type='str', choices=['raw', 'qcow2']),
    block=dict(type='path'),
    iscsi=dict(type='dict', options=dict(
        portal=dict(type='str', required=True), iqn=dict(type='str', required=True), lun=dict(type='int', default=0),
        chap_username=dict(type='str'), chap_password=dict(type='str', no_log=True),
        chap_secret=dict(type='str', no_log=False))),
    fibre_channel=dict(type='dict', options=dict(target_wwn=dict(type='str', required=True),
                                                 lun=dict(type='int', required=True))),
    bus=dict(type='str', default='virtio', choices=['virtio', 'scsi', 'sata', 'usb']),
    serial=dict(type='str'),
    readonly=dict(type='bool', default=False),
    error_policy=dict(type='str', choices=['stop', 'report', 'ignore', 'enospace']),
    qos=QOS_OPTION,
    size_gb=dict(type='int'),
    swap=dict(type='bool', default=False),
    swap_timeout=dict(type='int', default=3600),
)
