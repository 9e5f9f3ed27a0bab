# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``config_drive`` module's options that say what is on the drive, which the ``guests`` module takes per item
too (a ``config_drive`` dictionary).

Kept apart from the code that lays the drive out (``layout.py``) and writes it (``image.py``), so that a module run
that only validates them does not import that code.
"""


# the config_drive module's options that say what is on the drive (not where it goes or its state): the guests
# module takes them per item too, as a config_drive dictionary
DRIVE_CONTENT_OPTIONS = dict(
    format=dict(type='str', default='iso9660', choices=['iso9660', 'vfat']),
    uuid=dict(type='str'),
    name=dict(type='str'),
    hostname=dict(type='str'),
    public_keys=dict(type='dict', no_log=False),
    admin_pass=dict(type='str', no_log=True),
    meta=dict(type='dict'),
    # user data and file contents often carry credentials (a cloud-config with passwords, a token file)
    user_data=dict(type='str', no_log=True),
    vendor_data=dict(type='dict'),
    network_data=dict(type='dict'),
    network_data_from_nics=dict(type='list', elements='dict', options=dict(
        mac=dict(type='str', required=True), address=dict(type='str'), gateway=dict(type='str'),
        dns=dict(type='list', elements='str'), mtu=dict(type='int'))),
    files=dict(type='list', elements='dict', options=dict(
        path=dict(type='str', required=True), content=dict(type='str', required=True, no_log=True))),
    availability_zone=dict(type='str', default='nova'),
    launch_index=dict(type='int', default=0),
    random_seed=dict(type='str', no_log=True),
)
