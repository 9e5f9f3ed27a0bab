# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The classic Linux-bridge VLAN layout: ``<parent>.<vlan>`` (an 802.1Q sub-interface) enslaved to a bridge.

libvirt cannot create VLAN sub-interfaces or bridges for a ``forward mode='bridge'``
network, so this is done with ``ip link`` on the host the module runs on, which
therefore has to be the compute host (a local ``uri``).  What ``ip link`` makes
does not survive a reboot of the host; the host's own network configuration
should carry it for good.
"""


import os

from ansible_collections.virtops.compute.plugins.module_utils.connection import VirtopsError, is_local_uri

SYS_NET = '/sys/class/net'
PROC_VLAN = '/proc/net/vlan'


def _exists(ifname):
    return os.path.exists(os.path.join(SYS_NET, ifname))


def _master(ifname):
    link = os.path.join(SYS_NET, ifname, 'master')
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def subinterface_name(where, parent, vlan):
    name = '%s.%d' % (parent, vlan)
    if len(name) > 15:
        raise VirtopsError('%s: the VLAN sub-interface name %s is longer than the 15 characters Linux allows.'
                           % (where, name))
    return name


def has_8021q(run_command):
    """True when the kernel does 802.1Q, loading the 8021q module when it is not loaded yet."""
    if os.path.isdir(PROC_VLAN):
        return True
    rc, _out, _err = run_command(['modprobe', '8021q'])
    return rc == 0 and os.path.isdir(PROC_VLAN)


def plan_vlan_bridge(where, uri, parent, vlan, bridge, run_command):
    """The ``ip link`` commands still needed for ``bridge`` to carry VLAN ``vlan`` of ``parent``; refuses what cannot work."""
    if not is_local_uri(uri):
        raise VirtopsError('%s: a Linux-bridge VLAN is made with ip link on the compute host, so the module must run '
                           'there with a local uri, not %s.' % (where, uri))
    sub = subinterface_name(where, parent, vlan)
    if not _exists(parent):
        raise VirtopsError('%s: vlan_parent %s is not a network interface of this host.' % (where, parent))
    if not _exists(sub) and not has_8021q(run_command):
        raise VirtopsError('%s: this host\'s kernel has no 802.1Q VLAN support (no %s and modprobe 8021q fails), so '
                           'the VLAN sub-interface %s cannot be made; use mode ovs for VLANs here.'
                           % (where, PROC_VLAN, sub))
    commands = []
    if not _exists(sub):
        commands.append(['ip', 'link', 'add', 'link', parent, 'name', sub, 'type', 'vlan', 'id', str(vlan)])
    if not _exists(bridge):
        commands.append(['ip', 'link', 'add', 'name', bridge, 'type', 'bridge'])
    elif not os.path.isdir(os.path.join(SYS_NET, bridge, 'bridge')):
        raise VirtopsError('%s: bridge %s exists and is not a Linux bridge.' % (where, bridge))
    if _master(sub) != bridge:
        commands.append(['ip', 'link', 'set', sub, 'master', bridge])
    if commands:
        commands += [['ip', 'link', 'set', sub, 'up'], ['ip', 'link', 'set', bridge, 'up']]
    return commands


def run_commands(where, commands, run_command):
    for command in commands:
        rc, _out, err = run_command(command)
        if rc != 0:
            raise VirtopsError('%s: %s failed: %s.' % (where, ' '.join(command), ' '.join(err.split()).rstrip('.')))
