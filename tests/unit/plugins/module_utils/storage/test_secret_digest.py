"""The digest a secret's description carries: scrypt with a salt, older tags read as "value unknown"."""
import hashlib

from ansible_collections.virtops.compute.plugins.module_utils.storage import secrets


def test_a_tag_matches_its_value_only_and_is_salted():
    tag = secrets.new_tag('Chap-Secret-42')
    assert tag.startswith('[virtops-digest:scrypt:15:8:1:') and 'Chap-Secret-42' not in tag
    assert secrets.value_matches(tag, 'Chap-Secret-42')
    assert not secrets.value_matches(tag, 'Chap-Secret-43')
    assert secrets.new_tag('Chap-Secret-42') != tag, 'two tags of one value share a salt'


def test_the_old_salted_sha256_tag_is_unknown_and_gets_rewritten():
    salt = '0123456789abcdef'
    old = '[virtops-digest:sha256:%s:%s]' % (salt, hashlib.sha256((salt + ':pw').encode()).hexdigest())
    description, tag = secrets.split_description('lab CHAP ' + old)
    assert description == 'lab CHAP' and tag == old
    assert not secrets.value_matches(tag, 'pw')


def test_a_tag_asking_for_too_much_work_does_not_match_and_costs_nothing():
    greedy = '[virtops-digest:scrypt:30:8:1:%s:%s]' % ('00' * 16, '00' * 32)
    assert not secrets.value_matches(greedy, 'pw')


def test_description_text_keeps_the_users_words_before_the_tag():
    assert secrets.describe_text('lab CHAP', '[virtops-digest:x]') == 'lab CHAP [virtops-digest:x]'
    assert secrets.describe_text(None, None) is None
    assert secrets.split_description('no tag here') == ('no tag here', None)
