"""The difference tracker behind check mode, diff mode and ``changed``."""
from ansible_collections.virtops.compute.plugins.module_utils.diff import REDACTED, DifferenceTracker, text_diff


def test_no_difference_when_values_match():
    tracker = DifferenceTracker()
    assert tracker.add('vcpus', 2, 2) is False
    assert not tracker.has_differences
    assert tracker.diff() == {'before': {}, 'after': {}}


def test_differences_are_listed_in_order():
    tracker = DifferenceTracker()
    tracker.add('vcpus', 1, 2)
    tracker.add('memory_mb', 512, 512)
    tracker.add('state', 'shutdown', 'running')
    assert tracker.has_differences
    assert tracker.differing_names() == ['vcpus', 'state']
    assert tracker.diff() == {'before': {'vcpus': 1, 'state': 'shutdown'}, 'after': {'vcpus': 2, 'state': 'running'}}
    assert tracker.diff(only_differences=False)['after'] == {'vcpus': 2, 'memory_mb': 512, 'state': 'running'}


def test_secrets_are_redacted_everywhere():
    tracker = DifferenceTracker(secret_keys=('password', 'chap_password'))
    tracker.add('password', 'old', 'new')
    tracker.add('graphics', [{'type': 'vnc', 'password': 'a'}], [{'type': 'vnc', 'password': 'b'}])
    tracker.add('token', None, 's3cret', secret=True)
    diff = tracker.diff()
    assert diff['before']['password'] == REDACTED and diff['after']['password'] == REDACTED
    assert diff['after']['graphics'] == [{'type': 'vnc', 'password': REDACTED}]
    assert diff['before']['token'] is None and diff['after']['token'] == REDACTED
    assert 's3cret' not in repr(tracker.differences()) and "'new'" not in repr(tracker.differences())


def test_recorded_values_are_copies():
    tracker = DifferenceTracker()
    nics = [{'mac': '52:54:00:00:00:01'}]
    tracker.add('nics', [], nics)
    nics.append({'mac': 'changed'})
    assert tracker.diff()['after']['nics'] == [{'mac': '52:54:00:00:00:01'}]


def test_merge_prefixes_names():
    outer, inner = DifferenceTracker(), DifferenceTracker()
    inner.add('size_gb', 1, 2)
    outer.merge(inner, prefix='volume.')
    assert outer.differing_names() == ['volume.size_gb']


def test_text_diff_headers():
    assert text_diff('a', 'b', 'before.xml', 'after.xml') == {
        'before': 'a', 'after': 'b', 'before_header': 'before.xml', 'after_header': 'after.xml'}
