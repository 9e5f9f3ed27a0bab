#!/bin/sh
# The fleet's host root, after mmdebstrap installed its packages (its --customize-hook: $1 the root, $2 the
# URL of the fleet's apt repository). What differs per host (name, address, keys, machine id) is written
# into each host's own writable layer by lab.fleet.machines.
set -eu
root=$1
repo_url=$2

# every host gets SSH host keys of its own, never the ones made while building
rm -f "$root"/etc/ssh/ssh_host_*

# no registry is reachable from a host: apt reads only the fleet's repository on the lab bridge
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
cat > "$root/etc/apt/sources.list.d/virtops-fleet.sources" <<SOURCES
Types: deb
URIs: $repo_url
Suites: ./
Trusted: yes
SOURCES
rm -rf "$root"/var/lib/apt/lists/*

# lab hosts are thrown away: dpkg need not fsync every file, and documentation is only I/O
cat > "$root/etc/dpkg/dpkg.cfg.d/virtops-fleet" <<DPKG
force-unsafe-io
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
DPKG

# the address comes from systemd-networkd (each host's .network file names it)
chroot "$root" systemctl enable systemd-networkd.service
# timers that reach for a registry or for this machine's disks would fail and leave the system "degraded"
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
    fstrim.timer

# each host gets its own machine id when it is created
: > "$root/etc/machine-id"
