"""The parsing behind the documentation's examples as tests (tests/lab/docs_examples.py): blocks, markers,
substitutions, and the refusal of a YAML block nobody classified."""
import pytest

from lab import docs_examples as examples
from lab.docs_examples import ExampleError

DOC = '''# A guide
<!-- examples: {rename: {web1: lab-doc-web1}, replace: {/srv/images/debian-12.qcow2: LAB_BOOT_DISK}} -->

Some text.

```yaml
- name: A play
  hosts: compute
  tasks: []
```

<!-- example: {run: tasks, replace: {"memory_mb: 2048": "memory_mb: 256"}} -->

```yaml
- virtops.compute.guest:
    name: web1
    image: /srv/images/debian-12.qcow2
    memory_mb: 2048
```

- A list item with a nested block:

  <!-- example:
    run: file
    path: inventory.yml
  -->
  ```yaml
  compute:
    hosts:
      compute1:
  ```

```sh
ansible-playbook -i inventory.yml web.yml
```
'''


def test_blocks_their_markers_and_the_file_wide_settings():
    settings, blocks = examples.parse(DOC, 'docs/guide.md')
    assert settings == {'rename': {'web1': 'lab-doc-web1'}, 'replace': {'/srv/images/debian-12.qcow2': 'LAB_BOOT_DISK'}}
    assert [(block.line, block.lang) for block in blocks] == [(6, 'yaml'), (14, 'yaml'), (27, 'yaml'), (33, 'sh')]
    assert [examples.kind(block) for block in blocks] == ['playbook', 'tasks', 'file', None]
    assert blocks[1].marker == {'run': 'tasks', 'replace': {'memory_mb: 2048': 'memory_mb: 256'}}
    assert blocks[2].marker == {'run': 'file', 'path': 'inventory.yml'}
    assert blocks[2].text == 'compute:\n  hosts:\n    compute1:\n'      # the list item's indent is taken off


def test_substitutions_rename_whole_words_then_replace_then_fill_lab_values():
    settings, blocks = examples.parse(DOC, 'docs/guide.md')
    text = examples.substitute(blocks[1].text, blocks[1].marker, settings, {'LAB_BOOT_DISK': '/lab/boot.qcow2'}, 'here')
    assert text == ('- virtops.compute.guest:\n    name: lab-doc-web1\n    image: /lab/boot.qcow2\n'
                    '    memory_mb: 256\n')
    renamed = examples.substitute('web1 web1-data.qcow2 web1.example.org {{ vault_web1_pass }} web10 xweb1\n', {},
                                  {'rename': {'web1': 'lab-doc-web1'}}, {}, 'here')
    assert renamed == 'lab-doc-web1 lab-doc-web1-data.qcow2 lab-doc-web1.example.org {{ vault_web1_pass }} web10 xweb1\n'


def test_a_replacement_that_finds_nothing_fails_so_a_changed_example_is_noticed():
    with pytest.raises(ExampleError, match='finds nothing to replace'):
        examples.substitute('image: /other.qcow2\n', {'replace': {'/srv/x.qcow2': 'LAB_BOOT_DISK'}}, {}, {}, 'doc:3')
    # a file-wide replacement need not apply to every block
    assert examples.substitute('image: /other.qcow2\n', {}, {'replace': {'/srv/x.qcow2': 'y'}}, {}, 'doc:3') == 'image: /other.qcow2\n'


def test_replacements_are_written_as_the_file_reads_and_renames_come_after():
    settings = {'rename': {'web1': 'lab-doc-web1'}}
    text = examples.substitute('chap_username: web1\nname: web1\n', {'replace': {'chap_username: web1': 'chap_username: LAB_CHAP_USER'}},
                               settings, {'LAB_CHAP_USER': 'lab'}, 'doc:3')
    assert text == 'chap_username: lab\nname: lab-doc-web1\n'


def test_an_unknown_lab_value_is_named():
    with pytest.raises(ExampleError, match='LAB_NOPE is not a lab value'):
        examples.fill_lab_words('x: LAB_NOPE\n', {'LAB_BOOT_DISK': '/x'}, 'doc:3')


@pytest.mark.parametrize('text, marker, message', [
    ('```yaml\n- virtops.compute.guest: {name: x}\n```\n', '', 'not a list of plays'),
    ('```yaml\nkey: value\n```\n', '', 'not a list of plays'),
    ('```yaml\n- x\n```\n', '<!-- example: {run: fragment} -->\n', 'needs a reason'),
    ('```yaml\n- x\n```\n', '<!-- example: {run: file} -->\n', 'needs the path'),
    ('```yaml\n- x\n```\n', '<!-- example: {run: sometimes} -->\n', 'run: sometimes is not one of'),
    ('```yaml\n- x\n```\n', '<!-- example: {runs: tasks} -->\n', "unknown example marker key(s) ['runs']"),
    ('```yaml\n- [x\n```\n', '', 'not valid YAML'),
])
def test_blocks_that_cannot_run_as_marked_are_refused(text, marker, message):
    with pytest.raises(ExampleError) as raised:
        _settings, blocks = examples.parse(marker + text, 'README.md')
        examples.kind(blocks[0])
    assert message in str(raised.value) and 'README.md:' in str(raised.value)


def test_an_unclosed_block_is_refused():
    with pytest.raises(ExampleError, match='never closed'):
        examples.parse('```yaml\n- hosts: all\n', 'README.md')


def test_a_comment_that_is_not_a_marker_is_no_marker():
    _settings, blocks = examples.parse('<!-- just a note -->\n```sh\nls\n```\n', 'README.md')
    assert blocks[0].marker == {} and examples.kind(blocks[0]) is None


def test_tasks_become_a_play_keeping_their_text():
    play = examples.as_play('# a comment\n- ansible.builtin.ping:\n\n- ansible.builtin.ping:\n', 'compute')
    assert play == ('- name: A documentation example\n  hosts: compute\n  gather_facts: false\n  tasks:\n'
                    '      # a comment\n      - ansible.builtin.ping:\n\n      - ansible.builtin.ping:\n')
    assert examples.load_yaml(play, 'x')[0]['tasks'] == [{'ansible.builtin.ping': None}, {'ansible.builtin.ping': None}]


def test_recap_reads_every_host():
    out = ('PLAY RECAP *****\ncompute1                   : ok=3    changed=1    unreachable=0    failed=0    '
           'skipped=0    rescued=0    ignored=0   \n')
    assert examples.recap(out) == {'compute1': dict(ok=3, changed=1, unreachable=0, failed=0, skipped=0, rescued=0,
                                                    ignored=0)}
