#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection placed where ansible-test
# wants it (…/ansible_collections/virtops/compute), with the files git knows about.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Outside the repository: inside it, ansible-test would see the copy as git-ignored files.
work=${VIRTOPS_SANITY_DIR:-/var/tmp/virtops-sanity}
dest="$work/ansible_collections/virtops/compute"
echo "[sanity] copying the collection to $dest"
rm -rf "$dest"
mkdir -p "$dest"
cd "$repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$dest/" 2>/dev/null || true
cd "$dest"
echo "[sanity] ansible-test sanity (python 3.11, its own virtualenvs)"
"$repo/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
