# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The attributes every module of the collection documents: check mode, diff mode and its action group.

    A module whose check or diff mode means something else says so in its own ``attributes``, which take
    precedence over these key by key.
    """

    # a module that converges an object: a check run changes nothing, diff mode shows the object before and after
    DOCUMENTATION = r'''
options: {}
attributes:
  action_group:
    description:
      - Use C(group/virtops.compute.libvirt) in C(module_defaults) to set defaults for this module and every other
        module of the collection, such as O(uri).
    support: full
    membership:
      - virtops.compute.libvirt
  check_mode:
    support: full
    description: A check run changes nothing and reports what would change.
  diff_mode:
    support: full
    description: Shows the before and after of the object the module owns, with secrets redacted.
'''

    # a module that only reads
    INFO_MODULE = r'''
options: {}
attributes:
  action_group:
    description:
      - Use C(group/virtops.compute.libvirt) in C(module_defaults) to set defaults for this module and every other
        module of the collection, such as O(uri).
    support: full
    membership:
      - virtops.compute.libvirt
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module changes nothing, so there is nothing to show.
'''
