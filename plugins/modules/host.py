#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, virtops.compute contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r'''
module: host
short_description: A compute host's service state (enabled, disabled, maintenance) and its hypervisor daemons
version_added: 0.1.0
description:
  - Sets whether new guests may be placed on a compute host (O(state)) and starts, stops or restarts the
    host's libvirt daemons (O(service)).
  - The service state is kept in the host's local facts file C(/etc/ansible/facts.d/virtops_compute.fact), a JSON
    object with the keys C(service_state), C(maintenance_reason) and C(changed_at) (UTC, ISO 8601).
  - Ansible reads it back as C(ansible_local.virtops_compute), and M(virtops.compute.host_info) reports it as
    RV(host.service_state) and RV(host.maintenance_reason). The file is written atomically with mode C(0644);
    C(/etc/ansible/facts.d) is created when missing. A host without the file is enabled.
  - The module must run ON the compute host, since the state file and the daemons are local to it. A remote
    O(uri) (any transport such as C(qemu+ssh) or C(qemu+tcp), or a host name other than localhost) is refused
    for every change; read a remote host's state by running M(virtops.compute.host_info) or
    M(ansible.builtin.setup) on that host.
  - C(disabled) means no new guests are placed on the host (the C(virtops.compute.pick_host) and
    C(virtops.compute.pick_hosts) filters skip it); running guests are left alone.
  - C(maintenance) means disabled and empty. It is refused, with one sentence naming them, while any guest is
    still there, running, paused, suspended (managed save) or pmsuspended; shut-off guests do not count. The
    module never moves guests itself; the C(virtops.compute.maintenance) role migrates them first.
  - When both O(service) and O(state) are given, C(started), C(restarted) and C(reloaded) are applied before
    O(state) and C(stopped) after it.
  - Full check mode and diff mode support for both; a check run writes nothing and touches no daemon.
author:
  - virtops.compute contributors (@virtops)
options:
  state:
    description:
      - The host's service state. C(enabled) takes new guests, C(disabled) takes none but keeps what runs,
        C(maintenance) is disabled with no guest left.
      - C(maintenance) connects to libvirt at O(uri) to list the guests; C(enabled) and C(disabled) do not.
    type: str
    choices: [enabled, disabled, maintenance]
  reason:
    description:
      - Why the host was disabled or put into maintenance, stored as C(maintenance_reason).
      - When omitted the stored reason is kept as long as O(state) does not change, and cleared when it does.
    type: str
  initial:
    description:
      - Apply O(state) and O(reason) only to a host that has no state file yet, and then write the file even
        for C(enabled); a host with a stored state keeps it and the run reports no change.
      - For setting up new hosts (the C(virtops.compute.compute_host) role does so) without putting back into
        service a host that someone disabled or put into maintenance since.
    type: bool
    default: false
  service:
    description:
      - The hypervisor daemons, libvirtd (or, on a host running the modular daemons, virtqemud and the other
        C(virt*d) found running) and virtlogd.
      - With systemd (C(systemctl) exists and C(/run/systemd/system) is a directory) the module runs
        C(systemctl start|stop|restart) on their units. Without it, it finds the daemons through their pid files.
      - C(started) is unchanged when the daemons run. A daemon that is not running is started with the command
        line, environment, working directory and cgroups it had when this module last stopped it, and otherwise
        as C(libvirtd --daemon --pid-file PIDFILE) with O(libvirtd_args) and
        C(virtlogd --daemon --pid-file PIDFILE) with O(virtlogd_args).
      - C(stopped) sends SIGTERM to libvirtd and waits for it to exit; guests keep running (QEMU does not
        depend on libvirtd). virtlogd is stopped too, unless guests still run, since it holds their console
        logs open; it is then left running with a warning.
      - C(restarted) always reports a change. Without systemd, libvirtd is stopped and started again with the
        command line, environment, working directory and cgroups it ran with, and virtlogd re-executes itself
        in place (SIGUSR1, as its systemd unit reloads it) so that the running guests' log pipes survive.
      - C(reloaded) always reports a change. It makes libvirtd (or virtqemud) reload (C(systemctl reload), or
        SIGHUP without systemd), so that it looks for hook scripts again (a hook installed since it started is run
        from then on) and reads its definitions again; guests, clients and virtlogd are left alone. A daemon that
        is not running is started instead.
      - After starting, the module waits until libvirt answers on O(uri) again, at most O(timeout) seconds.
    type: str
    choices: [started, stopped, restarted, reloaded]
  timeout:
    description: Seconds to wait for a daemon to stop or start and for libvirt to answer on O(uri) again.
    type: int
    default: 60
  service_manager:
    description:
      - C(auto) uses systemd where present and the pid files otherwise; C(systemd) and C(direct) force one.
    type: str
    choices: [auto, systemd, direct]
    default: auto
  libvirtd_pid_file:
    description:
      - The pid file of libvirtd (or virtqemud) for hosts that keep it somewhere other than
        C(/run/libvirtd.pid) (C(/run/virtqemud.pid) for the modular daemons).
      - Also where the module remembers the daemon's command line when it stops it, in a C(.virtops.json)
        file next to it.
    type: path
  virtlogd_pid_file:
    description: The pid file of virtlogd, for hosts that keep it somewhere other than C(/run/virtlogd.pid).
    type: path
  libvirtd_args:
    description:
      - Extra arguments for libvirtd when it is started from nothing (no command line remembered), for
        example C([--listen]) on a host that takes TCP connections. C(--daemon) and C(--pid-file) are always
        added.
    type: list
    elements: str
    default: []
  virtlogd_args:
    description: Extra arguments for virtlogd when it is started from nothing.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - virtops.compute.connection
  - virtops.compute.attributes
notes:
  - O(uri) must be local (C(qemu:///system) or C(qemu+unix:///system)). A URI that does not answer makes
    C(maintenance) fail with one sentence and nothing changed.
  - Running guests survive C(service=restarted) and C(service=stopped); libvirtd finds them again when it starts.
seealso:
  - module: virtops.compute.host_info
'''

EXAMPLES = r'''
- name: Take no new guests on this host
  virtops.compute.host:
    state: disabled
    reason: failing DIMM, ticket 4711

- name: Mark the host as in maintenance once its guests are gone
  virtops.compute.host:
    state: maintenance
    reason: firmware upgrade

- name: A new host starts disabled, out of placement until it has been burnt in; later runs keep what is stored
  virtops.compute.host:
    state: disabled
    reason: new host, burn-in
    initial: true

- name: Back in service
  virtops.compute.host:
    state: enabled

- name: Have libvirtd notice a hook script installed since it started
  virtops.compute.host:
    service: reloaded

- name: Restart libvirtd (running guests keep running) and wait until it answers
  virtops.compute.host:
    service: restarted
    timeout: 90

- name: The service state as local facts
  ansible.builtin.debug:
    msg: "{{ ansible_local.virtops_compute.service_state | default('enabled') }}"
'''

RETURN = r'''
host:
  description: The host's service state after the run (what it would be in check mode).
  returned: always
  type: dict
  contains:
    hostname:
      description: The host's name (its UTS host name).
      type: str
      sample: compute1
    service_state:
      description: C(enabled), C(disabled) or C(maintenance).
      type: str
      sample: maintenance
    maintenance_reason:
      description: The stored reason, null when none.
      type: str
      sample: firmware upgrade
    changed_at:
      description: When the service state last changed, UTC in ISO 8601; null when never set.
      type: str
      sample: "2026-11-25T09:30:00Z"
    state_file:
      description: The facts file holding the state.
      type: str
      sample: /etc/ansible/facts.d/virtops_compute.fact
service:
  description: The hypervisor daemons after the run; present when O(service) was given.
  returned: when service is given
  type: dict
  contains:
    manager:
      description: C(systemd) or C(direct).
      type: str
    daemons:
      description: Per daemon name, its C(pid) (null when not running) and C(running).
      type: dict
      sample: {libvirtd: {pid: 4242, running: true}, virtlogd: {pid: 4240, running: true}}
    actions:
      description: What was done, or would be in check mode, one line each.
      type: list
      elements: str
      sample: ["stopped libvirtd (pid 4242)", "started libvirtd --daemon --listen --pid-file /run/libvirtd.pid"]
diff:
  description: Before and after of the service state, in diff mode.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.virtops.compute.plugins.module_utils.common import VirtopsModule
from ansible_collections.virtops.compute.plugins.module_utils.host import service as host_service
from ansible_collections.virtops.compute.plugins.module_utils.host import state as host_state


def main():
    module = VirtopsModule(
        argument_spec=dict(
            state=dict(type='str', choices=['enabled', 'disabled', 'maintenance']),
            reason=dict(type='str'),
            initial=dict(type='bool', default=False),
            service=dict(type='str', choices=['started', 'stopped', 'restarted', 'reloaded']),
            timeout=dict(type='int', default=60),
            service_manager=dict(type='str', default='auto', choices=['auto', 'systemd', 'direct']),
            libvirtd_pid_file=dict(type='path'),
            virtlogd_pid_file=dict(type='path'),
            libvirtd_args=dict(type='list', elements='str', default=[]),
            virtlogd_args=dict(type='list', elements='str', default=[]),
        ),
        required_one_of=[('state', 'service')],
        required_if=[('initial', True, ['state'])],
        supports_check_mode=True,
    )

    def converge(module):
        host_state.require_local(module)
        if module.params['timeout'] < 1:
            module.fail('timeout must be at least 1 second, got %d.' % module.params['timeout'])
        result = dict(changed=False)
        service = module.params['service']
        if service in ('started', 'restarted', 'reloaded'):
            host_service.converge(module, result)
        if module.params['state']:
            host_state.converge(module, result)
        else:
            result['host'] = host_state.current(module)
        if service == 'stopped':
            host_service.converge(module, result)
        return result

    module.run(converge)


if __name__ == '__main__':
    main()
