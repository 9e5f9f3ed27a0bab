#!/usr/bin/env bash
# The test suite in two lanes that share nothing but the main libvirtd (started here, before either):
#   lane A  unit tests, and end-to-end tests on the main host, lab hosts 1 and 8, iSCSI and Open vSwitch
#   lane B  end-to-end tests that use only lab hosts 2-7 and 9-12 (migration between lab hosts, maintenance,
#           evacuation, host service control, placement, concurrency, the compute_host role, TLS migration,
#           those roles' molecule scenarios)
#   lane C  the fleet tests (tests/e2e/fleet: Debian hosts under systemd in systemd-nspawn, reached over SSH),
#           which use nothing of lanes A and B; it runs after lane B, in its place beside lane A
# Most of a lane's time is spent waiting on guests, so the lanes on two cores finish much sooner than one.
# The output of lanes B and C is kept in .build/lane-b.log and .build/lane-c.log and printed when all are done.
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
lane_c_log="$repo/.build/lane-c.log"
lane_rcs="$repo/.build/lane-bc.rc"
tallies=("$repo/.build/tally-a.json" "$repo/.build/tally-b.json" "$repo/.build/tally-c.json")
rm -f "${tallies[@]}" "$lane_rcs"
say "lanes B (lab hosts 2-7, 9-12) then C (the fleet) run alongside; their output follows at the end" \
    "(also in $lane_b_log and $lane_c_log)"
(
    VIRTOPS_LAB_LANE=B VIRTOPS_TALLY_FILE="${tallies[1]}" "$venv/pytest" -m lane_b tests/e2e -p no:cacheprovider \
        >"$lane_b_log" 2>&1
    echo "B $?" >>"$lane_rcs"
    VIRTOPS_LAB_LANE=C VIRTOPS_TALLY_FILE="${tallies[2]}" "$venv/pytest" -m fleet tests/e2e/fleet -p no:cacheprovider \
        >"$lane_c_log" 2>&1
    echo "C $?" >>"$lane_rcs"
) &
lanes_bc=$!
trap 'kill "$lanes_bc" 2>/dev/null' INT TERM

say "lane A (unit tests; main host, lab hosts 1 and 8, iSCSI, Open vSwitch)"
VIRTOPS_LAB_LANE=A VIRTOPS_TALLY_FILE="${tallies[0]}" "$venv/pytest" -m 'not lane_b and not fleet'
lane_a_rc=$?

if kill -0 "$lanes_bc" 2>/dev/null; then
    say "lane A is done; waiting for lanes B and C"
fi
wait "$lanes_bc"
lane_rc() { awk -v lane="$1" '$1 == lane {print $2}' "$lane_rcs" 2>/dev/null | grep . || echo 'not run'; }
lane_b_rc=$(lane_rc B)
lane_c_rc=$(lane_rc C)
say "lane B output:"
cat "$lane_b_log"
say "lane C output:"
cat "$lane_c_log" 2>/dev/null
say "$("$venv/python" -m lab.tally "${tallies[@]}")"
verdict() { [ "$1" = 0 ] && echo passed || echo "FAILED (pytest exit $1)"; }
say "lane A: $(verdict "$lane_a_rc"); lane B: $(verdict "$lane_b_rc"); lane C: $(verdict "$lane_c_rc")"
[ "$lane_a_rc" = 0 ] && [ "$lane_b_rc" = 0 ] && [ "$lane_c_rc" = 0 ]
