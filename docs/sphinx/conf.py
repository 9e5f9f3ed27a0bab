# Sphinx configuration of the collection's HTML documentation (make docs, scripts/docs.sh): the module, plugin
# and role pages antsibull-docs renders, and the guides of docs/ in Markdown (myst-parser).
import os
project = 'virtops.compute'
copyright = 'virtops.compute contributors'
title = 'virtops.compute documentation'
html_short_title = 'virtops.compute'

extensions = ['sphinx.ext.intersphinx', 'sphinx_antsibull_ext', 'myst_parser']
# Links into Ansible's own docsite resolve through an inventory scripts/docs.sh writes (ansible_inventory.py):
# the build runs offline.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', os.environ['VIRTOPS_ANSIBLE_INVENTORY']),
}
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
# the guides' headings become link targets, so "see the section on ..." links resolve
myst_heading_anchors = 3

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
html_theme_options = {'collapse_navigation': False}

default_role = 'any'
# every reference must resolve: a broken link fails the build (scripts/docs.sh passes -W)
nitpicky = True
