# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``guest`` module's options, shared with ``guests`` (which takes a list of them) and the ``guest`` role."""

from ansible_collections.virtops.compute.plugins.module_utils.storage.disk_qos import QOS_OPTION

GUEST_OPTIONS = dict(
    name=dict(type='str', required=True),
    uuid=dict(type='str'),
    state=dict(type='str', default='running', choices=['running', 'stopped', 'paused', 'suspended', 'rescued', 'absent']),
    virt_type=dict(type='str', choices=['kvm', 'qemu']),
    vcpus=dict(type='int'),
    max_vcpus=dict(type='int'),
    memory_mb=dict(type='int'),
    max_memory_mb=dict(type='int'),
    machine=dict(type='str'),
    image=dict(type='path'),
    rescue_image=dict(type='path'),
    root_size_gb=dict(type='int'),
    auto_disk_config=dict(type='bool', default=False),
    kernel=dict(type='path'),
    initrd=dict(type='path'),
    cmdline=dict(type='str'),
    firmware=dict(type='str', choices=['bios', 'uefi']),
    secure_boot=dict(type='bool'),
    guest_agent=dict(type='bool'),
    config_drive=dict(type='path'),
    disk_qos=QOS_OPTION,
    serial_console=dict(type='dict', options=dict(
        type=dict(type='str', default='pty', choices=['pty', 'tcp']),
        listen=dict(type='str', default='127.0.0.1'),
        port=dict(type='int'))),
    graphics=dict(type='list', elements='dict', options=dict(
        type=dict(type='str', required=True, choices=['vnc', 'spice']),
        listen=dict(type='str', default='127.0.0.1'),
        port=dict(type='int'),
        password=dict(type='str', no_log=True))),
    nics=dict(type='list', elements='dict', options=dict(
        network=dict(type='str'), bridge=dict(type='str'), ovs_bridge=dict(type='str'), user=dict(type='bool'),
        mac=dict(type='str'), model=dict(type='str', default='virtio'), vlan=dict(type='int'),
        portgroup=dict(type='str'), filter=dict(type='str'), filter_params=dict(type='dict'))),
    shutdown_timeout=dict(type='int', default=120),
    allow_restart=dict(type='bool', default=False),
    storage_pool=dict(type='str', default='virtops-instances'),

)
