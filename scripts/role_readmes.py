"""Writes the variables table of each role's README.md from the role's meta/argument_specs.yml.

The README's prose (what the role does, an example play) is written by hand; the table between the two marker
lines below is generated, so that it lists exactly the variables the role checks, with their types and defaults.
Run it after changing a role's argument_specs.yml (tests/unit/roles/test_role_readmes.py fails until then):

    .venv/bin/python scripts/role_readmes.py            # rewrite the tables
    .venv/bin/python scripts/role_readmes.py --check    # exit 1 when a table is out of date
"""
import os
import re
import sys

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = '<!-- variables: generated from meta/argument_specs.yml by scripts/role_readmes.py -->'
END = '<!-- end of variables -->'
# Ansible's documentation markup, rendered as Markdown: C(code), O(option), V(value), M(module), I(italic), B(bold)
_MARKUP = [(re.compile(r'\b[COVM]\(([^()]*)\)'), r'`\1`'), (re.compile(r'\bI\(([^()]*)\)'), r'*\1*'),
           (re.compile(r'\bB\(([^()]*)\)'), r'**\1**'), (re.compile(r'\bU\(([^()]*)\)'), r'<\1>'),
           (re.compile(r'\bL\(([^(),]*),\s*([^()]*)\)'), r'[\1](\2)')]


def _markdown(text):
    if isinstance(text, list):
        text = ' '.join(text)
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return ' '.join(text.split()).replace('|', '\\|')


def _default(spec):
    if spec.get('required'):
        return 'required'
    if 'default' not in spec:
        return ''
    value = spec['default']
    if value == '':
        return "`''`"
    text = yaml.safe_dump(value, default_flow_style=True, width=10000).strip()
    text = text[:-4].strip() if text.endswith('\n...') else text
    return '`%s`' % text.replace('|', '\\|')


def _code_list(names):
    return ', '.join('`%s`' % name for name in names)


def variables_table(role):
    """The Markdown table of every entry point's options of ``role``."""
    with open(os.path.join(REPO_ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        entry_points = yaml.safe_load(handle)['argument_specs']
    lines = []
    for entry_point, spec in entry_points.items():
        if len(entry_points) > 1:
            lines += ['', 'Entry point `%s`:' % entry_point]
        lines += ['', '| variable | type | default | description |', '|---|---|---|---|']
        for name, option in (spec.get('options') or {}).items():
            kind = option.get('type', 'str')
            if option.get('elements'):
                kind = '%s of %s' % (kind, option['elements'])
            choices = ' One of %s.' % _code_list(option['choices']) if option.get('choices') else ''
            keys = ' Keys of each item: %s.' % _code_list(option['options']) if option.get('options') else ''
            description = _markdown(option.get('description', '')) + choices + keys
            lines.append('| `%s` | %s | %s | %s |' % (name, kind, _default(option), description))
    return '\n'.join(lines[1:])


def updated_readme(role):
    """The role's README text with a fresh variables table, or None when it has no markers."""
    path = os.path.join(REPO_ROOT, 'roles', role, 'README.md')
    with open(path) as handle:
        text = handle.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return text, None
    return text, text[:start + len(BEGIN)] + '\n\n' + variables_table(role) + '\n\n' + text[end:]


def roles():
    return sorted(name for name in os.listdir(os.path.join(REPO_ROOT, 'roles'))
                  if os.path.exists(os.path.join(REPO_ROOT, 'roles', name, 'meta', 'argument_specs.yml')))


def main(argv):
    check = '--check' in argv
    stale = []
    for role in roles():
        path = os.path.join(REPO_ROOT, 'roles', role, 'README.md')
        if not os.path.exists(path):
            stale.append('%s has no README.md' % role)
            continue
        current, wanted = updated_readme(role)
        if wanted is None:
            stale.append('roles/%s/README.md has no variables markers (%s ... %s)' % (role, BEGIN, END))
        elif wanted != current:
            if check:
                stale.append('roles/%s/README.md: the variables table is out of date' % role)
            else:
                with open(path, 'w') as handle:
                    handle.write(wanted)
                print('rewrote the variables table of roles/%s/README.md' % role)
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
