# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """A disk's I/O limits: the guest's root disk (disk_qos) and an attached disk (qos).

    Two options of different names take the same limits, and a doc fragment can only hold literal text, so the
    limits are written twice here, side by side; tests/unit/test_plugin_docs.py checks that both list the same
    keys as module_utils/storage/disk_qos.py, which holds their argument spec.
    """

    ROOT_DISK = r'''
options:
  disk_qos:
    description:
      - I/O limits of the root disk; a change on a running guest is applied live. Omitted keys mean no limit.
    type: dict
    suboptions:
      total_bytes_sec:
        description: Total bytes per second.
        type: int
      read_bytes_sec:
        description: Read bytes per second.
        type: int
      write_bytes_sec:
        description: Write bytes per second.
        type: int
      total_iops_sec:
        description: Total I/O operations per second.
        type: int
      read_iops_sec:
        description: Read I/O operations per second.
        type: int
      write_iops_sec:
        description: Write I/O operations per second.
        type: int
'''

    ATTACHED_DISK = r'''
options:
  qos:
    description:
      - I/O limits of the disk; a change on a running guest is applied live. Omitted keys mean no limit.
    type: dict
    suboptions:
      total_bytes_sec:
        description: Total bytes per second.
        type: int
      read_bytes_sec:
        description: Read bytes per second.
        type: int
      write_bytes_sec:
        description: Write bytes per second.
        type: int
      total_iops_sec:
        description: Total I/O operations per second.
        type: int
      read_iops_sec:
        description: Read I/O operations per second.
        type: int
      write_iops_sec:
        description: Write I/O operations per second.
        type: int
'''
