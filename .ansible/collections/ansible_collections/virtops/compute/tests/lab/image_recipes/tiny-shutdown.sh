#!/bin/sh
# What qemu-ga calls for guest-shutdown: -h/-P power off, -r reboot.
sync
case " $* " in
  *" -r "*) echo "virtops-tiny: rebooting" > /dev/console; reboot -f ;;
  *) echo "virtops-tiny: powering off" > /dev/console; poweroff -f ;;
esac
