"""A live migration whose last answer is lost (lab-host2 -> lab-host9 through lab.faultproxy): the destination starts
the guest, its answer to the source's finish step never arrives, and the link is cut. libvirt then resumes the guest
on the source by itself; migrate must not leave it running there too. The guest runs in exactly one place: on the
destination, with its copy on the source paused, whether the destination stays unreachable or answers again."""
import libvirt
import pytest

from lab.checks import assert_one_sentence
from lab.faultproxy import FINISH3_PARAMS, FaultProxy
from lab.runner import run_module
from test_migrate import MIGRATION_URI, find, uptime
# the fixtures, used by name
from test_migrate import lab_pair, migrating  # noqa: F401  pylint: disable=unused-import

NAME = 'lab-mig-lost'


def _running_copies(conns):
    return [conn.getURI() for conn in conns
            if find(conn, NAME) is not None and find(conn, NAME).state()[0] == libvirt.VIR_DOMAIN_RUNNING]


@pytest.mark.parametrize('heal, says', [
    (False, ['did not answer', 'left paused on the source']),
    (True, ['runs on the destination', 'left paused']),
])
def test_lost_finish_answer_leaves_one_running_copy(lab_pair, migrating, heal, says):  # noqa: F811
    src_host, dst_host, src, dst = lab_pair
    migrating(NAME)
    up_before = uptime(src, NAME)
    with FaultProxy(dst_host.tcp_port, lose_reply_to=FINISH3_PARAMS, heal=heal) as proxy:
        result = run_module('migrate', uri=src_host.uri, guest=NAME, dest_uri=proxy.uri, migration_uri=MIGRATION_URI,
                            timeout=120)
        assert proxy.lost.is_set(), 'the finish step never ran, so no answer was lost: %s' % result.msg
    assert result.failed
    assert_one_sentence(result.msg, NAME, *says)
    # the guest runs where it moved to, live (its uptime carried on), and nowhere else
    assert _running_copies([src, dst]) == [dst.getURI()], result.msg
    assert uptime(dst, NAME) > up_before, 'the guest on the destination was restarted, not migrated'
    stale = find(src, NAME)
    assert stale is not None and stale.state()[0] == libvirt.VIR_DOMAIN_PAUSED, 'the source copy is not held paused'
    assert any('paused the guest on the source' in action for action in result['actions']), result['actions']
