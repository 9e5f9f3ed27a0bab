#!/bin/sh
# mmdebstrap customize hook for the full lab guest; $1 is the root directory.
set -e
root="$1"
echo lab-full > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 lab-full\n' > "$root/etc/hosts"
# by label: the root file system is the whole of /dev/vda when booted directly, partition 2 of the UEFI disk
echo 'LABEL=root / ext4 defaults,errors=remount-ro 0 1' > "$root/etc/fstab"
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cat > "$root/etc/cloud/cloud.cfg.d/90-virtops-lab.cfg" <<'CFG'
datasource_list: [ConfigDrive, NoCloud, None]
CFG
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' > "$root/etc/network/interfaces"
cat > "$root/etc/systemd/system/virtops-ready.service" <<'UNIT'
[Unit]
Description=Tell the lab on the serial console that boot is complete
After=multi-user.target cloud-final.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "virtops-full: boot complete" > /dev/ttyS0'
[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable virtops-ready.service serial-getty@ttyS0.service >/dev/null 2>&1
chroot "$root" passwd -l root >/dev/null
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
