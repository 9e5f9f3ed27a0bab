"""Assertions shared by the end-to-end tests."""
import re


def assert_one_sentence(msg, *must_contain):
    """A failure message is one sentence, names what it is about, and carries no traceback."""
    assert msg, 'the module failed without a message'
    assert '\n' not in msg.strip(), 'message spans several lines: %r' % msg
    assert 'Traceback' not in msg, 'message carries a traceback: %r' % msg
    assert msg.strip().endswith('.'), 'message is not a sentence: %r' % msg
    assert len(re.findall(r'[.!?](?:\s|$)', msg.strip())) <= 2, 'message is more than one sentence: %r' % msg
    for text in must_contain:
        assert text in msg, '%r does not name %r' % (msg, text)


_VOLATILE = [
    # pool and volume usage moves as running guests write their console logs and disks
    re.compile(r'\s*<(allocation|available|physical)( [^>]*)?>[^<]*</\1>'),
    re.compile(r'\s*<timestamps>.*?</timestamps>', re.S),
    # the guest agent connecting or leaving is the guest's doing, not a module's
    re.compile(r" state='(connected|disconnected)'"),
]
_LOG_CAPACITY = re.compile(r'\s*<capacity( [^>]*)?>[^<]*</capacity>')


def _steady(xml, is_log=False):
    for pattern in _VOLATILE:
        xml = pattern.sub('', xml)
    return _LOG_CAPACITY.sub('', xml) if is_log else xml


def libvirt_snapshot(conn):
    """Names and XML of everything libvirt holds that a module could change, to compare before/after.

    What moves by itself (space used, timestamps, the agent connecting) is left out."""
    state = {}
    for dom in conn.listAllDomains(0):
        state['domain:' + dom.name()] = (_steady(dom.XMLDesc(0)), dom.state()[0], dom.hasManagedSaveImage(0))
    for pool in conn.listAllStoragePools(0):
        state['pool:' + pool.name()] = (_steady(pool.XMLDesc(0)), pool.isActive())
        if pool.isActive():
            pool.refresh(0)
            for vol in pool.listAllVolumes(0):
                state['volume:%s/%s' % (pool.name(), vol.name())] = _steady(vol.XMLDesc(0), vol.name().endswith('.log'))
    for net in conn.listAllNetworks(0):
        state['network:' + net.name()] = (net.XMLDesc(0), net.isActive())
    for secret in conn.listAllSecrets(0):
        state['secret:' + secret.UUIDString()] = secret.XMLDesc(0)
    for nwfilter in conn.listAllNWFilters(0):
        state['nwfilter:' + nwfilter.name()] = nwfilter.XMLDesc(0)
    return state
