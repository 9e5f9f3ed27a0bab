"""Tiny guests for the networking tests: booted by the guest module, driven over their TCP serial shells.

Every guest here is `lab-net*` (removed with the other lab guests), listens on its own serial port in
4570-4589, and has its addresses set from its shell; all traffic stays on test-owned bridges and 10.77.x.0/24.
"""
import re
import subprocess
import time

from lab.console import serial_shell
from lab.runner import run_module

MEMORY_MB = 160


class NetGuest:
    def __init__(self, name, port, nics, image):
        self.name, self.port, self.nics, self.image = name, port, nics, image

    @property
    def params(self):
        return dict(name=self.name, virt_type='qemu', memory_mb=MEMORY_MB, kernel=self.image.kernel,
                    initrd=self.image.initrd, cmdline=self.image.cmdline,
                    serial_console=dict(type='tcp', port=self.port), nics=self.nics)

    def boot(self):
        run_module('guest', name=self.name, state='absent')
        result = run_module('guest', **self.params)
        assert not result.failed, result.msg
        return self

    def set_nics(self, nics):
        result = run_module('guest', **(self.params | {'nics': nics}))
        assert not result.failed, result.msg
        self.nics = nics
        return result

    def remove(self):
        run_module('guest', name=self.name, state='absent')

    def sh(self, command, timeout=60):
        return serial_shell(self.port, command, timeout=timeout)

    def links(self):
        return sorted(set(re.findall(r'\beth\d+\b', self.sh('ls /sys/class/net'))))

    def static(self, cidr, wait=60):
        """Stop DHCP and give the (only) ethN link ``cidr``, waiting for the link to show up first."""
        deadline = time.time() + wait
        while not self.links():
            assert time.time() < deadline, '%s: no ethN link showed up in the guest within %d s' % (self.name, wait)
            time.sleep(2)
        dev = self.links()[0]
        self.sh('killall udhcpc 2>/dev/null; ip addr flush dev {0}; ip addr add {1} dev {0}; ip link set {0} up'
                .format(dev, cidr))
        return dev

    def ipv4(self, dev='eth0'):
        return re.findall(r'inet (\d+\.\d+\.\d+\.\d+)/', self.sh('ip -4 addr show dev %s' % dev))

    def ping(self, ip, source=None, count=2):
        via = ' -I %s' % source if source else ''
        out = self.sh('ping -c %d -W 2%s %s >/dev/null 2>&1 && echo PING-O""K || echo PING-FA""IL'
                      % (count, via, ip), timeout=30)
        return 'PING-OK' in out

    def ping_eventually(self, ip, tries=5, **kwargs):
        """ARP and a fresh port take a moment: True when any of ``tries`` pings answers."""
        return any(self.ping(ip, **kwargs) for _attempt in range(tries))

    def listen(self, port):
        """A server that prints OPEN-<port> to whoever connects (busybox nc runs what follows -e with its arguments)."""
        self.sh('(while true; do nc -l -p %d -e echo OPEN-%d; done) >/dev/null 2>&1 &' % (port, port))

    def connect(self, ip, port):
        """True when ``ip``:``port`` accepted a connection and answered."""
        out = self.sh('sleep 2 | nc -w 3 %s %d' % (ip, port), timeout=30)
        return ('OPEN-%d' % port) in out


def host_ping(ip, count=2):
    return subprocess.run(['busybox', 'ping', '-c', str(count), '-W', '2', ip], capture_output=True,
                          check=False).returncode == 0


def ip_cmd(*args, check=True):
    return subprocess.run(['ip'] + list(args), capture_output=True, text=True, check=check)
