# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning a live migration: what may move, which disks are copied, the flags and parameters.

Everything here is pure (a parsed ``Domain`` and the module's options in, a plan or one
sentence out), so it is unit-tested without libvirt; ``migration_job`` runs the plan.
The flag values are libvirt's stable ABI numbers, kept here so that the planning works
(and is tested) where the libvirt bindings are absent.
"""


from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError

MIGRATE_LIVE = 1
MIGRATE_PEER2PEER = 2
MIGRATE_PERSIST_DEST = 8
MIGRATE_UNDEFINE_SOURCE = 16
MIGRATE_NON_SHARED_DISK = 64
MIGRATE_NON_SHARED_INC = 128
MIGRATE_UNSAFE = 512
MIGRATE_ABORT_ON_ERROR = 4096
MIGRATE_AUTO_CONVERGE = 8192
MIGRATE_POSTCOPY = 32768
MIGRATE_TLS = 65536

FLAG_NAMES = (
    (MIGRATE_LIVE, 'live'), (MIGRATE_PEER2PEER, 'peer2peer'), (MIGRATE_PERSIST_DEST, 'persist_dest'),
    (MIGRATE_UNDEFINE_SOURCE, 'undefine_source'), (MIGRATE_NON_SHARED_DISK, 'non_shared_disk'),
    (MIGRATE_NON_SHARED_INC, 'non_shared_inc'), (MIGRATE_UNSAFE, 'unsafe'), (MIGRATE_ABORT_ON_ERROR, 'abort_on_error'),
    (MIGRATE_AUTO_CONVERGE, 'auto_converge'), (MIGRATE_POSTCOPY, 'postcopy'), (MIGRATE_TLS, 'tls'),
)

# Cache modes under which QEMU keeps no host page cache of its own, so two hosts on shared storage agree.
SAFE_CACHE_MODES = ('none', 'directsync')
LOCAL_DISK_TYPES = ('file', 'block')
HOST_DEVICE_PATHS = ('devices/hostdev', 'devices/interface[@type="hostdev"]')
# Devices tied to this host's hardware or files, which QEMU cannot carry to another host.
UNMIGRATABLE = (
    ('devices/hostdev', 'a host device passed through (hostdev)'),
    ('devices/interface[@type="hostdev"]', 'a host network device passed through (interface type hostdev)'),
    ('devices/filesystem', 'a host directory passed through (filesystem)'),
    ('devices/shmem', 'shared memory with the host (shmem)'),
    ('devices/smartcard[@mode="host"]', 'a host smartcard (smartcard mode host)'),
    ('devices/redirdev', 'a redirected USB device (redirdev)'),
)

PARAM_URI = 'migrate_uri'
PARAM_BANDWIDTH = 'bandwidth'
PARAM_MIGRATE_DISKS = 'migrate_disks'
PARAM_AUTO_CONVERGE_INITIAL = 'auto_converge.initial'
PARAM_AUTO_CONVERGE_INCREMENT = 'auto_converge.increment'


def flag_names(flags):
    """The names of the flags set in ``flags``, for the result and the log."""
    return [name for value, name in FLAG_NAMES if flags & value]


def unmigratable_devices(domain):
    """One phrase per device that blocks a migration (empty when the guest may move)."""
    found = []
    for path, what in UNMIGRATABLE:
        for node in domain.element.findall(path):
            source = node.find('source')
            detail = node.get('name') or ''
            if path in HOST_DEVICE_PATHS:
                detail = _address(node)
            if source is not None and not detail:
                detail = source.get('dir') or source.get('name') or ''
            target = node.find('target')
            if not detail and target is not None:
                detail = target.get('dir') or target.get('dev') or ''
            found.append(what + (" '%s'" % detail if detail else ''))
    return found


def _number(text, default=0):
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        return default


def _address(node):
    """``pci 0000:01:00.0``, ``usb 0x046d:0xc52b`` or the like: which host device a hostdev element names."""
    source = node.find('source')
    kind = node.get('type') or 'device'
    if source is None:
        return kind
    address, vendor, product = source.find('address'), source.find('vendor'), source.find('product')
    if address is not None and address.get('bus') is not None and address.get('slot') is not None:
        return '%s %04x:%02x:%02x.%x' % (kind, _number(address.get('domain')), _number(address.get('bus')),
                                         _number(address.get('slot')), _number(address.get('function')))
    if vendor is not None and product is not None:
        return '%s %s:%s' % (kind, vendor.get('id'), product.get('id'))
    adapter = source.find('adapter')
    if adapter is not None:
        return '%s %s' % (kind, adapter.get('name'))
    return kind


def host_devices(domain):
    """One phrase per host device passed through to the guest (``pci 0000:01:00.0``)."""
    return [_address(node) for path in HOST_DEVICE_PATHS for node in domain.element.findall(path)]


def migration_blockers(domain, state):
    """Why the guest cannot be live-migrated now, one phrase each (empty when it can): its devices, or its state."""
    blockers = []
    if state == 'suspended':
        blockers.append('its memory is saved to disk (managed save), so there is nothing running to move')
    elif state not in ('running', 'paused'):
        blockers.append('it is not running (%s)' % state)
    return blockers + unmigratable_devices(domain)


def is_local_disk(disk):
    return disk.type in LOCAL_DISK_TYPES and bool(disk.source_path)


def disk_kind(disk):
    """How a disk's data is reached: 'local', 'network', 'volume' or 'empty' (a cdrom without media)."""
    if disk.type == 'network':
        return 'network'
    if disk.type == 'volume':
        return 'volume'
    if not disk.source_path:
        return 'empty'
    return 'local' if disk.type in LOCAL_DISK_TYPES else 'other'


def _network_label(disk):
    protocol = disk.source_protocol or 'network'
    return '%s (%s)' % (disk.target_dev, protocol)


def disks_to_copy(domain, copy_storage, where):
    """The target names of the disks QEMU copies: writable local file/block disks; never network ones."""
    if copy_storage == 'none':
        return []
    copied, network = [], []
    for disk in domain.disks:
        kind = disk_kind(disk)
        if kind == 'network':
            network.append(disk)
        elif kind in ('local', 'volume') and not disk.readonly and disk.device not in ('cdrom', 'floppy'):
            copied.append(disk.target_dev)
    if not copied:
        if network:
            raise VirtopsError("%s: copy_storage %s has nothing to copy, as its disk %s is on a network source the "
                               "destination reaches itself; use copy_storage none."
                               % (where, copy_storage, ', '.join(_network_label(d) for d in network)))
        raise VirtopsError("%s: copy_storage %s has nothing to copy, as the guest has no writable local disk; "
                           "use copy_storage none." % (where, copy_storage))
    return copied


def unsafe_disks(domain, copied):
    """Writable local disks left in place whose cache mode lets the source's page cache hide writes."""
    found = []
    for disk in domain.disks:
        if disk.target_dev in copied or disk_kind(disk) not in ('local', 'volume'):
            continue
        if disk.readonly or disk.shareable or (disk.driver_cache or 'default') in SAFE_CACHE_MODES:
            continue
        found.append('%s (cache %s)' % (disk.target_dev, disk.driver_cache or 'default'))
    return found


def validate_options(params, where):
    """Option combinations that make no sense, as one sentence."""
    for key in ('bandwidth_mib', 'max_downtime_ms', 'timeout'):
        if params.get(key) is not None and params[key] <= 0:
            raise VirtopsError('%s: %s must be a positive number, got %s.' % (where, key, params[key]))
    for key in ('auto_converge_initial', 'auto_converge_increment'):
        if params.get(key) is not None and not 1 <= params[key] <= 99:
            raise VirtopsError('%s: %s must be a percentage from 1 to 99, got %s.' % (where, key, params[key]))
    if params.get('post_copy_after_seconds') is not None:
        if not params.get('post_copy'):
            raise VirtopsError('%s: post_copy_after_seconds needs post_copy true.' % where)
        if params['post_copy_after_seconds'] < 0:
            raise VirtopsError('%s: post_copy_after_seconds must not be negative.' % where)
    if params.get('post_copy') and not params.get('live', True):
        raise VirtopsError('%s: post_copy needs a live migration (live true).' % where)
    uri = params.get('migration_uri')
    if uri and '://' not in uri:
        raise VirtopsError("%s: migration_uri '%s' is not a URI like tcp://192.0.2.10 (scheme://host[:port])."
                           % (where, uri))


def build_plan(domain, params, where):
    """The flags and typed parameters for ``migrateToURI3``, or one sentence saying why the guest cannot move."""
    validate_options(params, where)
    blockers = unmigratable_devices(domain)
    if blockers:
        raise VirtopsError('%s cannot be migrated, as it has %s.' % (where, ', '.join(blockers)))
    copy_storage = params.get('copy_storage') or 'none'
    copied = disks_to_copy(domain, copy_storage, where)
    flags = MIGRATE_PEER2PEER | MIGRATE_PERSIST_DEST | MIGRATE_UNDEFINE_SOURCE | MIGRATE_ABORT_ON_ERROR
    if params.get('live', True):
        flags |= MIGRATE_LIVE
    if copy_storage == 'all':
        flags |= MIGRATE_NON_SHARED_DISK
    elif copy_storage == 'incremental':
        flags |= MIGRATE_NON_SHARED_INC
    if params.get('auto_converge'):
        flags |= MIGRATE_AUTO_CONVERGE
    if params.get('post_copy'):
        flags |= MIGRATE_POSTCOPY
    if params.get('tls'):
        flags |= MIGRATE_TLS
    unsafe = unsafe_disks(domain, copied)
    if params.get('allow_unsafe'):
        flags |= MIGRATE_UNSAFE
    elif unsafe:
        raise VirtopsError("%s: disk %s stays in place but is not opened with cache 'none' or 'directsync', so "
                           "the source's page cache could hide writes from the destination; give it cache none, "
                           "copy it with copy_storage, or set allow_unsafe true if the storage is coherent."
                           % (where, ', '.join(unsafe)))
    typed = {}
    if params.get('migration_uri'):
        typed[PARAM_URI] = params['migration_uri']
    if params.get('bandwidth_mib'):
        typed[PARAM_BANDWIDTH] = int(params['bandwidth_mib'])
    if copied:
        typed[PARAM_MIGRATE_DISKS] = copied
    if params.get('auto_converge'):
        if params.get('auto_converge_initial'):
            typed[PARAM_AUTO_CONVERGE_INITIAL] = int(params['auto_converge_initial'])
        if params.get('auto_converge_increment'):
            typed[PARAM_AUTO_CONVERGE_INCREMENT] = int(params['auto_converge_increment'])
    return dict(flags=flags, params=typed, copied_disks=copied, unsafe_disks=unsafe)


# ---------------------------------------------------------------- statistics

def mode_used(auto_converge, throttled, postcopy, paused):
    """How the migration got to its end, the strongest measure first."""
    if postcopy:
        return 'post-copy'
    if paused:
        return 'paused'
    if auto_converge and throttled:
        return 'auto-converge'
    return 'pre-copy'


def progress_percent(stats):
    """Share of the data (memory + disks) sent so far, 0..100, from a job-stats dict."""
    total = stats.get('data_total') or 0
    if total <= 0:
        return 0
    remaining = stats.get('data_remaining') or 0
    return max(0, min(100, int(100 * (total - remaining) / total)))


def stalled(history, min_iterations=2, ratio=0.9):
    """True when the last completed pass over memory left about as much to send as the pass before.

    ``history`` holds the memory still to send at the start of each iteration; when the
    guest dirties memory as fast as the link copies it, that number stops shrinking and
    pre-copy can go on for ever.
    """
    if len(history) < min_iterations + 1:
        return False
    previous, last = history[-2], history[-1]
    return previous > 0 and last >= previous * ratio


# Counters the destination's completed-job record may lack (the disk copy ran on the source's side).
CUMULATIVE = ('disk_processed', 'disk_total', 'memory_processed', 'data_processed', 'memory_iteration')


def merge_stats(last_seen, completed):
    """The final statistics: the completed job's record over the last one polled, keeping the larger counters."""
    final = dict(last_seen)
    final.update(completed)
    for key in CUMULATIVE:
        values = [v for v in (last_seen.get(key), completed.get(key)) if v is not None]
        if values:
            final[key] = max(values)
    return final


def summarise(stats, started, finished, mode, flags, copied, switched_at=None):
    """The ``migration`` result dict from the final job statistics."""
    memory = stats.get('memory_processed') or 0
    disk = stats.get('disk_processed') or 0
    total = max(stats.get('data_processed') or 0, memory + disk)
    summary = dict(
        duration_seconds=round(max(0.0, finished - started), 2),
        downtime_ms=stats.get('downtime'),
        data_transferred_bytes=total,
        memory_transferred_bytes=memory,
        disk_transferred_bytes=disk,
        mode_used=mode,
        iterations=stats.get('memory_iteration'),
        dirty_rate_pages_per_second=stats.get('memory_dirty_rate'),
        auto_converge_throttle_percent=stats.get('auto_converge_throttle'),
        postcopy_requests=stats.get('memory_postcopy_requests'),
        flags=flag_names(flags),
        copied_disks=list(copied),
    )
    if switched_at is not None:
        summary['post_copy_after_seconds'] = round(switched_at - started, 2)
    return summary
