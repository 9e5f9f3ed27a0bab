"""Module start-up: what a module run costs beyond Ansible's own, against a playbook of one ping task.

Every module run starts a Python process on the host, unpacks the module and imports what it needs (AnsiballZ
ships source, compiled anew on every run), then opens its libvirt connection. These rows time a playbook of one
no-op task of ``guest``, ``guests`` and ``guest_info`` on one converged guest, and the ``guest`` role's no-op
converge of 20 guests, each against the same playbook running one ``ansible.builtin.ping`` task (same
``ansible.cfg``, same run). The goal for the role's row is a ratio of at most 1.3.

The machine is shared and its load moves within seconds, so each module run is paired with a ping run just before
it, and the ratio is the median of the pairs' ratios rather than a ratio of medians taken at different times.
"""
import statistics

from bench import workloads

GUEST = workloads.PREFIX + 'startup'
ROLE_GUESTS = 20
PING = """    - name: One ping
      ansible.builtin.ping:
"""
GUEST_TASK = """    - name: One guest, already as wanted
      virtops.compute.guest: "{{ bench_guest }}"
"""
GUESTS_TASK = """    - name: One guest through the batch module, already as wanted
      virtops.compute.guests:
        guests: ["{{ bench_guest }}"]
"""
INFO_TASK = """    - name: One guest's status
      virtops.compute.guest_info:
        name: "{{ bench_guest.name }}"
"""


def _paired(tasks, variables, repeats):
    """(median seconds of ``tasks``, median seconds of one ping task, median of their per-pair ratios)."""
    ours, pings, ratios = [], [], []
    for _run in range(repeats):
        pings.append(workloads.playbook(PING, {})[0])
        ours.append(workloads.playbook(tasks, variables)[0])
        ratios.append(ours[-1] / pings[-1])
    return statistics.median(ours), statistics.median(pings), statistics.median(ratios)


def run(uri, base, repeats, log):
    """The start-up rows: one no-op run of each module, and the role over 20 guests, against one ping task."""
    repeats = max(repeats, 5)    # cheap runs on a noisy machine: more of them
    guest = dict(name=GUEST, virt_type='qemu', memory_mb=workloads.MEMORY_MB, image=base)
    variables = dict(bench_guest=guest)
    workloads.floor('remove', uri, base, [GUEST])
    rows = []
    try:
        workloads.playbook(GUEST_TASK, variables)      # made once; every timed run below changes nothing
        for module, tasks in (('guest', GUEST_TASK), ('guests', GUESTS_TASK), ('guest_info', INFO_TASK)):
            elapsed, ping, ratio = _paired(tasks, variables, repeats)
            log('one no-op %s task: %.2f s, one ping task %.2f s (%.2fx)' % (module, elapsed, ping, ratio))
            rows.append(dict(group='startup', workload='one no-op module run over one ping task: %s' % module,
                             ours=elapsed, reference=ping, ratio=ratio, unit='s'))
    finally:
        workloads.floor('remove', uri, base, [GUEST])
    role_variables = dict(guests=workloads.batch_items(ROLE_GUESTS, base))
    workloads.remove_all(uri, base, ROLE_GUESTS)
    try:
        workloads.playbook(workloads.batch_tasks(), role_variables)
        elapsed, ping, ratio = _paired(workloads.batch_tasks(), role_variables, repeats)
        log('guest role, no-op converge of %d guests: %.2f s, one ping task %.2f s (%.2fx, goal 1.3x)'
            % (ROLE_GUESTS, elapsed, ping, ratio))
        rows.append(dict(group='startup', workload='guest role, no-op converge of %d guests, over one ping task (goal 1.3)'
                         % ROLE_GUESTS, ours=elapsed, reference=ping, ratio=ratio, unit='s'))
    finally:
        workloads.remove_all(uri, base, ROLE_GUESTS)
    return rows
