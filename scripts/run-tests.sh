#!/usr/bin/env bash
# The test suite in two lanes that share nothing but the main libvirtd (started here, before either):
#   lane A  unit tests, and end-to-end tests on the main host, lab hosts 1 and 8, iSCSI and Open vSwitch
#   lane B  end-to-end tests that use only lab hosts 2-7 and 9-12 (migration between lab hosts, maintenance,
#           evacuation, host service control, placement, concurrency, the compute_host role, TLS migration,
#           those roles' molecule scenarios)
# Most of a lane's time is spent waiting on guests, so two lanes on two cores finish much sooner than one.
# Lane B's output is kept in .build/lane-b.log and printed when both are done.
# With arguments, one ordinary pytest session runs them instead (e.g. scripts/run-tests.sh tests/e2e/test_volume.py).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
venv="$repo/.venv/bin"
export PYTHONPATH="$repo/tests" ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections" ANSIBLE_CONFIG="$repo/ansible.cfg"
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

if [ "$#" -gt 0 ]; then
    exec "$venv/pytest" "$@"
fi

say "starting the main libvirtd and building the lab images both lanes use"
"$venv/python" -m lab.cli up --default-network || exit 1
"$venv/python" -m lab.images build all || exit 1

mkdir -p .build
lane_b_log="$repo/.build/lane-b.log"
tallies=("$repo/.build/tally-a.json" "$repo/.build/tally-b.json")
rm -f "${tallies[@]}"
say "lane B (lab hosts 2-7, 9-12) runs alongside; its output follows at the end (also in $lane_b_log)"
VIRTOPS_LAB_LANE=B VIRTOPS_TALLY_FILE="${tallies[1]}" "$venv/pytest" -m lane_b tests/e2e -p no:cacheprovider >"$lane_b_log" 2>&1 &
lane_b=$!
trap 'kill "$lane_b" 2>/dev/null' INT TERM

say "lane A (unit tests; main host, lab hosts 1 and 8, iSCSI, Open vSwitch)"
VIRTOPS_LAB_LANE=A VIRTOPS_TALLY_FILE="${tallies[0]}" "$venv/pytest" -m 'not lane_b'
lane_a_rc=$?

if kill -0 "$lane_b" 2>/dev/null; then
    say "lane A is done; waiting for lane B"
fi
wait "$lane_b"
lane_b_rc=$?
say "lane B output:"
cat "$lane_b_log"
say "$("$venv/python" -m lab.tally "${tallies[@]}")"
say "lane A: $([ $lane_a_rc -eq 0 ] && echo passed || echo "FAILED (pytest exit $lane_a_rc)");" \
    "lane B: $([ $lane_b_rc -eq 0 ] && echo passed || echo "FAILED (pytest exit $lane_b_rc)")"
[ "$lane_a_rc" -eq 0 ] && [ "$lane_b_rc" -eq 0 ]
