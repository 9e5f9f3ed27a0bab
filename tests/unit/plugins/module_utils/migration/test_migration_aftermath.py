"""What a failed migration's message says about where the guest is (the decision itself is proven end to end by
tests/e2e/test_migrate_lost_answer.py)."""
from ansible_collections.virtops.compute.plugins.module_utils.migration import aftermath

RUNNING, PAUSED, SHUTOFF = 1, 3, 5


def test_a_guest_the_destination_runs_leaves_the_source_copy_paused():
    assert aftermath._where(PAUSED, 2, RUNNING, True, True) == (
        'it runs on the destination, so its copy on the source is left paused; remove that copy once you have '
        'checked the destination')


def test_an_unanswering_destination_leaves_the_source_paused():
    assert aftermath._where(PAUSED, 1, None, False, False).startswith(
        'it is left paused on the source, since the destination did not answer and may run it')


def test_a_guest_never_handed_over_runs_on_the_source():
    assert aftermath._where(RUNNING, 6, None, False, False) == (
        'it still runs on the source only (the destination did not answer, but it never received the whole guest)')
    assert aftermath._where(RUNNING, 6, None, True, False) == 'it still runs on the source only'


def test_other_places():
    assert aftermath._where(None, None, RUNNING, True, True) == 'it is running on the destination only'
    assert aftermath._where(RUNNING, 1, SHUTOFF, True, False) == (
        'it is running on the source and shutdown on the destination, so check both hosts')
    assert aftermath._where(None, None, None, True, False) == 'it is found on neither host, so check both'


def test_only_a_migration_that_never_completed_counts_as_not_handed_over():
    assert {'failed', 'cancelled', 'setup', 'none'} <= set(aftermath.NEVER_HANDED_OVER)
    assert not {'completed', 'postcopy-active', 'postcopy-paused', 'device', 'pre-switchover'} & set(
        aftermath.NEVER_HANDED_OVER)
