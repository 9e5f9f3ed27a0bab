"""Writes the intersphinx inventory of the pages of Ansible's own documentation the collection's pages link to.

antsibull-docs links every module page to Ansible's docsite (its common return values, configuration settings,
ansible.builtin plugins), resolved through an intersphinx inventory; the build runs offline and cannot download
Ansible's, so this one names those targets: the pages in TARGETS, and the page of every ansible.builtin module and
plugin of the installed ansible-core. A page that links somewhere else fails the build (Sphinx runs with -W) until
the target is added to TARGETS.
"""
import os
import sys
import zlib

import ansible

BASE = 'https://docs.ansible.com/projects/ansible/devel/'
CONFIG = 'reference_appendices/config.html'
# (name, domain:role, path under BASE, title)
TARGETS = [
    ('common_return_values', 'std:label', 'reference_appendices/common_return_values.html', 'Return Values'),
    ('ansible_configuration_settings', 'std:label', CONFIG, 'Ansible Configuration Settings'),
    ('ansible_collections.ansible.builtin.setup_module', 'std:label',
     'collections/ansible/builtin/setup_module.html', 'ansible.builtin.setup module'),
] + [(name, 'std:envvar', CONFIG + '#envvar-' + name, '-') for name in (
    'ANSIBLE_CACHE_PLUGIN', 'ANSIBLE_CACHE_PLUGIN_CONNECTION', 'ANSIBLE_CACHE_PLUGIN_PREFIX',
    'ANSIBLE_CACHE_PLUGIN_TIMEOUT')]


def builtin_plugins():
    """(name, 'std:label', path, title) of the page of every ansible.builtin module and plugin installed."""
    root = os.path.dirname(ansible.__file__)
    folders = [('module', os.path.join(root, 'modules'))] + [
        (kind, os.path.join(root, 'plugins', kind)) for kind in ('become', 'cache', 'callback', 'connection',
                                                                 'inventory', 'lookup', 'shell', 'strategy', 'vars')]
    found = []
    for kind, folder in folders:
        for entry in sorted(os.listdir(folder)):
            name, ext = os.path.splitext(entry)
            if ext == '.py' and not name.startswith('_'):
                page = '%s_%s' % (name, kind)
                found.append(('ansible_collections.ansible.builtin.' + page, 'std:label',
                              'collections/ansible/builtin/%s.html' % page, 'ansible.builtin.%s %s' % (name, kind)))
    return found


def inventory():
    header = ('# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
              '# The remainder of this file is compressed using zlib.\n')
    named = set(target[0] for target in TARGETS)
    targets = TARGETS + [target for target in builtin_plugins() if target[0] not in named]
    lines = ''.join('%s %s -1 %s %s\n' % target for target in targets)
    return header.encode() + zlib.compress(lines.encode())


if __name__ == '__main__':
    with open(sys.argv[1], 'wb') as handle:
        handle.write(inventory())
