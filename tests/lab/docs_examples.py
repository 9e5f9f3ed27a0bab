"""The documentation's examples as tests: the fenced blocks of README.md and docs/guide-*.md, how each is marked,
and the substitutions a guide tells its reader to make (pure logic; tests/e2e/test_docs_examples.py runs them).

How to mark a block (docs/dev/doc-examples.md says the same, with examples): an HTML comment right before the
fence (blank lines between are fine), whose text after ``example:`` is YAML::

    <!-- example: {run: tasks, replace: {/srv/images/debian-12.qcow2: LAB_BOOT_DISK}} -->

``run`` says what the block is:

- ``playbook`` -- plays, run with ansible-playbook (the default for a YAML list of plays);
- ``tasks`` -- a list of tasks, run as the tasks of one play on ``hosts`` (default ``compute``);
- ``file`` -- a file the reader writes (``path``: inventory.yml, requirements.yml, group_vars/...), used by the
  blocks after it; YAML must parse. ``path`` on a playbook block also keeps it under that name;
- ``shell`` -- commands run with bash in the guide's work directory (``ansible-playbook -i inventory.yml ...``);
- ``fragment`` -- not run, with a ``reason``; it must parse, its tasks may pass only real module options and its
  role variables must be real ones.

An unmarked YAML block that is not a list of plays fails the suite, so a new block is always classified; other
unmarked blocks (sh, ini, text) are not run. More keys: ``replace`` (text to replace, before running),
``vars`` (extra vars), ``check: true`` (run with --check --diff), ``again: unchanged`` (run twice, the second
with no change), ``expect`` (texts the output must hold), ``hosts`` (for ``tasks``).

A comment ``<!-- examples: {...} -->`` anywhere in a file sets ``replace`` for every block of the file, and
``rename`` ({web1: lab-doc-web1}: whole words, so that the lab's sweep of ``lab-*`` guests finds leftovers) and
``cleanup`` (tasks run on ``compute`` after the file's examples, besides the removal of every libvirt object
they made).

``LAB_*`` words in replacement values stand for the lab's values (LAB_VALUES).
"""
import re
from dataclasses import dataclass, field

import yaml

FENCE = re.compile(r'^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$')
MARKER = re.compile(r'<!--\s*(?P<scope>examples?):(?P<body>.*?)-->', re.S)
RUN_KINDS = ('playbook', 'tasks', 'file', 'shell', 'fragment')
BLOCK_KEYS = {'run', 'path', 'replace', 'vars', 'check', 'again', 'expect', 'hosts', 'reason'}
DOC_KEYS = {'replace', 'rename', 'cleanup'}
# what the LAB_* words stand for; test_docs_examples.py fills them in
LAB_VALUES = {
    'LAB_BOOT_DISK': 'a bootable qcow2 of the tiny lab image (SYSLINUX, kernel, busybox initramfs)',
    'LAB_FULL_DIR': "the full lab image's directory (disk.qcow2, vmlinuz, initrd.img)",
    'LAB_KERNEL': "the tiny image's kernel", 'LAB_INITRD': "the tiny image's initramfs",
    'LAB_CMDLINE': "the tiny image's kernel command line",
    'LAB_PYTHON': "the Python of the test run (the project's .venv, with libvirt-python and lxml)",
    'LAB_TARBALL': 'the collection tarball ansible-galaxy built from this checkout',
    'LAB_ISCSI_PORTAL': "the lab's tgtd portal", 'LAB_ISCSI_IQN': "its target's IQN", 'LAB_ISCSI_LUN': 'its LUN',
    'LAB_CHAP_USER': 'its CHAP user', 'LAB_CHAP_PASSWORD': 'its CHAP password',
}
LAB_WORD = re.compile(r'\bLAB_[A-Z0-9_]+\b')


class ExampleError(Exception):
    """A block that cannot be run as marked; the text says which and why."""


@dataclass
class Block:
    doc: str
    line: int
    lang: str
    text: str
    marker: dict = field(default_factory=dict)

    @property
    def where(self):
        return '%s:%d' % (self.doc, self.line)


def _marker(body, where, allowed):
    try:
        data = yaml.safe_load(body) if body.strip() else {}
    except yaml.YAMLError as err:
        raise ExampleError('%s: the example marker is not YAML: %s' % (where, err)) from None
    if not isinstance(data, dict):
        raise ExampleError('%s: the example marker must be a mapping, got %r' % (where, data))
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ExampleError('%s: unknown example marker key(s) %s (known: %s)' % (where, unknown, sorted(allowed)))
    return data


def parse(text, doc):
    """``(settings, blocks)`` of one Markdown file: the file-wide ``examples:`` settings and every fenced block."""
    lines = text.split('\n')
    settings = {}
    for match in MARKER.finditer(text):
        if match.group('scope') == 'examples':
            line = text.count('\n', 0, match.start()) + 1
            settings.update(_marker(match.group('body'), '%s:%d' % (doc, line), DOC_KEYS))
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = opening.group('indent')
        body, end = [], index + 1
        while end < len(lines) and not re.match(r'^%s```[ \t]*$' % re.escape(indent), lines[end]):
            body.append(lines[end][len(indent):] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        if end == len(lines):
            raise ExampleError('%s:%d: the code block is never closed' % (doc, index + 1))
        where = '%s:%d' % (doc, index + 1)
        blocks.append(Block(doc=doc, line=index + 1, lang=opening.group('lang'), text='\n'.join(body) + '\n',
                            marker=_marker_before(lines, index, where)))
        index = end + 1
    return settings, blocks


def _marker_before(lines, index, where):
    """The ``example:`` comment that ends on the last non-blank line before the fence, else {}."""
    end = index - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    if end < 0 or not lines[end].rstrip().endswith('-->'):
        return {}
    start = end
    while start >= 0 and '<!--' not in lines[start]:
        start -= 1
    match = MARKER.search('\n'.join(lines[max(start, 0):end + 1]))
    if not match or match.group('scope') != 'example':
        return {}
    return _marker(match.group('body'), where, BLOCK_KEYS)


def kind(block):
    """What to do with a block: one of RUN_KINDS, or None for a non-YAML block nobody marked."""
    run = block.marker.get('run')
    if run is not None:
        if run not in RUN_KINDS:
            raise ExampleError('%s: run: %s is not one of %s' % (block.where, run, ', '.join(RUN_KINDS)))
        if run == 'fragment' and not block.marker.get('reason'):
            raise ExampleError('%s: a fragment needs a reason (why it cannot run on its own)' % block.where)
        if run == 'file' and not block.marker.get('path'):
            raise ExampleError('%s: a file block needs the path it is written to' % block.where)
        return run
    if block.lang not in ('yaml', 'yml'):
        return None
    data = load_yaml(block.text, block.where)
    if isinstance(data, list) and data and all(isinstance(play, dict) and 'hosts' in play for play in data):
        return 'playbook'
    raise ExampleError('%s: this YAML block is not a list of plays, so it cannot run as it stands; mark it with '
                       '<!-- example: {run: tasks} -->, {run: file, path: ...} or {run: fragment, reason: ...} '
                       '(see docs/dev/doc-examples.md)' % block.where)


def load_yaml(text, where):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ExampleError('%s: the block is not valid YAML: %s' % (where, err)) from None


def substitute(text, block_marker, settings, lab, where):
    """The block's text with the block's and the file's replacements (as the text reads in the file), then the
    file's renames, then LAB_* values."""
    replace = dict(settings.get('replace') or {})
    replace.update(block_marker.get('replace') or {})
    for old in sorted(replace, key=lambda key: -len(str(key))):
        if str(old) not in text:
            if old in (block_marker.get('replace') or {}):
                raise ExampleError('%s: the replacement of %r finds nothing to replace (the example changed?)' % (where, old))
            continue
        text = text.replace(str(old), str(replace[old]))
    for old, new in (settings.get('rename') or {}).items():
        text = re.sub(r'(?<![\w.-])%s(?![\w])' % re.escape(str(old)), str(new), text)
    return fill_lab_words(text, lab, where)


def fill_lab_words(text, lab, where):
    def value(match):
        if match.group(0) not in lab:
            raise ExampleError('%s: %s is not a lab value (known: %s)' % (where, match.group(0), ', '.join(sorted(lab))))
        return str(lab[match.group(0)])
    return LAB_WORD.sub(value, text)


def lab_words(text):
    return set(LAB_WORD.findall(text))


def as_play(tasks_text, hosts):
    """A tasks block as the text of a one-play playbook (the block's own text, comments included, indented)."""
    body = '\n'.join(('      ' + line) if line.strip() else '' for line in tasks_text.rstrip().split('\n'))
    return ('- name: A documentation example\n  hosts: %s\n  gather_facts: false\n  tasks:\n%s\n' % (hosts, body))


def recap(output):
    """{host: {ok, changed, failed, ...}} from ansible-playbook's PLAY RECAP."""
    found = {}
    for match in re.finditer(r'^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$', output, re.M):
        found[match.group(1)] = dict((key, int(value)) for key, value in re.findall(r'(\w+)=(\d+)', match.group(2)))
    return found
