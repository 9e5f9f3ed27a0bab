"""Disk throughput seen from inside a tiny guest, for the I/O limit (QoS) tests.

A limit of L bytes/s makes reading N bytes take at least (N - burst) / L seconds however loaded the machine is,
so a throttled read is checked against that lower bound, never against a guess of how fast the machine is.
QEMU lets a guest run ahead of its average by a tenth of a second's worth of bytes (its leaky bucket's default
burst when no *_max is set), and the first request passes before the bucket fills, hence the burst allowance.
Times are taken on the host around the serial round trip: longer than the read itself, so a lower bound
measured this way holds, and an upper bound (a lifted limit) is only ever harder to meet.
"""
import time

from lab.console import serial_run

BLOCK = 64 * 1024


def read_seconds(port, device, skip_blocks, blocks):
    """Seconds the guest behind ``port`` takes to read ``blocks`` blocks of 64 KiB of /dev/``device`` from block
    ``skip_blocks`` on, bypassing its page cache (O_DIRECT: every byte goes through QEMU's limits)."""
    started = time.monotonic()
    status, out = serial_run(port, 'dd if=/dev/%s of=/dev/null bs=%d count=%d skip=%d iflag=direct 2>&1'
                             % (device, BLOCK, blocks, skip_blocks), timeout=600)
    took = time.monotonic() - started
    assert status == 0 and '%d+0 records in' % blocks in out, 'the read in the guest failed: %r' % out
    return took


def throttled_minimum(nbytes, limit):
    """The fewest seconds reading ``nbytes`` can take under a limit of ``limit`` bytes/s."""
    return (nbytes - limit / 10.0 - BLOCK) / limit
