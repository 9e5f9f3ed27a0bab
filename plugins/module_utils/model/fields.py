# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Descriptors for repeated elements read as plain Python lists and dicts.

``Records`` turns ``<tag id='42' nativeMode='untagged'/>`` elements into
``[{'id': 42, 'native_mode': 'untagged'}]``; ``AttrList`` and ``TextList``
give one value per element; ``AttrDict`` is all attributes of one element;
``ParamDict`` the ``<parameter name=... value=...>`` children libvirt uses
for nwfilter variables.  Assigning replaces the elements, keeping the ones
whose values did not change exactly as they were.
"""


from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject, make_element, split_path
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import Field
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import ModelError, as_kind

# <vlan><tag id='42' nativeMode='untagged'/></vlan>, in interfaces, networks and portgroups
VLAN_TAG_FIELDS = (('id', 'id', int), ('native_mode', 'nativeMode', str))


def _parent_path(path):
    segments = split_path(path)
    return '/'.join(segments[:-1]), segments[-1]


class Records(Field):
    """One dict per element at ``path``; ``fields`` are ``(key, attribute, kind)`` triples."""

    def __init__(self, path, fields):
        self.path = path
        self.fields = tuple(fields)
        self.keys = tuple(key for key, _attr, _kind in self.fields)

    def _record(self, node):
        view = XmlObject(node)
        return dict((key, view.get_attr('.', attr, kind)) for key, attr, kind in self.fields)

    def _wanted(self, obj, record):
        if not isinstance(record, dict):
            raise ModelError('%s: %r is not a dict' % (obj.location(self.path), record))
        unknown = sorted(set(record) - set(self.keys))
        if unknown:
            raise ModelError('%s: unknown keys %s (known: %s)' % (obj.location(self.path), ', '.join(unknown), ', '.join(self.keys)))
        wanted = {}
        for key, attr, kind in self.fields:
            if record.get(key) is not None:
                try:
                    wanted[attr] = as_kind(kind).format(record[key])
                except ModelError as err:
                    raise ModelError('%s@%s: %s' % (obj.location(self.path), attr, err)) from None
        return wanted

    def read(self, obj):
        return [self._record(node) for node in obj.findall(self.path)]

    def write(self, obj, value):
        parent_path, tag = _parent_path(self.path)
        wanted = [self._wanted(obj, record) for record in value or ()]
        old = obj.findall(self.path)
        known = [attr for _key, attr, _kind in self.fields]
        parent = old[0].getparent() if old else None
        for node in old:
            node.getparent().remove(node)
        if not wanted:
            if parent is not None:
                obj.prune(parent)
            return
        parent = obj.ensure_element(parent_path)
        for attrs in wanted:
            reused = None
            for node in old:
                if dict((attr, node.get(attr)) for attr in known if node.get(attr) is not None) == attrs:
                    reused = node
                    break
            if reused is not None:
                old.remove(reused)
            else:
                reused = make_element(tag, attrib=attrs)
            obj.insert_element(parent, parent_path, reused, group=True)


class AttrList(Records):
    """One attribute's value per element at ``path``."""

    def __init__(self, path, attr, kind=str):
        super(AttrList, self).__init__(path, ((attr, attr, kind),))
        self.attr = attr

    def read(self, obj):
        return [record[self.attr] for record in super(AttrList, self).read(obj)]

    def write(self, obj, value):
        super(AttrList, self).write(obj, [{self.attr: item} for item in value or ()])


class TextList(Field):
    """The text of each element at ``path``."""

    def __init__(self, path, kind=str):
        self.path, self.kind = path, kind

    def read(self, obj):
        return [as_kind(self.kind).parse(node.text or '') for node in obj.findall(self.path)]

    def write(self, obj, value):
        parent_path, tag = _parent_path(self.path)
        old = obj.findall(self.path)
        parent = old[0].getparent() if old else None
        for node in old:
            node.getparent().remove(node)
        if not value:
            if parent is not None:
                obj.prune(parent)
            return
        parent = obj.ensure_element(parent_path)
        for item in value:
            node = make_element(tag)
            node.text = as_kind(self.kind).format(item)
            obj.insert_element(parent, parent_path, node, group=True)


class AttrDict(Field):
    """Every attribute of the element at ``path`` as a dict of strings ({} when absent)."""

    def __init__(self, path):
        self.path = path

    def read(self, obj):
        node = obj.find(self.path)
        return {} if node is None else dict(node.attrib)

    def write(self, obj, value):
        if not value:
            obj.remove_element(self.path)
            return
        node = obj.ensure_element(self.path)
        node.attrib.clear()
        for key, item in value.items():
            if item is not None:
                node.set(key, as_kind(str).format(item))


class ParamDict(Field):
    """``<parameter name=... value=...>`` children of the element at ``path`` as a dict.

    A name given more than once (nwfilter's lists, such as several ``IP``
    values) reads as a list of its values, in document order.
    """

    def __init__(self, path='.'):
        self.path = path

    def read(self, obj):
        params = {}
        node = obj.find(self.path)
        for param in node.findall('parameter') if node is not None else ():
            name, value = param.get('name'), param.get('value')
            if name in params:
                if not isinstance(params[name], list):
                    params[name] = [params[name]]
                params[name].append(value)
            else:
                params[name] = value
        return params

    def write(self, obj, value):
        node = obj.find(self.path)
        for param in node.findall('parameter') if node is not None else ():
            node.remove(param)
        if not value:
            if node is not None:
                obj.prune(node)
            return
        node = obj.ensure_element(self.path)
        for name, item in value.items():
            for one in item if isinstance(item, (list, tuple)) else [item]:
                node.append(make_element('parameter', attrib=dict(name=str(name), value=as_kind(str).format(one))))
