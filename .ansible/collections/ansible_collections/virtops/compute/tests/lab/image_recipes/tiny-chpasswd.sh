#!/bin/sh
# chpasswd for the tiny guest, whose busybox lacks it (qemu-ga's guest-set-user-password runs it):
# reads user:password lines on stdin; -e means the passwords are already hashed.
encrypted=no
[ "$1" = "-e" ] && encrypted=yes
while IFS=: read -r user pass; do
  [ -n "$user" ] || continue
  grep -q "^$user:" /etc/shadow || { echo "chpasswd: no user $user" >&2; exit 1; }
  if [ "$encrypted" = yes ]; then
    hash=$pass
  else
    hash=$(mkpasswd -m sha512 "$pass") || exit 1
  fi
  sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/shadow || exit 1
done
