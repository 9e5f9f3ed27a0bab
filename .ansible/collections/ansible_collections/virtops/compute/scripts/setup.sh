#!/usr/bin/env bash
# Installs what this project needs on a Debian/Ubuntu machine, printing each step:
# Debian packages that are missing, the .venv with the pinned Python tool chain, and
# the ansible_collections/ path through which Ansible and the tests find the collection.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[setup] run as root: the lab starts libvirtd, tgtd and Open vSwitch and builds guest images." >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "[setup] this setup needs a Debian or Ubuntu machine (apt-get)." >&2; exit 1; }

mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$repo/scripts/debian-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "Debian packages: all ${#wanted[@]} present"
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

collections="$repo/.build/collections/ansible_collections/virtops"
mkdir -p "$collections"
ln -sfn ../../../.. "$collections/compute"
step "collection path: $repo/.build/collections (virtops.compute -> $repo)"

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
