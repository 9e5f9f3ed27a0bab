#!/usr/bin/env bash
# Installs what this project needs on a Debian/Ubuntu machine, printing each step: the few
# Debian packages the .venv needs (apt-get), the .venv with the pinned Python tool chain, the
# ansible_collections/ path through which Ansible and the tests find the collection, and then
# the hypervisor and the lab's packages through the collection's own compute_host role
# (playbooks/compute_host.yml on this machine, with the lab's packages from
# scripts/debian-packages.txt; the lab starts its own daemons, so the role leaves them alone, and sets one key of
# libvirtd.conf, read by the next start of libvirtd).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[setup] run as root: the lab starts libvirtd, tgtd and Open vSwitch and builds guest images." >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "[setup] this setup needs a Debian or Ubuntu machine (apt-get)." >&2; exit 1; }

# what the virtualenv needs before Ansible exists: venv, and the headers and compiler libvirt-python builds with;
# python3-apt for the system Python, which Ansible's apt module (run by the role below) switches to
bootstrap=(python3-venv python3-dev gcc pkg-config libvirt-dev git python3-apt)
missing=()
for pkg in "${bootstrap[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${#missing[@]} Debian packages the virtualenv needs: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "Debian packages for the virtualenv: all ${#bootstrap[@]} present"
fi

venv="$repo/.venv"
stamp="$venv/.requirements.sha256"
want_hash=$(cat "$repo/requirements.txt" "$repo/requirements-dev.txt" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_hash" ]; then
  step "creating the virtualenv .venv with $($python --version) and the pinned requirements"
  $python -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$repo/requirements-dev.txt"
  echo "$want_hash" > "$stamp"
else
  step "virtualenv .venv: up to date"
fi

# Tools whose dependencies would move packages of .venv to other versions, each in a virtualenv of its own under
# .build/venvs (made again when its requirements file changes): the docs tool chain (make docs) and galaxy-importer
# (make importer).
tool_venv() {  # NAME: .build/venvs/NAME from requirements-NAME.txt
  local dir="$repo/.build/venvs/$1" requirements="$repo/requirements-$1.txt"
  local want
  want=$(sha256sum < "$requirements" | cut -d' ' -f1)
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    step "creating the virtualenv .build/venvs/$1 from requirements-$1.txt"
    rm -rf "$dir"
    $python -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q -r "$requirements"
    echo "$want" > "$dir/.requirements.sha256"
  else
    step "virtualenv .build/venvs/$1: up to date"
  fi
}
tool_venv docs
tool_venv importer

collections="$repo/.build/collections/ansible_collections/virtops"
mkdir -p "$collections"
ln -sfn ../../../.. "$collections/compute"
step "collection path: $repo/.build/collections (virtops.compute -> $repo)"

# The hypervisor packages (the role's list for this os family) and the lab's extras; the role queries the
# package database once and calls apt only for what is missing.
mapfile -t lab_packages < <(grep -Ev '^\s*(#|$)' "$repo/scripts/debian-packages.txt")
step "hypervisor and lab packages: role compute_host on this machine (${#lab_packages[@]} lab packages)"
extra_vars=$(printf '%s\n' "${lab_packages[@]}" | "$venv/bin/python" -c '
import json, sys
print(json.dumps(dict(
    compute_host_extra_packages=sys.stdin.read().split(),
    # apt-get is here (checked above), so no fact gathering is needed to know the family
    compute_host_os_family="Debian", compute_host_service_manager="direct",
    # the .venv has libvirt-python and lxml from PyPI; the lab starts its own daemons
    compute_host_python_bindings=False, compute_host_manage_daemons=False, compute_host_manage_state_file=False,
    # libvirtd.conf: read-only clients without authentication, what polkit grants any local user by default; polkit
    # cannot run here (no D-Bus), and the console proxy daemons run as their own user with a read-only connection
    compute_host_libvirtd_conf=dict(auth_unix_ro="none"))))')
ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections" ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_NOCOLOR=1 \
  "$venv/bin/ansible-playbook" "$repo/playbooks/compute_host.yml" -e target=localhost -e "$extra_vars" \
  > "$repo/.build/setup-compute-host.log" 2>&1 || {
    tail -n 40 "$repo/.build/setup-compute-host.log" >&2
    echo "[setup] the compute_host role failed on this machine; its whole output is in .build/setup-compute-host.log" >&2
    exit 1
  }
recap=$(grep -E '^localhost\s+:' "$repo/.build/setup-compute-host.log" | tr -s ' ')
case "$recap" in
  *" changed=0 "*) step "hypervisor and lab packages: all present (${recap#localhost : })" ;;
  *) step "hypervisor and lab packages: installed what was missing (${recap#localhost : }); see .build/setup-compute-host.log" ;;
esac

# ansible-test bootstraps pip in its virtualenvs with a script from its own file
# server, which this kind of machine cannot reach; give it an offline stand-in.
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$repo/scripts/get_pip_offline.py" "$cache"; then
  step "ansible-test: offline pip bootstrap for pip $pip_version at $cache"
  mkdir -p "$(dirname "$cache")"
  cp "$repo/scripts/get_pip_offline.py" "$cache"
fi
