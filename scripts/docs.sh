#!/usr/bin/env bash
# The collection's documentation as HTML in .build/docs/html (make docs):
#   1. antsibull-docs lint-collection-docs --plugin-docs: every module, plugin and role documentation parses and
#      its markup and references are valid;
#   2. antsibull-docs renders every module, plugin and role page as RST;
#   3. Sphinx builds them with the guides of docs/ (Markdown, through myst-parser), failing on any warning.
# The tools live in their own virtualenv, .build/venvs/docs (requirements-docs.txt), made by make setup.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.build/venvs/docs"
[ -x "$venv/bin/sphinx-build" ] || { echo "[docs] $venv is missing: run make setup first." >&2; exit 1; }
# antsibull-docs calls ansible and ansible-doc by name: those of the docs virtualenv
export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections"
out="$repo/.build/docs"
rst="$out/rst"

echo "[docs] antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs "$repo"

echo "[docs] antsibull-docs: module, plugin and role pages"
rm -rf "$out"
mkdir -p "$rst/collection"
chmod -R og-w "$out"   # antsibull-docs writes only into a directory no one else may write to
antsibull-docs --config-file "$repo/docs/sphinx/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
    --fail-on-error --dest-dir "$rst/collection" virtops.compute > "$out/antsibull-docs.log" 2>&1 \
    || { cat "$out/antsibull-docs.log" >&2; exit 1; }

echo "[docs] the guides of docs/"
cp "$repo/docs/sphinx/index.rst" "$rst/index.rst"
mkdir -p "$rst/guides/dev"
cp "$repo"/docs/*.md "$rst/guides/"
cp "$repo"/docs/dev/*.md "$rst/guides/dev/"

echo "[docs] sphinx-build (warnings fail the build)"
python3 "$repo/docs/sphinx/ansible_inventory.py" "$out/ansible.inv"
VIRTOPS_ANSIBLE_INVENTORY="$out/ansible.inv" sphinx-build -q -b html -c "$repo/docs/sphinx" -W --keep-going "$rst" "$out/html"
echo "[docs] $out/html/index.html: $(find "$out/html" -name '*.html' | wc -l) pages"
