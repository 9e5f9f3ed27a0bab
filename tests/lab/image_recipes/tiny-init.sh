#!/bin/sh
# /init of the tiny lab guest: a Debian kernel and busybox, up in seconds under TCG.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /tmp /mnt/config /var/log
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run

say() { echo "virtops-tiny: $*" > /dev/console; }

while read -r module; do
  insmod "/lib/modules/$module" 2>/dev/null
done < /etc/modules.order

name=tiny
read -r cmdline < /proc/cmdline
for word in $cmdline; do
  case "$word" in virtops.hostname=*) name=${word#virtops.hostname=} ;; esac
done
hostname "$name"
ip link set lo up

# ACPI power button (virsh shutdown): any event from the button's input device powers off.
for input in /sys/class/input/event*; do
  if [ "$(cat "$input/device/name" 2>/dev/null)" = "Power Button" ]; then
    (head -c 1 "/dev/input/$(basename "$input")" >/dev/null && /etc/acpi/power-button.sh) &
  fi
done

# Give virtio devices a moment to appear.
i=0
while [ $i -lt 20 ] && [ ! -e /sys/class/virtio-ports ] && [ ! -e /sys/class/net/eth0 ]; do
  sleep 0.1; i=$((i + 1))
done

for port in /sys/class/virtio-ports/*; do
  [ -e "$port/name" ] || continue
  if [ "$(cat "$port/name")" = org.qemu.guest_agent.0 ]; then
    qemu-ga -m virtio-serial -p "/dev/$(basename "$port")" -d -f /run/qemu-ga.pid && say "guest agent started"
  fi
done

# The volume label, read where ISO 9660 (primary volume descriptor) and FAT12/16 or FAT32 (boot
# sector) keep it; busybox here has no blkid.
labels_of() {
  for offset in 32808 43 71; do
    dd if="$1" bs=1 skip=$offset count=11 2>/dev/null | tr -d ' \000'
    echo
  done
}

# A CD-ROM shows up a few seconds after its driver loads (the ATA scan runs on its own): look for
# the config drive in the background for a while instead of holding the boot up.
(
  tries=0
  while [ $tries -lt 50 ]; do
    for dev in /dev/sr0 /dev/sr1 /dev/vd? /dev/sd?; do
      [ -b "$dev" ] || continue
      if labels_of "$dev" | grep -qix 'config-2'; then
        mount -o ro "$dev" /mnt/config 2>/dev/null && say "config drive $dev mounted at /mnt/config" && exit 0
      fi
    done
    sleep 0.2; tries=$((tries + 1))
  done
) &

if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -i eth0 -b -q -t 5 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1 &
fi

say "boot complete"
export PS1='tiny# ' HOME=/root
while true; do
  setsid cttyhack sh -l
  sleep 1
done
