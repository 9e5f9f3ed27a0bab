"""Tiny guests on the fleet, seen from inside them and from their hosts.

A guest is asked through its guest agent (the guest module's guest_agent: true; qemu-ga runs in the tiny image): a
small Python program runs in the host that holds the guest (nsenter, libvirt_qemu of the host's python3-libvirt)
and has the agent run a shell command. The agent's channel travels with a live-migrated guest, where a serial
console's pty would not. Every in-guest check computes something the command line does not contain, so an echo of
the command can never pass for its output; every wait has a time-out and raises, none sleeps blindly.
"""
from lab.fleet import layout, machines
from lab.proc import LabError

AGENT_SH = r'''
import base64, json, sys, time
import libvirt, libvirt_qemu
name, command, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
conn = libvirt.open('qemu:///system')
deadline = time.monotonic() + timeout

def agent(execute, arguments=None):
    request = {'execute': execute}
    if arguments is not None:
        request['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(conn.lookupByName(name), json.dumps(request), 10, 0))['return']

last = None
while True:
    try:
        agent('guest-ping')
        break
    except libvirt.libvirtError as exc:
        last = exc
    if time.monotonic() > deadline:
        sys.exit('the guest agent of %s did not answer within %ss: %s' % (name, timeout, last))
    time.sleep(0.3)
pid = agent('guest-exec', {'path': '/bin/sh', 'arg': ['-c', command], 'capture-output': True})['pid']
while True:
    status = agent('guest-exec-status', {'pid': pid})
    if status.get('exited'):
        sys.stdout.write(base64.b64decode(status.get('out-data', '')).decode(errors='replace'))
        sys.exit(0)
    if time.monotonic() > deadline:
        sys.exit('%r did not finish in guest %s within %ss' % (command, name, timeout))
    time.sleep(0.2)
'''

# 6*7 and 3*37 are computed in the guest: the command line holds neither 42 nor 111
UPTIME = 'echo $((6*7)); cat /proc/uptime; echo $((3*37))'


def guest_sh(host_name, guest, command, timeout=90):
    """stdout of `command` run with /bin/sh inside `guest` on fleet host `host_name`."""
    host = layout.host(host_name)
    done = machines.inside(host, 'python3', '-c', AGENT_SH, guest, command, str(timeout), timeout=timeout + 30,
                           check=False)
    if done.returncode != 0:
        raise LabError('in guest %s on %s: %s' % (guest, host_name, (done.stderr or done.stdout).strip()[-1500:]))
    return done.stdout


def uptime(host_name, guest, timeout=90):
    """The guest's own uptime in seconds, read inside it (/proc/uptime)."""
    out = guest_sh(host_name, guest, UPTIME, timeout).split()
    if len(out) != 4 or out[0] != '42' or out[3] != '111':
        raise LabError('guest %s on %s did not answer the uptime check: %r' % (guest, host_name, out))
    return float(out[1])


def domains(host_name):
    """{guest name: state} of every guest defined on the host (virsh inside it)."""
    host = layout.host(host_name)
    listed = machines.inside(host, 'virsh', '-q', 'list', '--all').stdout
    found = {}
    for line in listed.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3:
            found[fields[1]] = fields[2].strip()
    return found


def where(names, host_names=layout.HOST_NAMES):
    """{guest name: [(host, state), ...]} of the given guests, on every host that defines them."""
    found = {name: [] for name in names}
    for host_name in host_names:
        for name, state in domains(host_name).items():
            if name in found:
                found[name].append((host_name, state))
    return found
