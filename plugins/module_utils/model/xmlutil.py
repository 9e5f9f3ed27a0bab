# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's only contact with lxml: parsing, creating and writing elements.

lxml is imported optionally; ``HAS_LXML`` and ``LXML_IMPORT_ERROR`` let a
module report ``missing_required_lib('lxml')`` instead of failing on import.
"""


import re
import traceback

from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError

try:
    from lxml import etree
    HAS_LXML = True
    LXML_IMPORT_ERROR = None
except ImportError:
    etree = None
    HAS_LXML = False
    LXML_IMPORT_ERROR = traceback.format_exc()

_DECLARATION = re.compile(r'^\s*<\?xml[^>]*\?>')
_SEGMENT = re.compile(r'(?:\{[^}]*\})?[^/{]+')


def _require_lxml():
    if not HAS_LXML:
        raise ModelError('the lxml Python library is required to handle libvirt XML')


def strip_blank_text(root):
    """Drop whitespace-only text: indentation, and the blank body libvirt writes for an empty pool ``<source>``.

    Text with anything else in it is kept exactly, surrounding spaces included.
    """
    for node in root.iter():
        if isinstance(node.tag, str) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return root


def parse_xml(text):
    """The root element of ``text`` (str or bytes), indentation removed; entities and network access are refused."""
    _require_lxml()
    if isinstance(text, str):
        text = _DECLARATION.sub('', text, count=1).encode('utf-8')
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError as err:
        raise ModelError('not well-formed XML: %s' % err) from None
    return strip_blank_text(root)


def make_element(tag, attrib=None, nsmap=None):
    """A new detached element."""
    _require_lxml()
    return etree.Element(tag, attrib=attrib, nsmap=nsmap)


def serialize(element, pretty=True):
    """``element`` as text (no tail), indented by two spaces when ``pretty``."""
    return etree.tostring(element, encoding='unicode', pretty_print=pretty, with_tail=False)


def canonical_xml(element):
    """Canonical XML (C14N 1.0, comments kept) of ``element``, as bytes."""
    return etree.tostring(element, method='c14n')


def split_path(path):
    """``'os/type'`` -> ``['os', 'type']`` (Clark ``{namespace}tag`` segments kept whole); '.', '' and None -> []."""
    if path in (None, '', '.'):
        return []
    return _SEGMENT.findall(path)


def is_empty(element):
    """Nothing in it: no children, attributes or text."""
    return len(element) == 0 and not element.attrib and not element.text
