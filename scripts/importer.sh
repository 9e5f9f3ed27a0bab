#!/usr/bin/env bash
# Imports the tarball `make build` made with galaxy-importer, as Galaxy and Automation Hub do on an upload
# (ansible-doc and ansible-lint on, ansible-test off: see scripts/galaxy-importer.cfg). Fails when the import
# fails or reports an error or a warning.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.build/venvs/importer"
version=$(sed -n 's/^version: *//p' "$repo/galaxy.yml")
tarball="$repo/.build/dist/virtops-compute-$version.tar.gz"
[ -f "$tarball" ] || { echo "[importer] $tarball is missing: run make build first." >&2; exit 1; }
[ -x "$venv/bin/python" ] || { echo "[importer] $venv is missing: run make setup first." >&2; exit 1; }

out="$repo/.build/importer"
rm -rf "$out" && mkdir -p "$out"
echo "[importer] galaxy-importer on $(basename "$tarball")"
# the importer calls ansible-doc and ansible-lint by name, and writes importer_result.json where it runs
set +e
(cd "$out" && PATH="$venv/bin:$PATH" GALAXY_IMPORTER_CONFIG="$repo/scripts/galaxy-importer.cfg" \
    "$venv/bin/python" -m galaxy_importer.main "$tarball" > "$out/importer.log" 2>&1)
rc=$?
set -e
problems=$(grep -E '^(ERROR|WARNING|CRITICAL):' "$out/importer.log" || true)
if [ "$rc" -ne 0 ] || [ -n "$problems" ]; then
    grep -v '^Loading ' "$out/importer.log" >&2
    echo "[importer] the import failed (exit $rc); its whole output is in $out/importer.log" >&2
    exit 1
fi
grep -v '^Loading ' "$out/importer.log"
echo "[importer] imported: $(grep -c '^Loading ' "$out/importer.log") pieces of content, no error or warning"
