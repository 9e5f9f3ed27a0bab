# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A disk's I/O limits (QoS), as ``guest`` (``disk_qos``, the root disk) and ``volume_attachment`` (``qos``) take them.

The keys are libvirt's ``<iotune>`` elements of the same names; their documentation is the
``virtops.compute.disk_qos`` doc fragment.
"""


QOS_KEYS = ('total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec', 'total_iops_sec', 'read_iops_sec', 'write_iops_sec')

# the option's argument spec: a dictionary of whole numbers, one per key (omitted: no limit)
QOS_OPTION = dict(type='dict', options=dict((key, dict(type='int')) for key in QOS_KEYS))
