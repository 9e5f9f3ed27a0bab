"""A malformed uuid is refused by the guest module itself, in a sentence that names it: libvirt's schema check
(define_domain validates) refuses it too, but its first line names no element."""
import pytest

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError
from ansible_collections.virtops.compute.plugins.module_utils.guest import spec


def test_a_malformed_uuid_is_one_sentence_naming_it():
    with pytest.raises(VirtopsError) as caught:
        spec.validate('web1', dict(uuid='not-a-uuid'))
    assert str(caught.value) == "guest 'web1': uuid 'not-a-uuid' is not a UUID."


def test_a_uuid_is_accepted():
    spec.validate('web1', dict(uuid='6c1e1f86-2c4c-4e8e-9c2e-2b0c7a0b8d10'))
