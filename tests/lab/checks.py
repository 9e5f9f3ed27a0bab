"""Assertions shared by the end-to-end tests."""
import hashlib
import os
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


def _digest(data):
    # a digest, not the value: a failed comparison prints the snapshot, and secret values must not show
    return hashlib.sha256(data).hexdigest()


def _files(paths):
    """Every file under ``paths`` with its size and content digest (a missing path is recorded as missing)."""
    found = {}
    for top in paths:
        if not os.path.exists(top):
            found['file:' + top] = None
            continue
        walked = [(top, [], [])] if os.path.isfile(top) else os.walk(top)
        for root, _dirs, names in walked:
            for name in names or [None]:
                path = root if name is None else os.path.join(root, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, 'rb') as handle:
                        found['file:' + path] = (os.path.getsize(path), _digest(handle.read()))
                else:
                    found['file:' + path] = os.path.islink(path) and os.readlink(path)
    return found


_GONE = (42, 43, 49, 50, 66, 62)   # VIR_ERR_NO_DOMAIN, NO_NETWORK, NO_STORAGE_POOL, NO_STORAGE_VOL, NO_SECRET, NO_NWFILTER


def _secret_value(secret):
    import libvirt
    if "private='yes'" in secret.XMLDesc(0):
        return None      # libvirt never gives a private secret's value out; its XML still shows it
    try:
        return _digest(secret.value(0))
    except libvirt.libvirtError:
        return None      # private secrets cannot be read back; their XML still shows them


def _domain(dom, libvirt):
    persistent = dom.isPersistent()
    return (_steady(dom.XMLDesc(0)), dom.state()[0], dom.hasManagedSaveImage(0),
            _steady(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) if persistent and dom.isActive() else None,
            dom.autostart() if persistent else None, sorted(dom.snapshotListNames(0)))


def _volumes(pool, libvirt):
    try:
        return pool.listAllVolumes(0) if pool.isActive() else []
    except libvirt.libvirtError as err:
        if err.get_error_code() not in _GONE:
            raise
        return []


def libvirt_snapshot(conn, paths=(), refresh=True):
    """Names, XML and flags of everything libvirt holds that a module could change, to compare before/after.

    Domains (live and persistent XML, state, autostart, managed save, snapshots), pools, volumes,
    networks, secrets (with a digest of their value), nwfilters; plus, for ``paths``, every file's
    size and content digest (the files a module owns, e.g. a test's config drive directory).
    ``refresh=False`` skips rescanning pool directories (files made outside libvirt then go unseen)
    for suites that take hundreds of snapshots.
    What moves by itself (space used, timestamps, the agent connecting) is left out."""
    import libvirt
    state = {}

    def record(key, read):
        try:
            state[key] = read()
        except libvirt.libvirtError as err:
            # another session removed it between the listing and the read: it was not there to change
            if err.get_error_code() not in _GONE:
                raise

    for dom in conn.listAllDomains(0):
        record('domain:' + dom.name(), lambda dom=dom: _domain(dom, libvirt))
    for pool in conn.listAllStoragePools(0):
        record('pool:' + pool.name(), lambda pool=pool: (_steady(pool.XMLDesc(0)), pool.isActive(), pool.autostart()))
        if refresh:
            record('refresh:' + pool.name(), lambda pool=pool: pool.isActive() and pool.refresh(0))
            state.pop('refresh:' + pool.name(), None)
        for vol in _volumes(pool, libvirt):
            record('volume:%s/%s' % (pool.name(), vol.name()),
                   lambda vol=vol: _steady(vol.XMLDesc(0), vol.name().endswith('.log')))
    for net in conn.listAllNetworks(0):
        record('network:' + net.name(), lambda net=net: (net.XMLDesc(0), net.isActive(), net.autostart()))
    for secret in conn.listAllSecrets(0):
        record('secret:' + secret.UUIDString(), lambda secret=secret: (secret.XMLDesc(0), _secret_value(secret)))
    for nwfilter in conn.listAllNWFilters(0):
        record('nwfilter:' + nwfilter.name(), nwfilter.XMLDesc)
    state.update(_files(paths))
    return state
