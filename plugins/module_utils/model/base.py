# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed views over libvirt XML elements.

An ``XmlObject`` wraps one lxml element and never copies what it reads into
Python state: every property reads and writes the element itself.  Whatever
the model does not know about (elements and attributes of newer libvirt
releases, addresses, aliases) therefore survives parse -> change -> XML.

Properties are declared with the descriptors of ``descriptors.py`` (one value or one child)
and ``fields.py`` (repeated elements as lists and dicts)::

    class Disk(XmlObject):
        TAG = 'disk'
        type = Attr('type')                       # <disk type=...>
        serial = Text('serial')                   # <serial>...</serial>
        cache = PathAttr('driver', 'cache')       # <driver cache=...>
        readonly = Flag('readonly')               # <readonly/>

A missing value reads as None; writing None removes it, and an element left
with nothing in it (no attributes, children or text) goes with it, up to the
object's own element.  Writing creates the elements a path needs, placed in
the order the class's ``ORDER`` gives (libvirt's own order), else last.
"""


import copy

from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError, as_kind
from ansible_collections.virtops.compute.plugins.module_utils.model.units import UnitError, from_bytes, to_bytes
from ansible_collections.virtops.compute.plugins.module_utils.model.xmlutil import (
    HAS_LXML, LXML_IMPORT_ERROR, canonical_xml, is_empty, make_element, parse_xml, serialize, split_path,
    strip_blank_text,
)

# HAS_LXML and LXML_IMPORT_ERROR are for modules: missing_required_lib('lxml')
__all__ = ['HAS_LXML', 'LXML_IMPORT_ERROR', 'ModelError', 'XmlObject', 'make_element', 'parse_xml', 'split_path']


class XmlObject:
    """A typed view of one libvirt XML element (see the module docstring)."""

    TAG = None
    # relative parent path ('' = this element) -> child tags in libvirt's order
    ORDER = {}

    def __init__(self, element=None):
        if element is None:
            if not self.TAG:
                raise TypeError('%s needs an element' % type(self).__name__)
            element = make_element(self.TAG)
        elif self.TAG and element.tag != self.TAG:
            raise ModelError('%s expects <%s>, not <%s>' % (type(self).__name__, self.TAG, element.tag))
        self._element = element

    @classmethod
    def from_xml(cls, text):
        """Parse ``text`` (str or bytes) into a view of its root element."""
        return cls(parse_xml(text))

    @property
    def element(self):
        return self._element

    @property
    def tag(self):
        return self._element.tag

    def _detached(self):
        node = copy.deepcopy(self._element)
        node.tail = None
        return strip_blank_text(node)

    def to_xml(self, pretty=True):
        """This element as text, indented by two spaces unless ``pretty`` is false."""
        return serialize(self._detached(), pretty=pretty)

    def canonical(self):
        """Canonical XML (C14N) of a whitespace-normalised copy: equal for equal documents."""
        return canonical_xml(self._detached())

    def copy(self):
        """An independent object of the same class over a deep copy of the element."""
        return type(self)(self._detached())

    def __eq__(self, other):
        if not isinstance(other, XmlObject):
            return NotImplemented
        return self.canonical() == other.canonical()

    __hash__ = None

    def __repr__(self):
        text = self.to_xml(pretty=False)
        if len(text) > 160:
            text = text[:157] + '...'
        return '%s(%s)' % (type(self).__name__, text)

    # ---------------------------------------------------------------- element access

    def location(self, path=None, name=None):
        """``<disk>/driver@cache``: where a value lives, for error messages."""
        where = '<%s>' % self._element.tag
        if path not in (None, '', '.'):
            where += '/' + path
        if name:
            where += '@' + name
        return where

    def find(self, path):
        """The element at ``path`` below this one ('.' is this one), or None."""
        if path in (None, '', '.'):
            return self._element
        return self._element.find(path)

    def findall(self, path):
        return self._element.findall(path)

    def has(self, path):
        return self.find(path) is not None

    def insert_element(self, parent, parent_path, element, group=False):
        """Put ``element`` under ``parent``: after its last namesake when grouping, else at its ORDER place."""
        if group:
            same = [node for node in parent if node.tag == element.tag]
            if same:
                same[-1].addnext(element)
                return
        order = self.ORDER.get(parent_path or '')
        if order and element.tag in order:
            rank = order.index(element.tag)
            for node in parent:
                # elements the order does not list (newer libvirt, other namespaces) count as coming last
                if isinstance(node.tag, str) and (order.index(node.tag) if node.tag in order else len(order)) > rank:
                    node.addprevious(element)
                    return
        parent.append(element)

    def ensure_element(self, path):
        """The element at ``path``, created (with whatever leads to it) when missing."""
        node = self._element
        done = []
        for segment in split_path(path):
            child = node.find(segment)
            if child is None:
                if '[' in segment or segment in ('.', '..', '*'):
                    raise ModelError('%s: cannot create %r' % (self.location(path), segment))
                child = make_element(segment)
                self.insert_element(node, '/'.join(done), child)
            node = child
            done.append(segment)
        return node

    def prune(self, node):
        """Remove ``node`` and its ancestors while they are empty, up to (not including) this element."""
        while node is not None and node is not self._element and is_empty(node):
            parent = node.getparent()
            parent.remove(node)
            node = parent

    def remove_element(self, path, prune=True):
        """Remove the element at ``path`` (and emptied parents when ``prune``); True when there was one."""
        node = self.find(path)
        if node is None or node is self._element:
            return False
        parent = node.getparent()
        parent.remove(node)
        if prune:
            self.prune(parent)
        return True

    def _convert(self, func, value, path, name=None):
        """``func(value)``, its ModelError or UnitError reworded to say where the value lives."""
        try:
            return func(value)
        except (ModelError, UnitError) as err:
            raise ModelError('%s: %s' % (self.location(path, name), err)) from None

    def get_text(self, path, kind=str):
        node = self.find(path)
        if node is None:
            return None
        return self._convert(as_kind(kind).parse, node.text or '', path)

    def set_text(self, path, value, kind=str):
        if value is None:
            if path in (None, '', '.'):
                self._element.text = None
            else:
                self.remove_element(path)
            return
        text = self._convert(as_kind(kind).format, value, path)
        self.ensure_element(path).text = text

    def get_attr(self, path, name, kind=str):
        node = self.find(path)
        if node is None:
            return None
        raw = node.get(name)
        if raw is None:
            return None
        return self._convert(as_kind(kind).parse, raw, path, name)

    def set_attr(self, path, name, value, kind=str):
        if value is None:
            node = self.find(path)
            if node is not None and name in node.attrib:
                del node.attrib[name]
                self.prune(node)
            return
        text = self._convert(as_kind(kind).format, value, path, name)
        self.ensure_element(path).set(name, text)

    def get_size(self, path, unit, default_unit=None):
        """The scaled integer at ``path`` in ``unit`` (rounded up); ``default_unit`` when it names none."""
        node = self.find(path)
        if node is None or not (node.text or '').strip():
            return None
        in_bytes = self._convert(lambda text: to_bytes(text, node.get('unit') or default_unit or unit), node.text, path)
        return from_bytes(in_bytes, unit)

    def set_size(self, path, value, unit):
        """Write ``value`` with an explicit ``unit`` attribute; None removes the element."""
        if value is None:
            self.remove_element(path)
            return
        self._convert(lambda number: to_bytes(number, unit), value, path)
        node = self.ensure_element(path)
        node.text = str(int(value))
        node.set('unit', unit)

    # ---------------------------------------------------------------- children

    def add_child(self, path, item, group=True):
        """Insert ``item`` (an XmlObject) at ``path`` ('devices/disk'); returns the view inside this document.

        A detached item is adopted as is (the caller's object then edits this
        document); one that belongs to another document is copied.
        """
        segments = split_path(path)
        element = item.element
        if not segments or element.tag != segments[-1]:
            raise ModelError('%s: cannot add <%s> as %r' % (self.location(), element.tag, path))
        if element.getparent() is not None:
            element = copy.deepcopy(element)
            element.tail = None
            item = type(item)(element)
        parent_path = '/'.join(segments[:-1])
        self.insert_element(self.ensure_element(parent_path), parent_path, element, group=group)
        return item

    def owns(self, element):
        """True when ``element`` is inside this object's element."""
        return any(node is self._element for node in element.iterancestors())

    def remove_child(self, item, path=None):
        """Remove ``item``: the very element when it is inside this document, else the first equal one at ``path``."""
        element = item.element
        if self.owns(element):
            element.getparent().remove(element)
            return True
        wanted = item.canonical()
        for node in self.findall(path or element.tag):
            if XmlObject(node).canonical() == wanted:
                node.getparent().remove(node)
                return True
        return False

    def ensure(self, name):
        """The view of ``Child`` property ``name``, its element created when missing."""
        from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Child  # built on this module
        field = getattr(type(self), name, None)
        if not isinstance(field, Child):
            raise AttributeError('%s.%s is not a Child property' % (type(self).__name__, name))
        return field.ensure(self)
