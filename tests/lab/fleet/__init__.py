"""The fleet lab: compute hosts that are whole Debian 12 systems under systemd, on one machine.

Each host (cn1, cn2, cn3 ...) is a `systemd-nspawn` container booted with systemd as PID 1, with its own
network namespace and address on the lab bridge (TEST-NET-2, 198.51.100.0/24), sshd, a domain name
(cn1.fleet.test) and the fleet's shared directory bind-mounted at /var/lib/libvirt/shared. The hosts reach
nothing but the bridge: their packages come from a local apt repository that the lab serves on
198.51.100.1. Ansible reaches them over SSH through .build/fleet/inventory.yml.

    lab.fleet.layout     names, addresses, paths
    lab.fleet.build      the cached host root (mmdebstrap) and apt repository
    lab.fleet.network    the bridge, the apt repository's HTTP server, partitions
    lab.fleet.machines   one host: writable root, boot, power off, power cut
    lab.fleet.keys       SSH keys, known_hosts, the TLS CA and host certificates
    lab.fleet.inventory  the Ansible inventory
    lab.fleet.control    up / down / status / partition / heal / poweroff / poweron / kill
    lab.fleet.fixtures   the pytest session fixtures
"""
