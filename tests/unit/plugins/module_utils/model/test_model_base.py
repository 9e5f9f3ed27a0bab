"""The machinery under every libvirt object: XmlObject, the descriptors, value kinds and size units."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.model import base, units
from ansible_collections.virtops.compute.plugins.module_utils.model.base import XmlObject
from ansible_collections.virtops.compute.plugins.module_utils.model.descriptors import (
    Attr, Child, Children, Flag, PathAttr, Size, Text,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.fields import (
    AttrDict, AttrList, ParamDict, Records, TextList,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.kinds import (
    INT, LOOSE_INT, ON_OFF, STR, TRUE_FALSE, YES_NO, ModelError, as_kind,
)
from ansible_collections.virtops.compute.plugins.module_utils.model.xmlutil import split_path


class Part(XmlObject):
    TAG = 'part'
    name = Attr('name')
    size = Attr('size', int)


class Box(XmlObject):
    TAG = 'box'
    ORDER = {'': ('label', 'inner', 'part', 'size', 'flags'), 'inner': ('a', 'b')}
    kind = Attr('kind')
    enabled = Attr('enabled', YES_NO)
    power = PathAttr('inner/b', 'power', ON_OFF)
    label = Text('label')
    count = Text('inner/a', int)
    weight_kib = Size('size', 'KiB')
    weight_bytes = Size('size', 'bytes', default_unit='KiB')
    sealed = Flag('flags/sealed')
    first = Child('part', Part)
    parts = Children('part', Part)
    tags = Records('tags/tag', (('id', 'id', int), ('mode', 'mode', str)))
    ids = AttrList('ids/id', 'value', int)
    notes = TextList('notes/note')
    opts = AttrDict('opts')
    params = ParamDict('params')


def test_lxml_is_reported_for_modules():
    assert base.HAS_LXML is True
    assert base.LXML_IMPORT_ERROR is None


def test_missing_values_read_as_none():
    box = Box()
    assert box.to_xml(pretty=False) == '<box/>'
    assert (box.kind, box.enabled, box.power, box.label, box.count, box.weight_kib) == (None,) * 6
    assert box.sealed is False
    assert box.first is None
    assert box.parts == [] and box.tags == [] and box.ids == [] and box.notes == []
    assert box.opts == {} and box.params == {}


def test_setting_creates_elements_in_order():
    box = Box()
    box.power = True
    box.count = 3
    box.label = 'hello'
    box.sealed = True
    assert box.to_xml(pretty=False) == ('<box><label>hello</label><inner><a>3</a><b power="on"/></inner>'
                                        '<flags><sealed/></flags></box>')
    assert (box.power, box.count, box.label, box.sealed) == (True, 3, 'hello', True)


def test_none_removes_the_value_and_emptied_parents_only():
    box = Box.from_xml('<box kind="k"><inner><a>1</a><b power="off" other="x"/></inner><flags><sealed/><open/></flags></box>')
    box.power = None
    assert box.find('inner/b').attrib == {'other': 'x'}
    box.set_attr('inner/b', 'other', None)
    assert box.find('inner/b') is None and box.count == 1
    box.count = None
    assert box.find('inner') is None
    box.sealed = False
    assert box.to_xml(pretty=False) == '<box kind="k"><flags><open/></flags></box>'
    box.kind = None
    box.label = None
    assert box.to_xml(pretty=False) == '<box><flags><open/></flags></box>'


def test_bool_kinds():
    box = Box.from_xml('<box enabled="yes"><inner><b power="on"/></inner></box>')
    assert box.enabled is True and box.power is True
    box.enabled = False
    box.power = 'off'
    assert box.get_attr('.', 'enabled') == 'no' and box.get_attr('inner/b', 'power') == 'off'
    assert YES_NO.parse('ON') is True and ON_OFF.parse('0') is False
    assert TRUE_FALSE.format(False) == 'false'
    box.set_attr('.', 'enabled', 'maybe')
    with pytest.raises(ModelError, match=r"<box>@enabled: 'maybe' is not 'yes' or 'no'"):
        getattr(box, 'enabled')
    with pytest.raises(ModelError):
        box.enabled = 1


def test_int_kinds():
    assert INT.parse('42') == 42 and INT.parse('0x1f') == 31 and INT.parse('-1') == -1 and INT.parse('') is None
    assert INT.format('7') == '7'
    for bad in (True, 1.5, 'x'):
        with pytest.raises(ModelError):
            INT.format(bad)
    assert LOOSE_INT.parse('22') == 22 and LOOSE_INT.parse('$PORT') == '$PORT'
    assert LOOSE_INT.parse('255.255.0.0') == '255.255.0.0'
    assert as_kind(str) is STR and as_kind(int) is INT and as_kind(bool) is YES_NO
    with pytest.raises(TypeError):
        as_kind(float)
    box = Box.from_xml('<box><inner><a>many</a></inner></box>')
    with pytest.raises(ModelError, match='<box>/inner/a'):
        getattr(box, 'count')
    with pytest.raises(ModelError):
        box.label = ['not', 'text']


@pytest.mark.parametrize('xml, kib, nbytes', [
    ('<size unit="MiB">2</size>', 2048, 2 * 1024 * 1024),
    ('<size unit="M">2</size>', 2048, 2 * 1024 * 1024),
    ('<size unit="KiB">512</size>', 512, 512 * 1024),
    ('<size>512</size>', 512, 512 * 1024),
    ('<size unit="b">1025</size>', 2, 1025),
    ('<size unit="bytes">2048</size>', 2, 2048),
    ('<size unit="GB">1</size>', 976563, 10 ** 9),
    ('<size unit="G">1</size>', 1024 * 1024, 1 << 30),
    ('<size unit="TiB">1</size>', 1 << 30, 1 << 40),
])
def test_sizes_read_in_any_unit(xml, kib, nbytes):
    box = Box.from_xml('<box>%s</box>' % xml)
    assert box.weight_kib == kib
    assert box.weight_bytes == nbytes


def test_sizes_written_with_explicit_unit():
    box = Box()
    box.weight_kib = 1024
    assert box.to_xml(pretty=False) == '<box><size unit="KiB">1024</size></box>'
    box.weight_bytes = 4096
    assert box.to_xml(pretty=False) == '<box><size unit="bytes">4096</size></box>'
    box.set_size('size', 3, 'GiB')
    assert box.weight_kib == 3 * 1024 * 1024
    box.weight_kib = None
    assert box.to_xml(pretty=False) == '<box/>'
    with pytest.raises(ModelError):
        box.weight_kib = -1
    with pytest.raises(ModelError, match='unknown size unit'):
        getattr(Box.from_xml('<box><size unit="parsecs">1</size></box>'), 'weight_kib')


def test_unit_helpers():
    assert [units.unit_factor(u) for u in ('b', 'bytes', 'KB', 'k', 'KiB', 'kib', 'MB', 'M', 'MiB', 'E')] == [
        1, 1, 1000, 1024, 1024, 1024, 10 ** 6, 1 << 20, 1 << 20, 1 << 60]
    assert units.to_bytes('10', 'GiB') == 10 << 30
    assert units.from_bytes(1025, 'KiB') == 2 and units.from_bytes(1025, 'KiB', round_up=False) == 1
    assert units.convert(1, 'GiB', 'MiB') == 1024
    for bad in ('KiBB', 'x', '', None):
        with pytest.raises(units.UnitError):
            units.unit_factor(bad)
    with pytest.raises(units.UnitError):
        units.to_bytes('1.5', 'GiB')


def test_parsing_strips_blank_text_but_keeps_real_text():
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<box>\n  <label>  spaced  </label>\n  <inner>\n    <a>\n    </a>\n'
            '  </inner>\n  <!-- as is -->\n</box>\n')
    box = Box.from_xml(text)
    assert box.label == '  spaced  '
    assert box.to_xml(pretty=False) == '<box><label>  spaced  </label><inner><a/></inner><!-- as is --></box>'
    assert Box.from_xml(text.encode('utf-8')) == box
    assert box.to_xml() == '<box>\n  <label>  spaced  </label>\n  <inner>\n    <a/>\n  </inner>\n  <!-- as is -->\n</box>\n'
    assert Box.from_xml(box.to_xml()).to_xml() == box.to_xml()


def test_parse_errors_are_model_errors():
    with pytest.raises(ModelError, match='not well-formed'):
        Box.from_xml('<box><unclosed></box>')
    with pytest.raises(ModelError, match='Box expects <box>, not <crate>'):
        Box.from_xml('<crate/>')
    with pytest.raises(TypeError):
        XmlObject()


def test_external_entities_are_not_resolved():
    text = '<!DOCTYPE box [<!ENTITY x SYSTEM "file:///etc/passwd">]><box><label>&x;</label></box>'
    box = Box.from_xml(text)
    assert 'root:' not in box.to_xml()


def test_equality_copy_and_repr():
    one = Box.from_xml('<box kind="a" enabled="yes"><label>x</label></box>')
    two = Box.from_xml('<box enabled="yes"   kind="a">\n <label>x</label>\n</box>')
    assert one == two and (one != two) is False
    assert one != Box.from_xml('<box kind="b" enabled="yes"><label>x</label></box>')
    assert (one == 'text') is False
    dup = one.copy()
    dup.label = 'y'
    assert one.label == 'x' and dup.label == 'y'
    assert repr(one) == 'Box(<box kind="a" enabled="yes"><label>x</label></box>)'
    assert repr(Box.from_xml('<box><label>%s</label></box>' % ('z' * 300))).endswith('...)')
    with pytest.raises(TypeError):
        hash(one)


def test_unknown_content_survives_edits():
    text = ('<box kind="a" future="1"><label>x</label><gadget mode="new"><cog/></gadget>'
            '<!-- note --><inner><a>1</a><z/></inner></box>')
    box = Box.from_xml(text)
    box.count = 5
    box.label = 'y'
    box.sealed = True
    out = box.to_xml(pretty=False)
    assert 'future="1"' in out and '<gadget mode="new"><cog/></gadget>' in out and '<!-- note -->' in out
    assert '<inner><a>5</a><z/></inner>' in out


def test_children_add_remove_replace():
    box = Box.from_xml('<box><label>l</label><part name="a"/><size>1</size></box>')
    part = Part()
    part.name = 'b'
    added = box.add_child('part', part)
    assert added is part
    part.size = 3                                  # adopted: edits go into the box
    assert [p.name for p in box.parts] == ['a', 'b'] and box.parts[1].size == 3
    assert box.to_xml(pretty=False) == '<box><label>l</label><part name="a"/><part name="b" size="3"/><size>1</size></box>'

    other = Box()
    copied = other.add_child('part', box.parts[0])    # belongs to another document: copied
    assert copied is not box.parts[0] and copied == box.parts[0]
    assert len(box.parts) == 2

    assert box.remove_child(box.parts[0]) is True
    assert box.remove_child(Part.from_xml('<part size="3" name="b"/>'), 'part') is True
    assert box.remove_child(Part.from_xml('<part name="zz"/>'), 'part') is False
    assert box.parts == []
    box.parts = [Part.from_xml('<part name="x"/>'), Part.from_xml('<part name="y"/>')]
    assert box.to_xml(pretty=False) == '<box><label>l</label><part name="x"/><part name="y"/><size>1</size></box>'
    box.parts = None
    assert box.parts == []
    with pytest.raises(ModelError):
        box.add_child('part', Box())


def test_child_view_ensure_and_replace():
    box = Box.from_xml('<box><label>l</label><size>1</size></box>')
    assert box.first is None
    made = box.ensure('first')
    made.name = 'p'
    assert box.to_xml(pretty=False) == '<box><label>l</label><part name="p"/><size>1</size></box>'
    box.first = Part.from_xml('<part name="q"/>')
    assert box.to_xml(pretty=False) == '<box><label>l</label><part name="q"/><size>1</size></box>'
    box.first = box.first
    box.first = None
    assert box.first is None
    with pytest.raises(AttributeError):
        box.ensure('label')


def test_records():
    box = Box.from_xml('<box><tags><tag id="1" mode="x" extra="keep"/><tag id="2"/></tags></box>')
    assert box.tags == [{'id': 1, 'mode': 'x'}, {'id': 2, 'mode': None}]
    box.tags = [{'id': 1, 'mode': 'x'}, {'id': 3}]
    assert box.to_xml(pretty=False) == '<box><tags><tag id="1" mode="x" extra="keep"/><tag id="3"/></tags></box>'
    with pytest.raises(ModelError, match='unknown keys colour'):
        box.tags = [{'id': 1, 'colour': 'red'}]
    with pytest.raises(ModelError):
        box.tags = [{'id': 'one'}]
    box.tags = []
    assert box.to_xml(pretty=False) == '<box/>'
    box.ids = [3, 1]
    box.notes = ['a', 'b']
    assert box.ids == [3, 1] and box.notes == ['a', 'b']
    assert box.to_xml(pretty=False) == '<box><ids><id value="3"/><id value="1"/></ids><notes><note>a</note><note>b</note></notes></box>'
    box.ids = None
    box.notes = []
    assert box.to_xml(pretty=False) == '<box/>'


def test_attr_dict_and_param_dict():
    box = Box()
    box.opts = {'a': '1', 'b': 2, 'c': None}
    assert box.opts == {'a': '1', 'b': '2'}
    box.opts = {}
    assert box.find('opts') is None
    box.params = {'IP': ['10.0.0.1', '10.0.0.2'], 'MAC': '52:54:00:00:00:01'}
    assert box.params == {'IP': ['10.0.0.1', '10.0.0.2'], 'MAC': '52:54:00:00:00:01'}
    assert len(box.findall('params/parameter')) == 3
    box.params = None
    assert box.to_xml(pretty=False) == '<box/>'


def test_split_path_keeps_namespaced_segments():
    assert split_path('metadata/{urn:a/b:1}instance') == ['metadata', '{urn:a/b:1}instance']
    assert split_path('.') == [] and split_path('os/type') == ['os', 'type']
