#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: secret
short_description: A libvirt secret (iSCSI CHAP password, volume passphrase, Ceph key)
version_added: 0.1.0
description:
  - Defines, updates and removes a libvirt secret, found by its O(usage) and O(usage_id).
  - Secrets this module creates are private, so libvirt never gives their value out again, not even to this
    module. To stay idempotent without reading it, the module keeps a salted SHA-256 digest of the value in the
    secret's description; the same O(value) is then no change, a different one is. A secret made elsewhere (no
    digest) has its value set once, and is unchanged from then on.
  - The value never appears in results, diffs or logs.
author:
  - virtops.compute contributors (@virtops)
options:
  usage:
    description: What the secret is for.
    type: str
    choices: [iscsi, volume, ceph]
    required: true
  usage_id:
    description:
      - Which one it is for; C(iscsi) the name libvirt disks refer to it by (for example the target IQN),
        C(volume) the encrypted volume's path, C(ceph) the client name.
    type: str
    required: true
  value:
    description:
      - The secret value (a CHAP password, a passphrase, a key). Needed to create a secret.
      - A string (a number is taken as its digits); a list or mapping is refused rather than stored as its text.
    type: raw
  description:
    description: A human description; left as it is when omitted.
    type: str
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
seealso:
  - module: virtops.compute.volume_attachment
'''

EXAMPLES = r'''
- name: The CHAP password of an iSCSI target
  virtops.compute.secret:
    usage: iscsi
    usage_id: iqn.2026-11.example.storage:array1
    value: "{{ vault_chap_password }}"
    description: CHAP for array1

- name: Remove it
  virtops.compute.secret:
    usage: iscsi
    usage_id: iqn.2026-11.example.storage:array1
    state: absent
'''

RETURN = r'''
secret:
  description: The secret without its value; null once it is absent.
  returned: always
  type: dict
  sample: {uuid: 0b5c1e3e-8f1d-4b59-9d4f-6d3c1f1b2a11, usage: iscsi, usage_id: iqn.2026-11.example.storage:array1,
           description: CHAP for array1, private: true, value_known: true}
changes:
  description: What differed (C(created), C(description), C(value), C(removed)).
  returned: always
  type: list
  elements: str
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.diff import DifferenceTracker
from ansible_collections.virtops.compute.plugins.module_utils.storage import secrets as secret_store


def _run(module):
    params = module.params
    where = "secret for %s '%s'" % (params['usage'], params['usage_id'])
    if not params['usage_id'].strip():
        raise VirtopsError('secret: usage_id must not be empty.')
    tracker = DifferenceTracker()
    existing = secret_store.lookup(module.conn, params['usage'], params['usage_id'])
    before = secret_store.describe(existing) if existing else None
    if params['state'] == 'absent':
        if existing is None:
            return dict(changed=False, secret=None, changes=[])
        tracker.add('state', 'present', 'absent')
        if not module.check_mode:
            secret_store.remove(existing)
        result = dict(changed=True, secret=None, changes=['removed'])
        if module.diff_mode:
            result['diff'] = tracker.diff()
        return result
    if isinstance(params['value'], (list, dict, bool)):
        # type str would store the list's text as the secret; the value itself is never named
        raise VirtopsError('%s: value must be a string, not a %s.' % (where, type(params['value']).__name__))
    if isinstance(params['value'], (int, float)):
        params['value'] = str(params['value'])
    if existing is None and params['value'] is None:
        raise VirtopsError('%s: a new secret needs a value.' % where)
    secret, changes = secret_store.ensure(module.conn, params['usage'], params['usage_id'], params['value'],
                                          params['description'], check_mode=module.check_mode)
    after = secret_store.describe(secret) if secret is not None else dict(
        usage=params['usage'], usage_id=params['usage_id'], description=params['description'])
    tracker.add('secret', before, after)
    if 'value' in changes:
        tracker.add('value', 'old', 'new', secret=True)
    result = dict(changed=bool(changes), secret=after, changes=changes)
    if module.diff_mode:
        result['diff'] = tracker.diff()
    return result


def main():
    module = VirtopsModule(
        argument_spec=dict(
            usage=dict(type='str', required=True, choices=['iscsi', 'volume', 'ceph']),
            usage_id=dict(type='str', required=True),
            value=dict(type='raw', no_log=True),
            description=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    module.run(_run)


if __name__ == '__main__':
    main()
