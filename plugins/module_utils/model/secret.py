# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed view of a libvirt secret's properties (``<secret>``); the value itself never appears in XML."""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Attr, PathAttr, Text
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import YES_NO, ModelError

# usage type -> the element under <usage> that names what the secret is for
USAGE_ID_ELEMENTS = {'volume': 'volume', 'iscsi': 'target', 'ceph': 'name', 'tls': 'name', 'vtpm': 'name'}


class Secret(XmlObject):
    TAG = 'secret'
    ORDER = {'': ('uuid', 'description', 'usage')}

    ephemeral = Attr('ephemeral', YES_NO)
    private = Attr('private', YES_NO)
    uuid = Text('uuid')
    description = Text('description')
    usage_type = PathAttr('usage', 'type')
    usage_volume = Text('usage/volume')
    usage_target = Text('usage/target')
    usage_name = Text('usage/name')

    @property
    def usage_id(self):
        """What the secret is for, whatever its usage type: the volume path, iSCSI target or name."""
        tag = USAGE_ID_ELEMENTS.get(self.usage_type)
        return self.get_text('usage/' + tag) if tag else None

    @usage_id.setter
    def usage_id(self, value):
        tag = USAGE_ID_ELEMENTS.get(self.usage_type)
        if tag is None:
            raise ModelError('%s: set usage_type before usage_id' % self.location('usage'))
        self.set_text('usage/' + tag, value)

    def set_usage(self, usage_type, usage_id):
        """Replace ``<usage>`` with one of ``usage_type`` for ``usage_id``; (None, None) removes it."""
        if usage_type is None:
            self.remove_element('usage')
            return
        tag = USAGE_ID_ELEMENTS.get(usage_type)
        if tag is None:
            raise ModelError("secret usage type %r is not one of %s" % (usage_type, ', '.join(sorted(USAGE_ID_ELEMENTS))))
        self.remove_element('usage')
        self.usage_type = usage_type
        self.set_text('usage/' + tag, usage_id)
