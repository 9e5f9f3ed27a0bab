"""Writes the intersphinx inventory of the few pages of Ansible's own documentation the collection's pages link to.

antsibull-docs links every module page to Ansible's docsite (its common return values, configuration settings,
ansible.builtin modules), resolved through an intersphinx inventory; the build runs offline and cannot download
Ansible's, so this one names just those targets. A page that links somewhere new fails the build (Sphinx runs
with -W) until the target is added to TARGETS.
"""
import sys
import zlib

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


def inventory():
    header = ('# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
              '# The remainder of this file is compressed using zlib.\n')
    lines = ''.join('%s %s -1 %s %s\n' % target for target in TARGETS)
    return header.encode() + zlib.compress(lines.encode())


if __name__ == '__main__':
    with open(sys.argv[1], 'wb') as handle:
        handle.write(inventory())
