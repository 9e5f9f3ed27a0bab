# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest: a thin wrapper around one libvirt domain, and the lookups that name it."""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, libvirt
from ansible_collections.virtops.compute.plugins.module_utils.guest import states
from ansible_collections.virtops.compute.plugins.module_utils.libvirt import lookup
from ansible_collections.virtops.compute.plugins.module_utils.model.domain import Domain

ROOT_TARGET = 'vda'


def require_domain(conn, name, doing=None):
    """The ``virDomain`` called ``name``, or one sentence saying it does not exist (and what could not be done)."""
    guest = Guest.lookup(conn, name)
    if guest is None:
        raise VirtopsError("guest '%s' does not exist%s." % (name, ', so it cannot ' + doing if doing else ''))
    return guest.dom


def own_root_disk(domain):
    """The root disk this collection made for the guest (its overlay of an image), or None."""
    metadata = domain.get_app_metadata()
    root = domain.find_disk(ROOT_TARGET)
    if metadata.get('managed_by') != 'virtops.compute' or root is None or root.source_file != metadata.get('root_volume'):
        return None
    return root


class Guest:
    """A thin wrapper around a ``virDomain``."""

    def __init__(self, dom):
        self.dom = dom

    @classmethod
    def lookup(cls, conn, name):
        dom = lookup.find_domain(conn, name)
        return None if dom is None else cls(dom)

    @property
    def name(self):
        return self.dom.name()

    def state(self):
        code, reason = self.dom.state()
        return states.describe(code, reason, managed_save=bool(self.dom.hasManagedSaveImage(0)))

    def definition(self, inactive=False):
        return Domain.from_xml(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0))

    def info(self, definition=False):
        """What ``guest_info`` reports about this guest (see ``guest/info.py``)."""
        from ansible_collections.virtops.compute.plugins.module_utils.guest.info import describe
        return describe(self, definition=definition)
