# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Defining a domain, the one way the collection does it.

libvirt drops elements and attributes it does not know from a definition without a word, so a
typo in the model or a device this libvirt cannot do would be lost silently and the module would
report a change that never happened.  With the validate flag libvirt checks the XML against its
schema first and refuses it, naming what is wrong.
"""

from ansible_collections.virtops.compute.plugins.module_utils.connection import libvirt


def define_domain(conn, xml):
    """Define or redefine a domain from its XML (a string); the virDomain."""
    return conn.defineXMLFlags(xml, getattr(libvirt, 'VIR_DOMAIN_DEFINE_VALIDATE', 0))
