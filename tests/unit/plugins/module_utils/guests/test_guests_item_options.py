"""The guests module's item keys beyond the guest module's: flavors, config drive metadata, volumes, waits."""
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guests.item_options import (
    ITEM_OPTIONS, VOLUME_OPTIONS, apply_flavor, guest_options, secret_values, validate_item,
)

FLAVORS = dict(small=dict(vcpus=1, memory_mb=2048, root_size_gb=20), big=dict(vcpus=4, memory_mb=8192))
DEFAULTS = dict(wait_for='none', wait_timeout=300)
ROLE_SPECS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'roles', 'guest', 'meta', 'argument_specs.yml')


def check(item, flavors=None):
    secrets = set()
    return validate_item(ArgumentSpecValidator(ITEM_OPTIONS), item, 0, flavors or FLAVORS, DEFAULTS, secrets), secrets


def test_a_flavor_fills_what_the_item_leaves_out():
    params, _secrets = check(dict(name='g', image='/i.qcow2', flavor='small', memory_mb=1024))
    assert (params['vcpus'], params['memory_mb'], params['root_size_gb']) == (1, 1024, 20)


def test_a_flavors_root_size_is_skipped_without_an_image():
    merged = apply_flavor(dict(name='g', kernel='/k', flavor='small'), FLAVORS, 'guests[0]')
    assert 'root_size_gb' not in merged and merged['memory_mb'] == 2048


@pytest.mark.parametrize('item, flavors, words', [
    (dict(name='g', flavor='huge'), FLAVORS, ["flavor 'huge'", 'big, small']),
    (dict(name='g', flavor='odd'), dict(odd=dict(cpus=2)), ["flavor 'odd'", 'cpus']),
    (dict(name='g', config_drive=dict(hostnam='x')), FLAVORS, ['config_drive', "'hostnam'"]),
    (dict(name='g', config_drive=dict(user_data='x' * 70000)), FLAVORS, ['config_drive', 'user_data']),
    (dict(name='g', config_drive=42), FLAVORS, ['config_drive', 'int']),
    (dict(name='g', volumes=[dict(target='vda', path='/x')]), FLAVORS, ['volumes[0]', 'root disk']),
    (dict(name='g', volumes=[dict(target='vdb', path='/x'), dict(target='vdb', path='/y')]), FLAVORS, ['volumes[1]', 'vdb']),
    (dict(name='g', volumes=[dict(target='vdb')]), FLAVORS, ['volumes[0]', 'exactly one source']),
    (dict(name='g', volumes=[dict(target='vdb', volume=dict(pool='p'))]), FLAVORS, ['name', 'volumes']),
    (dict(name='g', wait_for='agent', guest_agent=False), FLAVORS, ['wait_for agent', 'guest_agent']),
    (dict(name='g', wait_timeout=0), FLAVORS, ['wait_timeout']),
    (dict(name='g', colour='red'), FLAVORS, ["'colour'"]),
], ids=['unknown flavor', 'bad flavor key', 'bad drive key', 'drive user_data too long', 'drive not a dict',
        'root target', 'target twice', 'no source', 'volume without name', 'wait without agent', 'zero timeout',
        'unknown key'])
def test_bad_items_are_refused_in_one_sentence_naming_the_field(item, flavors, words):
    with pytest.raises(VirtopsError) as caught:
        check(item, flavors)
    text = str(caught.value)
    assert text.startswith('guests[0]') and text.endswith('.') and text.count('. ') == 0, text
    for word in words:
        assert word in text, text


def test_drive_metadata_is_completed_and_its_secrets_collected():
    params, secrets = check(dict(name='g', config_drive=dict(admin_pass='s3cret', meta=dict(a=1))))
    drive = params['config_drive']
    assert drive['name'] == 'g' and drive['format'] == 'iso9660' and drive['availability_zone'] == 'nova'
    assert 's3cret' in secrets


def test_a_drive_path_stays_a_path_and_waits_turn_the_agent_on():
    params, _secrets = check(dict(name='g', config_drive='/d.iso', wait_for='cloud_init'))
    assert params['config_drive'] == '/d.iso' and params['guest_agent'] is True and params['wait_timeout'] == 300
    options = guest_options(dict(params, uri='qemu:///system'))
    assert 'wait_for' not in options and 'volumes' not in options and options['uri'] == 'qemu:///system'


def test_secret_values_are_found_anywhere():
    items = [dict(config_drive=dict(admin_pass='a1', random_seed='c2VlZA==')),
             dict(volumes=[dict(iscsi=dict(chap_password='c3'))]), dict(graphics=[dict(password='v4')])]
    assert secret_values(items) == {'a1', 'c2VlZA==', 'c3', 'v4'}


def test_the_roles_argument_spec_lists_every_item_key():
    with open(ROLE_SPECS) as handle:
        spec = yaml.safe_load(handle)['argument_specs']['main']['options']
    item_keys = spec['guests']['options']
    assert set(item_keys) == set(ITEM_OPTIONS)
    assert set(item_keys['volumes']['options']) == set(VOLUME_OPTIONS)
    for key, option in ITEM_OPTIONS.items():
        assert item_keys[key]['type'] == option['type'], key
