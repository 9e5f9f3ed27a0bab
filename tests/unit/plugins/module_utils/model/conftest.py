"""Helpers for the XML model tests: libvirt's own schema validator and a model-independent canonical form."""
import shutil
import subprocess
import uuid

import pytest
from lxml import etree


def _canonical(text):
    """C14N of ``text`` with whitespace-only text (indentation, libvirt's blank ``<source>``) dropped."""
    if isinstance(text, str):
        text = text.encode('utf-8')
    root = etree.fromstring(text)
    for node in root.iter():
        if isinstance(node.tag, str) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(root, method='c14n')


def _assert_lossless(cls, text):
    """parse -> model -> XML gives the same document, and so does a second pass."""
    obj = cls.from_xml(text)
    out = obj.to_xml()
    assert _canonical(out) == _canonical(text)
    assert cls.from_xml(out).to_xml() == out
    return obj


@pytest.fixture
def canonical():
    """canonical(text): C14N bytes of an XML text, indentation dropped."""
    return _canonical


@pytest.fixture
def lossless():
    """lossless(cls, text): assert the round trip keeps the document; returns the parsed object."""
    return _assert_lossless


@pytest.fixture
def validate_xml(tmp_path):
    """validate_xml(obj_or_text, schema): run virt-xml-validate on it and fail with its message when invalid."""
    # make setup installs both; a missing one is a broken setup, not a reason to prove less
    assert shutil.which('virt-xml-validate') and shutil.which('xmllint'), \
        'virt-xml-validate needs libvirt-clients and xmllint (Debian package libxml2-utils)'

    def validate(obj, schema):
        text = obj if isinstance(obj, str) else obj.to_xml()
        path = tmp_path / ('%s-%s.xml' % (schema, uuid.uuid4().hex[:8]))
        path.write_text(text)
        proc = subprocess.run(['virt-xml-validate', str(path), schema], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, 'virt-xml-validate %s failed:\n%s%s\n%s' % (schema, proc.stdout, proc.stderr, text)
        return text

    return validate


@pytest.fixture(scope='module')
def conn(lab_libvirt):
    """A libvirt connection of this module's own (the lab's ``libvirt_conn`` also sweeps lab guests, which these
    tests neither need nor should race with)."""
    import libvirt
    connection = libvirt.open(lab_libvirt)
    yield connection
    connection.close()


@pytest.fixture
def unique_name():
    """A name for a libvirt object this test defines (and removes again)."""
    return 'virtops-model-test-' + uuid.uuid4().hex[:8]
