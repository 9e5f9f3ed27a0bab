"""All XML is built by the typed model (plugins/module_utils/model): no plugin file outside it formats XML text.

A string literal holding a tag (``<disk``, ``</name>``) that is %-formatted, ``.format``-ed or is an f-string is
XML built by hand: it escapes nothing and bypasses the model's schema. The check reads every plugin file's syntax
tree, so comments and docstrings that mention tags do not count.
"""
import ast
import os
import re

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLUGINS = os.path.join(REPO_ROOT, 'plugins')
MODEL = os.path.join(PLUGINS, 'module_utils', 'model')
TAG = re.compile(r'</?[A-Za-z][\w:.-]*[\s>/]')


def _has_tag(node):
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and TAG.search(node.value) is not None


def xml_built_by_hand(source, filename='<source>'):
    """(line, how) of each place in ``source`` that formats a string literal holding an XML tag."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _has_tag(node.left):
            found.append((node.lineno, '%-formatting'))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'format'
              and _has_tag(node.func.value)):
            found.append((node.lineno, '.format()'))
        elif isinstance(node, ast.JoinedStr) and any(_has_tag(part) for part in node.values):
            found.append((node.lineno, 'an f-string'))
    return found


def _plugin_files():
    for folder, _dirs, files in os.walk(PLUGINS):
        if os.path.commonpath([folder, MODEL]) == MODEL:
            continue
        for name in files:
            if name.endswith('.py'):
                yield os.path.join(folder, name)


@pytest.mark.parametrize('snippet, how', [
    ("xml = '<volume><name>%s</name></volume>' % name", '%-formatting'),
    ("xml = \"<disk type='{}'/>\".format(kind)", '.format()'),
    ("xml = f'<source file=\"{path}\"/>'", 'an f-string'),
    ("xml = '</target>%s' % rest", '%-formatting'),
])
def test_the_check_finds_xml_built_by_hand(snippet, how):
    assert xml_built_by_hand(snippet) == [(1, how)]


@pytest.mark.parametrize('snippet', [
    "msg = '%s is not a size' % value",            # no tag
    "text = 'a < b means %s' % what",              # a comparison, not a tag
    "xml = '<domain/>'",                           # a constant, not built
    '"""Builds <disk> elements."""',              # a docstring
])
def test_the_check_leaves_other_strings_alone(snippet):
    assert xml_built_by_hand(snippet) == []


def test_no_plugin_builds_xml_outside_the_model():
    files = list(_plugin_files())
    assert len(files) > 50, 'found only %d plugin files' % len(files)
    offenders = []
    for path in files:
        with open(path, encoding='utf-8') as handle:
            for line, how in xml_built_by_hand(handle.read(), path):
                offenders.append('%s:%d (%s)' % (os.path.relpath(path, REPO_ROOT), line, how))
    assert not offenders, 'XML built outside plugins/module_utils/model, build it with the model instead: %s' % offenders
