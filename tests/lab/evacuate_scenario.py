"""The evacuation scenario of tests/e2e/test_evacuate.py: lab host 4 with peers 5 and 6, its names and secrets, the
inventory and playbook runs, what it reads off the hosts, and the edits a compromised host could make to a guest's
record."""
import json
import os
import re
import shutil
import sys
import time

import libvirt

from ansible_collections.virtops.compute.plugins.filter.evacuation import evacuation_document
from lab import guests, hosts
from lab.checks import libvirt_snapshot
from lab.computes import write_inventory
from lab.proc import SHARED_DIR, cmdline
from lab.runner import REPO_ROOT, run_playbook

PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'evacuate.yml')
WORK = os.path.join(SHARED_DIR, 'lab-evac')
STATE = os.path.join(WORK, 'state')
POOL, POOL_DIR = 'lab-evac', os.path.join(WORK, 'pool')
NAMES = ('lab-evac-1', 'lab-evac-2')
PORT = 4650
DATA = 'lab-evac-1-data.raw'
ROOT_MARK, VOLUME_MARK = 'virtops-evac-root-marker', 'virtops-evac-volume-marker'
# secrets: made with the guest (never recorded), and the vault's at evacuation time
DRIVE_SECRET, VNC_SECRET = 'drive-secret-1', 'vncpw1'
VAULT_DRIVE_SECRET, VAULT_VNC_SECRET = 'vault-drive-pw', 'vncpw2'
# the host name the vault gives the rebuilt guest's config drive: 7 * 6 written out, so no command line holds it
REBUILT_HOSTNAME = 'evac-rebuilt-%d' % (7 * 6)
LAB_CLI = [sys.executable, '-m', 'lab.cli', 'host']
# what the tiny image prints once its boot has mounted a config drive
DRIVE_MOUNTED = 'mounted at /mnt/config'


def remove_everywhere():
    for host in hosts.running_hosts():
        conn = libvirt.open(host.uri)
        try:
            for name in NAMES + ('lab-evac-probe',):
                guests.remove_guest(conn, name)
            guests.remove_pool(conn, POOL)
        finally:
            conn.close()
    shutil.rmtree(WORK, ignore_errors=True)


def inventory(path, computes, source):
    """Host 5 takes no vCPU (its own ratio 0), so the guests go to host 6; host 4's fence is the lab's power cut."""
    inventory = write_inventory(str(path), computes, vcpu_ratio={computes[1].name: 0})
    with open(inventory) as handle:
        data = json.load(handle)
    data['compute']['hosts'][source.name].update(
        virtops_fence_command=LAB_CLI + ['kill', str(source.index)],
        virtops_fence_verify_command=LAB_CLI + ['is-off', str(source.index)])
    with open(inventory, 'w') as handle:
        json.dump(data, handle)
    return inventory


def play(inventory, key_file, fence=True, args=(), **extra):
    # host 4 still runs when it is evacuated (the lab's fence is what makes it fail), so it answers
    extra = dict({'target_host': 'lab-host4', 'state_dir': STATE, 'evacuate_record_key_file': key_file,
                  'evacuate_fence_answering': True}, **extra)
    if not fence:
        extra.update(evacuate_fence_command=[], evacuate_fence_verify_command=[])
    return run_playbook(PLAYBOOK, extra_vars=extra, args=('-i', inventory) + tuple(args), timeout=900)


def unchanged(stdout):
    """Every host of the play recap reports changed=0."""
    counts = re.findall(r'\schanged=(\d+)\s', stdout.split('PLAY RECAP')[-1])
    return bool(counts) and all(count == '0' for count in counts)


def flat(text):
    return ' '.join(text.split())


def on_peers(computes):
    found = {}
    for host in computes[1:]:
        conn = libvirt.open(host.uri)
        try:
            for dom in conn.listAllDomains(0):
                if dom.name() in NAMES:
                    found[dom.name()] = (host.name, dom.UUIDString(), dom.state()[0],
                                         dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
        finally:
            conn.close()
    return found


def peer_snapshots(computes):
    conns = [libvirt.open(host.uri) for host in computes[1:]]
    try:
        return [libvirt_snapshot(conn, refresh=False) for conn in conns]
    finally:
        for conn in conns:
            conn.close()


def qemu_of(host_name, guest):
    return [pid for pid, prog in hosts.host_processes(host_name)
            if prog.startswith('qemu-system') and any('guest=%s,' % guest in a for a in cmdline(pid))]


def record_path(uuid):
    return os.path.join(STATE, 'guests', uuid + '.json')


def key(key_file):
    with open(key_file) as handle:
        return handle.read().strip()


def resign(path, key, change):
    with open(path) as handle:
        record = json.load(handle)['record']
    change(record)
    with open(path, 'w') as handle:
        handle.write(evacuation_document(record, key))


def edit_unsigned(path, change):
    with open(path) as handle:
        document = json.load(handle)
    change(document['record'])
    with open(path, 'w') as handle:
        json.dump(document, handle)


def commandline(record):
    record['definition'] = record['definition'].replace(
        '</domain>', "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                     "<qemu:arg value='-device'/><qemu:arg value='pci-testdev'/></qemu:commandline></domain>")


def outside_disk(record):
    record['definition'] = record['definition'].replace(
        '</devices>', "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
                      "<target dev='vdc' bus='virtio'/></disk></devices>" % os.path.join(WORK, 'outside.raw'))


def other_image(record):
    record['root_disk']['image'] = '/etc/shadow'
    record['root_disk']['image_format'] = 'raw'


def wait_for_autostart_refusals(host, offset, timeout=30):
    """Wait until libvirtd has logged its failed autostart of both stale copies (the hook said no)."""
    deadline = time.monotonic() + timeout
    text = ''
    while time.monotonic() < deadline:
        with open(host.log_path, errors='replace') as handle:
            handle.seek(offset)
            text = handle.read()
        if all("autostart VM '%s'" % name in text for name in NAMES):
            assert text.count('was evacuated from this host') >= 2, text[-3000:]
            return
        time.sleep(0.5)
    raise AssertionError('%s did not try to autostart the stale copies within %ss; its log says:\n%s'
                         % (host.name, timeout, text[-3000:]))
