# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The libvirt connection option every module shares."""

    DOCUMENTATION = r'''
options:
  uri:
    description:
      - The libvirt connection URI of the compute host, for example C(qemu:///system) when the module runs on
        the host itself, or C(qemu+ssh://root@host/system) and C(qemu+tcp://host:16509/system) when it runs
        elsewhere.
      - When omitted, the C(LIBVIRT_DEFAULT_URI) environment variable is used, and C(qemu:///system) when that
        is unset too.
      - The module opens one connection for its run, and closes it when the run ends; a module that works on
        two hosts (M(virtops.compute.migrate), a move to O(virtops.compute.guest_action#module:dest_uri)) opens
        one more, to the other host.
      - Set it once for all modules of the collection with
        C(module_defaults) and the C(group/virtops.compute.libvirt) action group.
    type: str
requirements:
  - libvirt-python on the host that runs the module
  - lxml on the host that runs the module
notes:
  - Errors from libvirt are reported as one sentence naming the object and the cause.
'''
