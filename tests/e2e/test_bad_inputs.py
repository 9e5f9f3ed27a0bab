"""Table-driven bad input across every module: refused in one sentence naming the field, nothing changed.

Each case runs the module file itself with its arguments as JSON (lab.runner.run_module, as
Ansible's module runner does, about 0.3 s a case) against the real libvirtd, and checks:
the task failed; the message is one sentence naming the field(s) and the problem, without a
traceback; a secret given in the case never shows in the message (nor anywhere in the result
when given in a no_log option); libvirt's domains, volumes, pools, networks, secrets, nwfilters
and the files under the suite's own directory are identical before and after.
"""
import json
import os
import shutil
import subprocess

import pytest

from lab import tally
from lab.checks import assert_one_sentence, libvirt_snapshot
from lab.fixtures import SHARED
from lab.runner import run_module

PREFIX = 'lab-bi-'
GUEST = PREFIX + 'guest'
POOL = PREFIX + 'pool'
VOLUME = PREFIX + 'vol.qcow2'
NETWORK = PREFIX + 'net'
FILTER = PREFIX + 'fw'
WORK = '/var/lib/virtops-lab/shared/bad-inputs'
POOL_DIR = WORK + '/pool'
IMAGE = WORK + '/base.qcow2'
DRIVES = WORK + '/drives'
PASSWORD = 'Sw0rdf1sh-bi'
BOOT = object()   # marks a guest case that gets the tiny guest's boot options


def case(ident, module, params, names, secret=None):
    return pytest.param(module, params, names, secret, id='%s-%s' % (module, ident))


CASES = [
    # guest: types, ranges, missing combinations, things that do not exist
    case('vcpus-not-a-number', 'guest', dict(name=PREFIX + 'g1', vcpus='many'), ['vcpus']),
    case('vcpus-zero', 'guest', dict(BOOT=1, name=PREFIX + 'g1', vcpus=0), [PREFIX + 'g1', 'vcpus']),
    case('memory-zero', 'guest', dict(BOOT=1, name=PREFIX + 'g1', memory_mb=0), [PREFIX + 'g1', 'memory_mb']),
    case('memory-negative', 'guest', dict(BOOT=1, name=PREFIX + 'g1', memory_mb=-64), [PREFIX + 'g1', 'memory_mb']),
    case('memory-over-host', 'guest', dict(BOOT=1, name=PREFIX + 'g1', memory_mb=10 ** 8), [PREFIX + 'g1', 'memory_mb']),
    case('max-vcpus-below-vcpus', 'guest', dict(BOOT=1, name=PREFIX + 'g1', vcpus=4, max_vcpus=2), [PREFIX + 'g1', 'max_vcpus']),
    case('max-memory-below-memory', 'guest', dict(BOOT=1, name=PREFIX + 'g1', memory_mb=256, max_memory_mb=128),
         [PREFIX + 'g1', 'max_memory_mb']),
    case('uuid-malformed', 'guest', dict(BOOT=1, name=PREFIX + 'g1', uuid='not-a-uuid'), [PREFIX + 'g1', 'uuid']),
    case('state-unknown', 'guest', dict(name=PREFIX + 'g1', state='exploded'), ['state']),
    case('virt-type-unknown', 'guest', dict(name=PREFIX + 'g1', virt_type='xen'), ['virt_type']),
    case('firmware-unknown', 'guest', dict(name=PREFIX + 'g1', firmware='coreboot'), ['firmware']),
    case('name-empty', 'guest', dict(BOOT=1, name=''), ['name']),
    case('name-with-slash', 'guest', dict(BOOT=1, name='lab-bi/../etc'), ['name']),
    case('kernel-missing-file', 'guest', dict(BOOT=1, name=PREFIX + 'g1', kernel='/nonexistent/vmlinuz'),
         [PREFIX + 'g1', '/nonexistent/vmlinuz']),
    case('image-missing-file', 'guest', dict(BOOT=1, name=PREFIX + 'g1', image='/nonexistent/base.qcow2'),
         [PREFIX + 'g1', '/nonexistent/base.qcow2']),
    case('image-is-a-directory', 'guest', dict(BOOT=1, name=PREFIX + 'g1', image=WORK), [PREFIX + 'g1', WORK]),
    case('root-size-zero', 'guest', dict(BOOT=1, name=PREFIX + 'g1', image=IMAGE, root_size_gb=0),
         [PREFIX + 'g1', 'root_size_gb']),
    case('root-size-without-image', 'guest', dict(BOOT=1, name=PREFIX + 'g1', root_size_gb=2), [PREFIX + 'g1', 'root_size_gb']),
    case('storage-pool-missing', 'guest', dict(BOOT=1, name=PREFIX + 'g1', image=IMAGE, storage_pool=PREFIX + 'nopool'),
         [PREFIX + 'g1', PREFIX + 'nopool']),
    case('config-drive-missing-file', 'guest', dict(BOOT=1, name=PREFIX + 'g1', config_drive='/nonexistent/cd.iso'),
         [PREFIX + 'g1', '/nonexistent/cd.iso']),
    case('secure-boot-with-bios', 'guest', dict(BOOT=1, name=PREFIX + 'g1', firmware='bios', secure_boot=True),
         [PREFIX + 'g1', 'secure_boot']),
    case('shutdown-timeout-negative', 'guest', dict(BOOT=1, name=PREFIX + 'g1', shutdown_timeout=-1),
         [PREFIX + 'g1', 'shutdown_timeout']),
    case('disk-qos-negative', 'guest', dict(BOOT=1, name=PREFIX + 'g1', disk_qos=dict(read_iops_sec=-5)),
         [PREFIX + 'g1', 'disk_qos.read_iops_sec']),
    case('disk-qos-total-and-read', 'guest',
         dict(BOOT=1, name=PREFIX + 'g1', disk_qos=dict(total_bytes_sec=1000, read_bytes_sec=500)),
         [PREFIX + 'g1', 'disk_qos']),
    case('serial-port-out-of-range', 'guest', dict(BOOT=1, name=PREFIX + 'g1', serial_console=dict(type='tcp', port=99999)),
         [PREFIX + 'g1', 'serial_console']),
    case('graphics-type-unknown', 'guest', dict(BOOT=1, name=PREFIX + 'g1', graphics=[dict(type='rdp')]), ['type']),
    case('graphics-port-out-of-range', 'guest', dict(BOOT=1, name=PREFIX + 'g1', graphics=[dict(type='vnc', port=70000)]),
         [PREFIX + 'g1', 'graphics[0].port']),
    case('graphics-listen-not-an-address', 'guest',
         dict(BOOT=1, name=PREFIX + 'g1', graphics=[dict(type='vnc', listen='not-an-ip')]),
         [PREFIX + 'g1', 'not-an-ip']),
    case('vnc-password-too-long', 'guest', dict(BOOT=1, name=PREFIX + 'g1', graphics=[dict(type='vnc', password=PASSWORD)]),
         [PREFIX + 'g1', 'graphics[0].password'], secret=PASSWORD),
    case('nic-without-source', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(model='virtio')]), [PREFIX + 'g1', 'nics[0]']),
    case('nic-mac-malformed', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(user=True, mac='52:54:00:12:34')]),
         [PREFIX + 'g1', 'nics[0].mac']),
    case('nic-mac-twice', 'guest',
         dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(user=True, mac='52:54:00:bb:00:01'),
                                                dict(user=True, mac='52:54:00:bb:00:01')]),
         [PREFIX + 'g1', '52:54:00:bb:00:01']),
    case('nic-vlan-zero', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(ovs_bridge='br-bi', vlan=0)]),
         [PREFIX + 'g1', 'nics[0].vlan']),
    case('nic-vlan-without-ovs', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(network='default', vlan=10)]),
         [PREFIX + 'g1', 'vlan']),
    case('nic-network-missing', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(network=PREFIX + 'nonet')]),
         [PREFIX + 'g1', PREFIX + 'nonet']),
    case('nic-filter-missing', 'guest',
         dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(network='default', filter=PREFIX + 'nofilter')]),
         [PREFIX + 'g1', PREFIX + 'nofilter']),
    case('existing-uuid-change', 'guest',
         dict(BOOT=1, name=GUEST, state='stopped', uuid='00000000-0000-4000-8000-0000000000b1'),
         [GUEST, '00000000-0000-4000-8000-0000000000b1']),
    # guests (the batch module): the same checks per item
    case('batch-not-a-list', 'guests', dict(guests='lab-bi-g1'), ['guests']),
    case('batch-item-without-name', 'guests', dict(guests=[dict(vcpus=1)]), ['guests[0]', 'name']),
    case('batch-item-bad-memory', 'guests', dict(guests=[dict(BOOT=1, name=PREFIX + 'g2', memory_mb=-1)]),
         [PREFIX + 'g2', 'memory_mb']),
    case('batch-name-twice', 'guests', dict(guests=[dict(BOOT=1, name=PREFIX + 'g2'), dict(BOOT=1, name=PREFIX + 'g2')]),
         [PREFIX + 'g2']),
    case('batch-workers-zero', 'guests', dict(guests=[dict(BOOT=1, name=PREFIX + 'g2')], workers=0), ['workers']),
    # guest_info, guest_action
    case('info-unknown-option', 'guest_info', dict(names=[GUEST]), ['names']),
    case('action-unknown', 'guest_action', dict(name=GUEST, action='explode'), ['action']),
    case('action-missing-guest', 'guest_action', dict(name=PREFIX + 'ghost', action='reboot'), [PREFIX + 'ghost']),
    case('reboot-stopped-guest', 'guest_action', dict(name=GUEST, action='reboot'), [GUEST, 'running']),
    case('crash-dump-stopped-guest', 'guest_action', dict(name=GUEST, action='trigger_crash_dump'), [GUEST, 'running']),
    case('reboot-type-unknown', 'guest_action', dict(name=GUEST, action='reboot', reboot_type='gentle'), ['reboot_type']),
    case('set-password-without-password', 'guest_action', dict(name=GUEST, action='set_password'), ['password']),
    case('set-password-without-agent', 'guest_action', dict(name=GUEST, action='set_password', password=PASSWORD),
         [GUEST], secret=PASSWORD),
    case('rebuild-missing-image', 'guest_action', dict(name=GUEST, action='rebuild', image='/nonexistent/new.qcow2'),
         [GUEST, 'rebuild']),
    case('migration-abort-without-job', 'guest_action', dict(name=GUEST, action='migration_abort'), [GUEST]),
    # storage_pool
    case('name-with-slash', 'storage_pool', dict(name='lab-bi/pool', path=WORK + '/p2'), ['lab-bi/pool', 'name']),
    case('name-with-spaces', 'storage_pool', dict(name=' lab-bi-p ', path=WORK + '/p2'), ['name']),
    case('path-relative', 'storage_pool', dict(name=PREFIX + 'p2', path='relative/dir'), [PREFIX + 'p2', 'relative/dir']),
    case('path-is-a-file', 'storage_pool', dict(name=PREFIX + 'p2', path=IMAGE), [PREFIX + 'p2', IMAGE]),
    case('new-without-path', 'storage_pool', dict(name=PREFIX + 'p2'), [PREFIX + 'p2', 'path']),
    case('type-unknown', 'storage_pool', dict(name=PREFIX + 'p2', type='nfs', path=WORK + '/p2'), ['type']),
    case('autostart-not-a-bool', 'storage_pool', dict(name=PREFIX + 'p2', path=WORK + '/p2', autostart='perhaps'), ['autostart']),
    case('path-change', 'storage_pool', dict(name=POOL, path=WORK + '/elsewhere'), [POOL, 'path']),
    # volume
    case('size-zero', 'volume', dict(pool=POOL, name=PREFIX + 'v2', size_gb=0), [PREFIX + 'v2', 'size_gb']),
    case('size-negative', 'volume', dict(pool=POOL, name=PREFIX + 'v2', size_gb=-3), [PREFIX + 'v2', 'size_gb']),
    case('size-not-a-number', 'volume', dict(pool=POOL, name=PREFIX + 'v2', size_gb='big'), ['size_gb']),
    case('size-beyond-pool', 'volume', dict(pool=POOL, name=PREFIX + 'v2', size_gb=10 ** 7, format='raw'),
         [PREFIX + 'v2', 'too large']),
    case('shrink', 'volume', dict(pool=POOL, name=VOLUME, size_gb=1), [VOLUME, 'size_gb']),
    case('name-with-slash', 'volume', dict(pool=POOL, name='../escape', size_gb=1), ['../escape', 'name']),
    case('pool-missing', 'volume', dict(pool=PREFIX + 'nopool', name=PREFIX + 'v2', size_gb=1), [PREFIX + 'nopool']),
    case('format-unknown', 'volume', dict(pool=POOL, name=PREFIX + 'v2', size_gb=1, format='vmdk'), ['format']),
    case('backing-without-image', 'volume', dict(pool=POOL, name=PREFIX + 'v2', backing=True), [PREFIX + 'v2', 'backing']),
    case('backing-raw', 'volume', dict(pool=POOL, name=PREFIX + 'v2', from_image=IMAGE, backing=True, format='raw'),
         [PREFIX + 'v2', 'backing']),
    case('from-image-missing', 'volume', dict(pool=POOL, name=PREFIX + 'v2', from_image='/nonexistent/img.qcow2'),
         [PREFIX + 'v2', '/nonexistent/img.qcow2']),
    case('new-without-size', 'volume', dict(pool=POOL, name=PREFIX + 'v2'), [PREFIX + 'v2', 'size_gb']),
    # secret
    case('usage-unknown', 'secret', dict(usage='ldap', usage_id=PREFIX + 's1', value=PASSWORD), ['usage'], secret=PASSWORD),
    case('usage-id-empty', 'secret', dict(usage='iscsi', usage_id='', value=PASSWORD), ['usage_id'], secret=PASSWORD),
    case('new-without-value', 'secret', dict(usage='iscsi', usage_id=PREFIX + 's1'), [PREFIX + 's1', 'value']),
    case('value-not-a-string', 'secret', dict(usage='volume', usage_id=PREFIX + 's1', value=['first-part', 'second-part']),
         [PREFIX + 's1', 'value']),
    case('missing-usage-id', 'secret', dict(usage='ceph', value=PASSWORD), ['usage_id'], secret=PASSWORD),
    # network
    case('mode-unknown', 'network', dict(name=NETWORK, mode='bogus'), ['mode']),
    case('name-empty', 'network', dict(name='', mode='isolated'), ['name']),
    case('vlan-too-big', 'network', dict(name=NETWORK, mode='ovs', bridge='br-bi', vlan=5000), [NETWORK, 'vlan']),
    case('vlan-zero', 'network', dict(name=NETWORK, mode='ovs', bridge='br-bi', vlan=0), [NETWORK, 'vlan']),
    case('address-malformed', 'network', dict(name=NETWORK, mode='isolated', ip=dict(address='10.0.0.300', prefix=24)),
         [NETWORK, '10.0.0.300']),
    case('prefix-too-long', 'network', dict(name=NETWORK, mode='isolated', ip=dict(address='10.250.0.1', prefix=33)),
         [NETWORK, 'prefix']),
    case('address-is-network', 'network', dict(name=NETWORK, mode='isolated', ip=dict(address='10.250.0.0', prefix=24)),
         [NETWORK, '10.250.0.0']),
    case('dhcp-outside-subnet', 'network', dict(name=NETWORK, mode='nat', ip=dict(
        address='10.250.0.1', prefix=24, dhcp_range=dict(start='10.251.0.10', end='10.251.0.20'))), [NETWORK, 'dhcp_range']),
    case('dhcp-start-after-end', 'network', dict(name=NETWORK, mode='nat', ip=dict(
        address='10.250.0.1', prefix=24, dhcp_range=dict(start='10.250.0.90', end='10.250.0.20'))), [NETWORK, 'dhcp_range']),
    case('host-mac-malformed', 'network', dict(name=NETWORK, mode='nat', ip=dict(
        address='10.250.0.1', prefix=24, hosts=[dict(mac='zz:54:00:00:00:01', ip='10.250.0.5')])), [NETWORK, 'zz:54:00:00:00:01']),
    case('host-ip-outside-subnet', 'network', dict(name=NETWORK, mode='nat', ip=dict(
        address='10.250.0.1', prefix=24, hosts=[dict(mac='52:54:00:00:00:01', ip='10.9.0.5')])), [NETWORK, '10.9.0.5']),
    case('route-gateway-malformed', 'network',
         dict(name=NETWORK, mode='route', ip=dict(address='10.250.0.1', prefix=24),
              routes=[dict(address='10.30.0.0', prefix=16, gateway='gw')]),
         [NETWORK, 'gw']),
    case('route-cidr-host-bits', 'network',
         dict(name=NETWORK, mode='route', ip=dict(address='10.250.0.1', prefix=24),
              routes=[dict(address='10.30.0.1', prefix=16, gateway='10.250.0.2')]),
         [NETWORK, '10.30.0.1']),
    case('bridge-name-too-long', 'network', dict(name=NETWORK, mode='isolated', bridge='virbr-much-too-long-name'),
         [NETWORK, 'virbr-much-too-long-name']),
    case('flat-without-bridge', 'network', dict(name=NETWORK, mode='flat'), [NETWORK, 'bridge']),
    case('mtu-too-small', 'network', dict(name=NETWORK, mode='isolated', mtu=10), [NETWORK, 'mtu']),
    case('portgroup-twice', 'network', dict(name=NETWORK, mode='ovs', bridge='br-bi', portgroups=[
        dict(name='web', vlan=10), dict(name='web', vlan=20)]), [NETWORK, 'web']),
    case('default-portgroup-unknown', 'network', dict(name=NETWORK, mode='ovs', bridge='br-bi', portgroups=[
        dict(name='web', vlan=10)], default_portgroup='db'), [NETWORK, 'db']),
    case('portgroup-vlan-too-big', 'network', dict(name=NETWORK, mode='ovs', bridge='br-bi', portgroups=[
        dict(name='web', vlan=4095)]), [NETWORK, 'vlan']),
    case('prefix-not-a-number', 'network', dict(name=NETWORK, mode='isolated', ip=dict(address='10.250.0.1', prefix='/24')),
         ['prefix']),
    # nwfilter
    case('port-zero', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='tcp', port_range_min=0)]), [FILTER, 'port']),
    case('port-too-big', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='udp', port_range_max=70000)]), [FILTER, '70000']),
    case('ports-reversed', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='tcp', port_range_min=90, port_range_max=80)]),
         [FILTER, 'port_range_min']),
    case('ports-on-icmp', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='icmp', port_range_min=22)]), [FILTER, 'icmp']),
    case('cidr-host-bits', 'nwfilter', dict(name=FILTER, rules=[dict(remote_ip_prefix='10.0.0.1/24')]),
         [FILTER, 'remote_ip_prefix', '10.0.0.1/24']),
    case('cidr-malformed', 'nwfilter', dict(name=FILTER, rules=[dict(remote_ip_prefix='banana')]), [FILTER, 'banana']),
    case('cidr-prefix-too-long', 'nwfilter', dict(name=FILTER, rules=[dict(remote_ip_prefix='10.0.0.0/40')]),
         [FILTER, '10.0.0.0/40']),
    case('cidr-family-mismatch', 'nwfilter', dict(name=FILTER, rules=[dict(remote_ip_prefix='2001:db8::/32')]),
         [FILTER, 'ethertype']),
    case('direction-unknown', 'nwfilter', dict(name=FILTER, rules=[dict(direction='sideways')]), ['direction']),
    case('protocol-unknown', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='sctp')]), ['protocol']),
    # Ansible's own message for a list item that is no mapping cannot name the option
    case('rules-not-a-list-of-dicts', 'nwfilter', dict(name=FILTER, rules=['allow ssh']), ['dictionary requested']),
    case('too-many-rules', 'nwfilter', dict(name=FILTER, rules=[dict(protocol='tcp', port_range_min=1000 + i)
                                                                for i in range(700)]), [FILTER, 'rules']),
    case('redefine-libvirt-filter', 'nwfilter', dict(name='clean-traffic', rules=[]), ['clean-traffic']),
    case('remove-libvirt-filter', 'nwfilter', dict(name='no-ip-spoofing', state='absent'), ['no-ip-spoofing']),
    case('name-empty', 'nwfilter', dict(name='', rules=[]), ['name']),
    # volume_attachment on the suite's stopped guest
    case('guest-missing', 'volume_attachment', dict(guest=PREFIX + 'ghost', target='vdb', path=IMAGE), [PREFIX + 'ghost']),
    case('target-malformed', 'volume_attachment', dict(guest=GUEST, target='disk1', path=IMAGE), [GUEST, 'target']),
    case('no-source', 'volume_attachment', dict(guest=GUEST, target='vdb'), [GUEST, 'source']),
    case('two-sources', 'volume_attachment', dict(guest=GUEST, target='vdb', path=IMAGE,
                                                  volume=dict(pool=POOL, name=VOLUME)), [GUEST, 'volume, path']),
    case('bus-unknown', 'volume_attachment', dict(guest=GUEST, target='vdb', path=IMAGE, bus='ide'), ['bus']),
    case('path-missing', 'volume_attachment', dict(guest=GUEST, target='vdb', path='/nonexistent/disk.img'),
         [GUEST, '/nonexistent/disk.img']),
    case('volume-missing', 'volume_attachment', dict(guest=GUEST, target='vdb', volume=dict(pool=POOL, name=PREFIX + 'nov')),
         [GUEST, PREFIX + 'nov']),
    case('volume-pool-missing', 'volume_attachment', dict(guest=GUEST, target='vdb', volume=dict(pool=PREFIX + 'nopool',
                                                                                                 name=VOLUME)),
         [GUEST, PREFIX + 'nopool']),
    case('volume-without-name', 'volume_attachment', dict(guest=GUEST, target='vdb', volume=dict(pool=POOL)), ['name']),
    case('qos-negative', 'volume_attachment', dict(guest=GUEST, target='vdb', path=IMAGE, qos=dict(total_iops_sec=-1)),
         [GUEST, 'qos.total_iops_sec']),
    case('size-zero', 'volume_attachment', dict(guest=GUEST, target='vdb', path=IMAGE, size_gb=0), [GUEST, 'size_gb']),
    case('iqn-malformed', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.bad')), [GUEST, 'iscsi.iqn', 'iqn.bad']),
    case('iqn-not-iqn', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='target1')), [GUEST, 'iscsi.iqn']),
    case('portal-without-port', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1', iqn='iqn.2026-11.org.virtops:bi')), [GUEST, 'iscsi.portal']),
    case('portal-port-too-big', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:99999', iqn='iqn.2026-11.org.virtops:bi')), [GUEST, 'iscsi.portal']),
    case('lun-not-a-number', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.org.virtops:bi', lun='first')), ['lun']),
    case('chap-password-and-secret', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.org.virtops:bi', chap_username='bi', chap_password=PASSWORD,
        chap_secret=PREFIX + 'chap')), [GUEST, 'chap_password', 'chap_secret'], secret=PASSWORD),
    case('chap-password-without-user', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.org.virtops:bi', chap_password=PASSWORD)),
        [GUEST, 'chap_username'], secret=PASSWORD),
    case('chap-password-in-username', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.org.virtops:bi', chap_username=PASSWORD)),
        [GUEST, 'chap_username'], secret=PASSWORD),
    case('chap-secret-missing', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.org.virtops:bi', chap_username='bi', chap_secret=PREFIX + 'nochap')),
        [GUEST, PREFIX + 'nochap']),
    case('wwn-malformed', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', fibre_channel=dict(
        target_wwn='zz00112233445566', lun=0)), [GUEST, 'target_wwn']),
    case('wwn-too-short', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', fibre_channel=dict(
        target_wwn='5000c500', lun=0)), [GUEST, 'target_wwn']),
    case('wwn-without-lun', 'volume_attachment', dict(guest=GUEST, target='sdb', bus='scsi', fibre_channel=dict(
        target_wwn='500a098188f4e7d0')), ['lun']),
    case('format-unknown', 'volume_attachment', dict(guest=GUEST, target='vdb', path=IMAGE, format='vmdk'), ['format']),
    # config_drive
    case('dest-and-pool', 'config_drive', dict(dest=DRIVES + '/a.iso', pool=POOL, volume='cd.iso', name='bi'), ['dest', 'pool']),
    case('neither-dest-nor-pool', 'config_drive', dict(name='bi'), ['dest', 'pool']),
    case('pool-without-volume', 'config_drive', dict(pool=POOL, name='bi'), ['pool', 'volume']),
    case('dest-directory-missing', 'config_drive', dict(dest='/nonexistent-bi/cd.iso', name='bi'), ['/nonexistent-bi']),
    case('dest-is-a-directory', 'config_drive', dict(dest=DRIVES, name='bi'), ['dest']),
    case('no-name-hostname-uuid', 'config_drive', dict(dest=DRIVES + '/a.iso'), ['name', 'uuid']),
    case('uuid-malformed', 'config_drive', dict(dest=DRIVES + '/a.iso', uuid='1234'), ['uuid']),
    case('format-unknown', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', format='ntfs'), ['format']),
    case('file-path-relative', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', files=[dict(path='etc/x', content='file text for a bad input')]),
         ['etc/x']),
    case('file-path-escapes', 'config_drive',
         dict(dest=DRIVES + '/a.iso', name='bi', files=[dict(path='/etc/../../x', content='file text for a bad input')]),
         ['/etc/../../x']),
    case('file-twice', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', files=[dict(path='/etc/x', content='1'),
                                                                                      dict(path='/etc/x', content='2')]),
         ['/etc/x']),
    case('user-data-too-big', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', user_data='x' * 70000), ['user_data']),
    case('random-seed-not-base64', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', random_seed='%%%'), ['random_seed']),
    case('nics-mac-malformed', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi',
                                                    network_data_from_nics=[dict(mac='00:11', address='10.0.0.5/24')]),
         ['network_data_from_nics', '00:11']),
    case('nics-address-without-prefix', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', network_data_from_nics=[
        dict(mac='52:54:00:00:00:01', address='10.0.0.5')]), ['network_data_from_nics', '10.0.0.5']),
    case('network-data-twice', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', network_data=dict(links=[]),
                                                    network_data_from_nics=[dict(mac='52:54:00:00:00:01')]),
         ['network_data', 'network_data_from_nics']),
    case('admin-pass-in-meta', 'config_drive', dict(dest=DRIVES + '/a.iso', name='bi', meta=dict(admin_pass=PASSWORD)),
         ['meta', 'admin_pass'], secret=PASSWORD),
    case('pool-missing', 'config_drive', dict(pool=PREFIX + 'nopool', volume='cd.iso', name='bi'), [PREFIX + 'nopool']),
    # disk_inject
    case('image-missing', 'disk_inject', dict(image='/nonexistent/disk.qcow2', files=[dict(path='/etc/x', content='file text for a bad input')]),
         ['/nonexistent/disk.qcow2']),
    case('file-path-relative', 'disk_inject', dict(image=IMAGE, files=[dict(path='etc/x', content='file text for a bad input')]), ['files', 'etc/x']),
    case('file-without-content', 'disk_inject', dict(image=IMAGE, files=[dict(path='/etc/x')]), ['content']),
    case('ssh-key-without-key', 'disk_inject', dict(image=IMAGE, ssh_keys=[dict(user='root')]), ['key']),
    case('network-without-interfaces', 'disk_inject', dict(image=IMAGE, network=dict()), ['interfaces']),
    case('remote-uri', 'disk_inject', dict(image=IMAGE, uri='qemu+tcp://127.0.0.1:1/system',
                                           files=[dict(path='/etc/x', content='file text for a bad input')]), [IMAGE, 'uri']),
    # snapshot
    case('guest-missing', 'snapshot', dict(guest=PREFIX + 'ghost', dest=WORK + '/snap.qcow2'), [PREFIX + 'ghost']),
    case('dest-relative', 'snapshot', dict(guest=GUEST, dest='snap.qcow2'), [GUEST, 'dest']),
    case('dest-directory-missing', 'snapshot', dict(guest=GUEST, dest='/nonexistent-bi/snap.qcow2'),
         [GUEST, '/nonexistent-bi/snap.qcow2']),
    case('guest-without-disk', 'snapshot', dict(guest=GUEST, dest=WORK + '/snap.qcow2', mode='live'), [GUEST, 'vda']),
    case('disk-missing', 'snapshot', dict(guest=GUEST, dest=WORK + '/snap.qcow2', disk='vdz'), [GUEST, 'vdz']),
    case('format-unknown', 'snapshot', dict(guest=GUEST, dest=WORK + '/snap.qcow2', format='vdi'), ['format']),
    # migrate (refused before any connection to the destination)
    case('guest-missing', 'migrate', dict(guest=PREFIX + 'ghost', dest_uri='qemu+tcp://127.0.0.1:1/system'), [PREFIX + 'ghost']),
    case('bandwidth-zero', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', bandwidth_mib=0),
         [GUEST, 'bandwidth_mib']),
    case('downtime-negative', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', max_downtime_ms=-5),
         [GUEST, 'max_downtime_ms']),
    case('auto-converge-over-99', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', auto_converge=True,
                                                  auto_converge_increment=150), [GUEST, 'auto_converge_increment']),
    case('post-copy-offline', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', post_copy=True,
                                              live=False), [GUEST, 'post_copy']),
    case('post-copy-delay-without-post-copy', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                              post_copy_after_seconds=5), [GUEST, 'post_copy_after_seconds']),
    case('migration-uri-malformed', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                    migration_uri='127.0.0.1'), [GUEST, 'migration_uri']),
    case('copy-storage-unknown', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', copy_storage='some'),
         ['copy_storage']),
    case('dest-unreachable', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system'),
         [GUEST, 'qemu+tcp://127.0.0.1:1/system']),
    case('on-timeout-unknown', 'migrate', dict(guest=GUEST, dest_uri='qemu+tcp://127.0.0.1:1/system', on_timeout='wait'),
         ['on_timeout']),
    # host, host_info (refused before anything on the host is touched)
    case('nothing-asked', 'host', dict(), ['state', 'service']),
    case('state-unknown', 'host', dict(state='asleep'), ['state']),
    case('timeout-zero', 'host', dict(state='enabled', timeout=0), ['timeout']),
    case('remote-uri', 'host', dict(state='disabled', uri='qemu+tcp://127.0.0.1:1/system'), ['uri']),
    case('service-manager-unknown', 'host', dict(service='started', service_manager='upstart'), ['service_manager']),
    case('probe-timeout-zero', 'host_info', dict(probe_timeout=0), ['probe_timeout']),
    case('probe-not-a-bool', 'host_info', dict(probe='sometimes'), ['probe']),
    # every module: an unknown option and an unreachable uri
    case('unknown-option', 'volume', dict(pool=POOL, name=VOLUME, sise_gb=2), ['sise_gb']),
    case('uri-unreachable', 'network', dict(name=NETWORK, mode='isolated', uri='qemu+tcp://127.0.0.1:1/system'),
         ['qemu+tcp://127.0.0.1:1/system']),
    case('uri-malformed', 'guest_info', dict(uri='not a uri'), ['not a uri']),
    # what the security review found unchecked (issue 18): negative times, names and addresses with a trailing
    # newline ('$' matches before one), MTUs, filter names, non-ASCII owners
    case('reboot-timeout-negative', 'guest_action', dict(name=GUEST, action='reboot', reboot_timeout=-5),
         [GUEST, 'reboot_timeout']),
    case('rebuild-timeout-negative', 'guest_action', dict(name=GUEST, action='rebuild', image=IMAGE, reboot_timeout=-1),
         [GUEST, 'reboot_timeout']),
    case('name-trailing-newline', 'guest', dict(BOOT=1, name=PREFIX + 'g1\n'), ['name']),
    case('nic-mac-trailing-newline', 'guest',
         dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(user=True, mac='52:54:00:b1:00:01\n')]), [PREFIX + 'g1', 'mac']),
    case('nic-filter-newline', 'guest', dict(BOOT=1, name=PREFIX + 'g1', nics=[dict(user=True, filter=FILTER + '\n')]),
         [PREFIX + 'g1', 'filter name']),
    case('iqn-trailing-newline', 'volume_attachment', dict(guest=GUEST, target='vdb', iscsi=dict(
        portal='127.0.0.1:3260', iqn='iqn.2026-11.lab.virtops:bi\n', lun=1)), [GUEST, 'iqn']),
    case('filter-name-newline', 'nwfilter', dict(name=FILTER + '\n', rules=[]), ['filter name']),
    case('filter-name-slash', 'nwfilter', dict(name='lab-bi/fw', rules=[]), ['filter name']),
    case('drive-mtu-negative', 'config_drive', dict(dest=DRIVES + '/mtu.iso', name='bi', network_data_from_nics=[
        dict(mac='52:54:00:b1:00:02', mtu=-1)]), ['mtu']),
    case('drive-link-mtu-huge', 'config_drive', dict(dest=DRIVES + '/mtu.iso', name='bi', network_data=dict(
        links=[dict(id='eth0', type='phy', ethernet_mac_address='52:54:00:b1:00:02', mtu=10 ** 6)])), ['mtu']),
    case('inject-owner-not-ascii', 'disk_inject',
         dict(image=IMAGE, files=[dict(path='/etc/motd', content='file text for a bad input', owner='\u00b2')]), ['owner']),
    case('inject-mtu-negative', 'disk_inject', dict(image=IMAGE, network=dict(interfaces=[
        dict(name='ens3', dhcp=True, mtu=-1)])), ['mtu']),
]


def _with_boot(params, boot):
    """The case's options, with the tiny guest's boot options where the case asks for them."""
    if isinstance(params, list):
        return [_with_boot(item, boot) for item in params]
    if not isinstance(params, dict):
        return params
    out = dict(boot) if params.get('BOOT') else {}
    out.update((key, _with_boot(value, boot)) for key, value in params.items() if key != 'BOOT')
    return out


@pytest.fixture(scope='module')
def world(libvirt_conn, tiny_image, lab_default_network):
    """A stopped guest, a pool holding a 2 GiB volume, a small qcow2 image and a drive directory, all the suite's;
    and libvirt's default network active (the NIC cases name it), whether or not a full run started it."""
    boot = dict(virt_type='qemu', memory_mb=128, kernel=tiny_image.kernel, initrd=tiny_image.initrd,
                cmdline=tiny_image.cmdline)
    run_module('guest', name=GUEST, state='absent')
    run_module('volume', pool=POOL, name=VOLUME, state='absent')
    run_module('storage_pool', name=POOL, state='absent', delete_path=True)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(DRIVES)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', IMAGE, '16M'], check=True)
    for made in (run_module('guest', name=GUEST, state='stopped', **boot),
                 run_module('storage_pool', name=POOL, path=POOL_DIR),
                 run_module('volume', pool=POOL, name=VOLUME, size_gb=2)):
        assert not made.failed, made.msg
    yield boot
    run_module('guest', name=GUEST, state='absent')
    run_module('volume', pool=POOL, name=VOLUME, state='absent')
    run_module('storage_pool', name=POOL, state='absent', delete_path=True)
    shutil.rmtree(WORK, ignore_errors=True)


def _names_in(params):
    found = set()
    for value in (params.values() if isinstance(params, dict) else params if isinstance(params, list) else [params]):
        if isinstance(value, (dict, list)):
            found |= _names_in(value)
        elif isinstance(value, str) and len(value) >= 3:
            found.add(value)
    return found


def _changed(before, after, params):
    """Keys that differ; with VIRTOPS_LAB_SHARED=1 only those about the case's own objects count,
    since other sessions change the shared libvirtd at the same time."""
    keys = [key for key in set(before) | set(after) if before.get(key) != after.get(key)]
    if SHARED:
        mine = _names_in(params)
        keys = [key for key in keys if key.startswith('file:') or PREFIX in key
                or set(key.split(':', 1)[1].split('/')) & mine]
    return sorted(keys)


def _remove_what_a_case_made(conn, before):
    """An accepted case must not leave its guest, pool or secret behind to skew the cases after it."""
    import libvirt
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX) and dom.name() != GUEST:
            run_module('guest', name=dom.name(), state='absent')
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(PREFIX) and pool.name() != POOL:
            run_module('storage_pool', name=pool.name(), state='absent')
        elif pool.name() == POOL and pool.isActive():
            for vol in pool.listAllVolumes(0):
                if vol.name() != VOLUME:
                    vol.delete(0)
    for net in conn.listAllNetworks(0):
        if net.name().startswith(PREFIX):
            run_module('network', name=net.name(), state='absent')
    for secret in conn.listAllSecrets(0):
        if 'secret:' + secret.UUIDString() not in before and PREFIX in (secret.usageID() or ''):
            secret.undefine()
    for nwfilter in conn.listAllNWFilters(0):
        if nwfilter.name().startswith(PREFIX):
            nwfilter.undefine()
    try:
        dom = conn.lookupByName(GUEST)
        if dom.isActive():
            dom.destroy()
        for target in ('vdb', 'sdb'):
            if "dev='%s'" % target in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE):
                run_module('volume_attachment', guest=GUEST, target=target, state='absent')
    except libvirt.libvirtError:
        pass


@pytest.mark.parametrize('module, params, names, secret', CASES)
def test_bad_input_is_refused_in_one_sentence_and_changes_nothing(request, libvirt_conn, world,
                                                                  module, params, names, secret):
    args = _with_boot(params, world)
    before = libvirt_snapshot(libvirt_conn, paths=[WORK])
    try:
        _check_case(libvirt_conn, module, params, names, secret, args, before)
    finally:
        _remove_what_a_case_made(libvirt_conn, before)
    tally.case('bad inputs tried', request.node.callspec.id)


def _check_case(libvirt_conn, module, params, names, secret, args, before):
    result = run_module(module, **args)
    after = libvirt_snapshot(libvirt_conn, paths=[WORK])
    assert result.failed, '%s accepted %r: %r' % (module, params, result.data)
    problems = []
    changed = _changed(before, after, args)
    if changed:
        problems.append('bad input changed %s' % changed)
    try:
        assert_one_sentence(result.msg, *names)
    except AssertionError as err:
        problems.append(str(err))
    if secret:
        # Ansible itself echoes the options it was not told are secret (invocation); nothing else may show it
        if secret in json.dumps(dict(result.data, invocation=None), default=str):
            problems.append('the result shows the secret')
    assert not problems, '; '.join(problems)


def test_the_table_is_broad():
    modules = set(param.values[0] for param in CASES)
    assert len(CASES) >= 100 and len(modules) >= 16, (len(CASES), sorted(modules))
