#!/bin/sh
echo "virtops-tiny: power button pressed, powering off" > /dev/console
sync
poweroff -f
