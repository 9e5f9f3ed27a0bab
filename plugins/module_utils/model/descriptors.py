# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The descriptors that declare an ``XmlObject``'s properties of one value or one child (see ``base.py``).

``Attr`` is an attribute of the element, ``PathAttr`` an attribute of a child, ``Text`` a child's text, ``Flag`` an
empty child present or not, ``Size`` a scaled integer read in one fixed unit, ``Child`` and ``Children`` typed
views of child elements.  Each reads and writes the element through the ``XmlObject`` that owns it.
"""


import copy

from ansible_collections.virtops.compute.plugins.module_utils.model.base import split_path


class Field:
    """Base of the descriptors: ``read``/``write`` against the owning XmlObject."""

    name = None

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return self.read(obj)

    def __set__(self, obj, value):
        self.write(obj, value)

    def read(self, obj):
        raise NotImplementedError

    def write(self, obj, value):
        raise NotImplementedError


class Attr(Field):
    """An attribute of the object's own element."""

    def __init__(self, name, kind=str):
        self.attr, self.kind = name, kind

    def read(self, obj):
        return obj.get_attr('.', self.attr, self.kind)

    def write(self, obj, value):
        obj.set_attr('.', self.attr, value, self.kind)


class PathAttr(Field):
    """An attribute of the child element at ``path``."""

    def __init__(self, path, name, kind=str):
        self.path, self.attr, self.kind = path, name, kind

    def read(self, obj):
        return obj.get_attr(self.path, self.attr, self.kind)

    def write(self, obj, value):
        obj.set_attr(self.path, self.attr, value, self.kind)


class Text(Field):
    """The text of the child element at ``path``."""

    def __init__(self, path, kind=str):
        self.path, self.kind = path, kind

    def read(self, obj):
        return obj.get_text(self.path, self.kind)

    def write(self, obj, value):
        obj.set_text(self.path, value, self.kind)


class Flag(Field):
    """An element whose presence is the value (``<readonly/>``, ``<acpi/>``)."""

    def __init__(self, path):
        self.path = path

    def read(self, obj):
        return obj.has(self.path)

    def write(self, obj, value):
        if value:
            obj.ensure_element(self.path)
        else:
            obj.remove_element(self.path)


class Size(Field):
    """A scaled integer (text + ``unit``) read and written in ``unit``; ``default_unit`` is libvirt's when none is given."""

    def __init__(self, path, unit, default_unit=None):
        self.path, self.unit, self.default_unit = path, unit, default_unit or unit

    def read(self, obj):
        return obj.get_size(self.path, self.unit, self.default_unit)

    def write(self, obj, value):
        obj.set_size(self.path, value, self.unit)


class Child(Field):
    """A typed view of the single child element at ``path``, or None."""

    def __init__(self, path, cls):
        self.path, self.cls = path, cls

    def read(self, obj):
        node = obj.find(self.path)
        return None if node is None else self.cls(node)

    def ensure(self, obj):
        return self.cls(obj.ensure_element(self.path))

    def write(self, obj, value):
        old = obj.find(self.path)
        if value is None:
            if old is not None:
                obj.remove_element(self.path, prune=False)
            return
        element = value.element
        if element is old:
            return
        if element.getparent() is not None:
            element = copy.deepcopy(element)
            element.tail = None
        if old is not None:
            old.getparent().replace(old, element)
            return
        segments = split_path(self.path)
        parent_path = '/'.join(segments[:-1])
        obj.insert_element(obj.ensure_element(parent_path), parent_path, element)


class Children(Field):
    """Typed views of every child element at ``path``; assigning a list replaces them all."""

    def __init__(self, path, cls, group=True):
        self.path, self.cls, self.group = path, cls, group

    def read(self, obj):
        return [self.cls(node) for node in obj.findall(self.path)]

    def write(self, obj, value):
        for node in obj.findall(self.path):
            node.getparent().remove(node)
        for item in value or ():
            obj.add_child(self.path, item, group=self.group)
