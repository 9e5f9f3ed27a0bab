"""Fleet evacuation row: the time from the moment fleet host cn1, running eight tiny guests, is fenced (its power
cut with the lab's fence, ``lab.cli fleet kill cn1``, as tests/e2e/fleet/test_fleet_evacuate.py does) to the moment
every one of its guests answers its guest agent on a peer.

Ours: cn1's guests were recorded beforehand (``playbooks/evacuate.yml action=record`` on every host, the records and
fences on the fleet's shared directory, which the controller and the hosts mount at different paths:
``state_dir``/``host_state_dir``); the inventory gives each host its fence (``lab.cli fleet kill HOST``) and
verification (``lab.cli fleet is-off HOST``). Once cn1's power is cut the clock starts, ``playbooks/evacuate.yml``
runs for cn1 (its fence verification finds cn1 off, so it fences nothing again; it reads and verifies the records,
reads the peers' room and guests, checks and defines each guest on its peer and starts it), then the controller
waits until every guest answers guest-ping on its new host.

Floor: the same guests booted afresh on cn1, their definitions read before the power cut, then from one Python
process on the controller, over its qemu+ssh connections to the peers (opened before the clock): each peer's guest
list and room, and for each guest ``defineXML`` and ``create`` on the peer the role chose, then the same wait until
every guest answers. The wait, in both, is mostly the guests' boot (TCG), so the gap is the role's work alone.

Between runs cn1 is powered on again, the fence hook is taken off every host (it fails closed once its fences are
gone) and the guests are removed everywhere.
"""
import os
import shutil
import statistics
import time

import libvirt

from bench.fleet_lab import _tail
from lab.fleet import control, fencing, layout
from lab.runner import REPO_ROOT

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'evacuate.yml')
SOURCE = 'cn1'
WORK = os.path.join(layout.SHARED_DIR, 'fleet-bench-evac')      # the controller's side of the shared directory
STATE = os.path.join(WORK, 'state')


def _label(count):
    return ('fleet: evacuate a host of %d tiny guests, from its fence (power cut) until every guest answers on a peer'
            % count)


def _play(lab, inventory_path, key_file, **extra):
    extra = dict(dict(state_dir=STATE, host_state_dir=layout.inside(STATE), evacuate_record_key_file=key_file),
                 **extra)
    # the evacuation opens its own SSH connections, as an operator's run would: none left by the record run
    result = lab.playbook(PLAYBOOK, extra_vars=extra, inventory_path=inventory_path, timeout=900,
                          fresh_ssh=extra.get('action', 'evacuate') == 'evacuate')
    if result.rc != 0:
        raise RuntimeError('evacuate.yml action %s failed (rc %d): %s'
                           % (extra.get('action', 'evacuate'), result.rc, _tail(result)))


def _fence(lab):
    """cn1's power cut, the lab's fence; returns the moment it is off."""
    lab.drop(SOURCE)
    control.kill(SOURCE, log=lab.log)
    return time.monotonic()


def _restore(lab, names):
    lab.power_on(SOURCE)
    fencing.drop_hooks(lab.hosts)
    lab.remove(names)
    shutil.rmtree(WORK, ignore_errors=True)


def _ours(lab, names, inventory_path, key_file):
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(STATE, mode=0o755)
    lab.boot(SOURCE, names)
    _play(lab, inventory_path, key_file, action='record', target_host='compute')
    recorded = len(os.listdir(os.path.join(STATE, 'guests')))
    if recorded != len(names):
        raise RuntimeError('the record run wrote %d records for %d guests' % (recorded, len(names)))
    fenced = _fence(lab)
    _play(lab, inventory_path, key_file, target_host=SOURCE)
    placement = lab.placement(names, SOURCE)
    lab.wait_answering(placement)
    return time.monotonic() - fenced, placement


def _floor(lab, names, placement):
    lab.boot(SOURCE, names)
    source = lab.conn(SOURCE)
    xmls = dict((name, source.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) for name in names)
    peers = sorted(set(placement.values()))
    conns = dict((peer, lab.conn(peer)) for peer in peers)
    fenced = _fence(lab)
    for peer in peers:
        conns[peer].listAllDomains(0)
        conns[peer].getInfo()
    for name in names:
        conns[placement[name]].defineXML(xmls[name]).create()
    lab.wait_answering(placement)
    return time.monotonic() - fenced


def run(lab, names, repeats, log):
    """The evacuation row over `repeats` runs (each: ours, then the floor with the placement ours chose)."""
    inventory_path = fencing.fenced_inventory(lab.inventory, os.path.join(lab.tmp.name, 'fenced-inventory.yml'))
    key_file = os.path.join(lab.tmp.name, 'evacuate-record.key')
    runs, error = [], None
    for attempt in range(repeats):
        try:
            try:
                ours, placement = _ours(lab, names, inventory_path, key_file)
            finally:
                _restore(lab, names)
            try:
                floor = _floor(lab, names, placement)
            finally:
                _restore(lab, names)
        except (RuntimeError, libvirt.libvirtError) as err:
            log('fleet evacuation: FAILED: %s' % err)
            error = err
            continue
        runs.append((ours, floor))
        log('fleet evacuation of %d tiny guests after a power cut: %.1f s, floor %.1f s (run %d of %d; %s)'
            % (len(names), ours, floor, attempt + 1, repeats,
               ', '.join('%s -> %s' % item for item in sorted(placement.items()))))
    if not runs:
        return [dict(workload='%s: failed, %s' % (_label(len(names)), str(error)[:200]), ours=float('nan'),
                     theirs=None, floor=None, unit='s', vs_floor=True)]
    return [dict(workload=_label(len(names)), ours=statistics.median(r[0] for r in runs), theirs=None,
                 floor=statistics.median(r[1] for r in runs), unit='s', vs_floor=True)]
