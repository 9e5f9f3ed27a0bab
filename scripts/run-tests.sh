#!/usr/bin/env bash
# The test suite in two lanes that share nothing but the main libvirtd (started here, before either):
#   lane A  end-to-end tests on the main host, lab hosts 1 and 8, iSCSI and Open vSwitch, and the unit tests of
#           the XML model (they use the main libvirtd)
#   lane B  end-to-end tests that use only lab hosts 2-7 and 9-12 (migration between lab hosts, maintenance,
#           evacuation, host service control, placement, concurrency, the compute_host role, TLS migration,
#           those roles' molecule scenarios)
#   lane C  the fleet tests (tests/e2e/fleet: Debian hosts under systemd in systemd-nspawn, reached over SSH), which
#           use nothing of lanes A and B, then the other unit tests (pure logic); it runs after lane B, in its place
#           beside lane A, which is the longest
# With VIRTOPS_STATIC_CHECKS=1 (`make test`) the static checks (ansible-lint, ansible-test sanity, galaxy-importer,
# antsibull-docs and the docs build), which need no lab, run after lane C, while lane A still runs; their output is
# kept in .build/static.log and the run fails when they fail.
# Most of a lane's time is spent waiting on guests, so the lanes on two cores finish much sooner than one.
# The output of lanes B and C is kept in .build/lane-b.log and .build/lane-c.log and printed when all are done,
# then each lane's tests (per file), the reliability tally, and the verdict. A lane fails on any failed or skipped
# test (tests/lab/report.py) or when it runs past VIRTOPS_LANE_TIMEOUT_MIN minutes (default 60; each test also has
# its own limit, pytest.ini). A full run writes docs/reliability-summary.md and refreshes the block README.md and
# docs/reliability.md quote from it (tests/lab/lanes.py): commit them after a full run.
# With arguments, one ordinary pytest session runs them instead (e.g. scripts/run-tests.sh tests/e2e/test_volume.py).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
venv="$repo/.venv/bin"
# a caller's PYTHONPATH is kept after the lab's (e.g. a developer's extra pytest plugins)
export PYTHONPATH="$repo/tests${PYTHONPATH:+:$PYTHONPATH}" ANSIBLE_COLLECTIONS_PATH="$repo/.build/collections" \
    ANSIBLE_CONFIG="$repo/ansible.cfg"
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

if [ "$#" -gt 0 ]; then
    exec "$venv/pytest" "$@"
fi

# Each test has its own time limit (pytest-timeout, pytest.ini); a lane that still runs past this many minutes
# (a hang outside any test, or in a call the test's limit cannot interrupt) is interrupted, tears down, and fails.
lane_minutes=${VIRTOPS_LANE_TIMEOUT_MIN:-60}
started=$(date +%s)

# The lanes share the lab; no other test session may use it meanwhile (it would change what the lanes compare). The
# lab's session lock is held here for the whole run, and the lanes' sessions know it (VIRTOPS_LAB_LOCK_HELD).
lock_file=$("$venv/python" -c 'from lab.proc import LOCK_FILE; print(LOCK_FILE)')
mkdir -p "$(dirname "$lock_file")"
exec 9>>"$lock_file"
if ! flock -n 9; then
    say "waiting for another test session to finish with the lab ..."
    flock 9
fi
printf '%d\n' "$$" >"$lock_file"
export VIRTOPS_LAB_LOCK_HELD=$$

say "starting the main libvirtd and building the tiny lab image"
"$venv/python" -m lab.cli up --default-network || exit 1
"$venv/python" -m lab.images build tiny || exit 1

mkdir -p .build
# The full Debian image takes minutes to build on a fresh machine. It builds beside the lanes: the tests on it wait
# for it (the image cache's lock), and tests/conftest.py puts the files that need it after the others.
full_image_log="$repo/.build/image-full.log"
"$venv/python" -m lab.images build full >"$full_image_log" 2>&1 &
full_image_build=$!
lane_b_log="$repo/.build/lane-b.log"
lane_c_log="$repo/.build/lane-c.log"
static_log="$repo/.build/static.log"
lane_rcs="$repo/.build/lane-bc.rc"
rm -f "$lane_rcs"
declare -A tally report current
for lane in A B C; do
    tally[$lane]="$repo/.build/tally-${lane,,}.json"
    report[$lane]="$repo/.build/lane-${lane,,}-report.json"
    current[$lane]="$repo/.build/lane-${lane,,}-current-test"
    rm -f "${tally[$lane]}" "${report[$lane]}" "${current[$lane]}"
done

# lane_env LANE: the environment of one lane's pytest (tests/lab/report.py and fixtures.py read it), as env's
# arguments in the array lane_vars
lane_env() {
    lane_vars=("VIRTOPS_LAB_LANE=$1" "VIRTOPS_TALLY_FILE=${tally[$1]}" "VIRTOPS_LANE_REPORT=${report[$1]}"
               "VIRTOPS_CURRENT_TEST=${current[$1]}")
}
# Each lane's pytest runs under the lane's time limit: SIGTERM first (the test session turns it into an interrupt
# and tears its fixtures down), SIGKILL two minutes later if it has not ended. timeout relays a TERM it receives.
lane_limit=(timeout --kill-after=120 "$((lane_minutes * 60))")

# the unit tests that need a libvirtd (the main one, which lane A's tests compare before and after) stay in lane A
model_unit_tests=tests/unit/plugins/module_utils/model
say "lanes B (lab hosts 2-7, 9-12) then C (the fleet, the unit tests) run alongside; their output follows at the end" \
    "(also in $lane_b_log and $lane_c_log)"
(
    lane_env B
    env "${lane_vars[@]}" "${lane_limit[@]}" "$venv/pytest" -m lane_b tests/e2e -p no:cacheprovider >"$lane_b_log" 2>&1
    echo "B $?" >>"$lane_rcs"
    lane_env C
    env "${lane_vars[@]}" "${lane_limit[@]}" "$venv/pytest" tests/e2e/fleet tests/unit \
        --ignore="$model_unit_tests" -p no:cacheprovider >"$lane_c_log" 2>&1
    echo "C $?" >>"$lane_rcs"
    if [ "${VIRTOPS_STATIC_CHECKS:-}" = 1 ]; then
        VIRTOPS_SETUP_DONE=1 "${lane_limit[@]}" make -k --no-print-directory -C "$repo" lint sanity importer docs \
            >"$static_log" 2>&1
        echo "S $?" >>"$lane_rcs"
    fi
) &
lanes_bc=$!
trap 'kill -TERM "$lanes_bc" "$full_image_build" 2>/dev/null' INT TERM

say "lane A (main host, lab hosts 1 and 8, iSCSI, Open vSwitch; the XML model's unit tests)"
lane_env A
env "${lane_vars[@]}" "${lane_limit[@]}" "$venv/pytest" -m 'not lane_b and not fleet' "$model_unit_tests" tests/e2e
lane_a_rc=$?

if kill -0 "$lanes_bc" 2>/dev/null; then
    say "lane A is done; waiting for lanes B and C"
fi
wait "$lanes_bc"
if ! wait "$full_image_build"; then
    say "the full image did not build beside the lanes (the tests that need it then tried to build it themselves):"
    cat "$full_image_log"
fi
lane_rc() { awk -v lane="$1" '$1 == lane {print $2}' "$lane_rcs" 2>/dev/null | grep . || echo 'not run'; }
lane_b_rc=$(lane_rc B)
lane_c_rc=$(lane_rc C)
say "lane B output:"
cat "$lane_b_log"
say "lane C output:"
cat "$lane_c_log" 2>/dev/null
static_rc=0
if [ "${VIRTOPS_STATIC_CHECKS:-}" = 1 ]; then
    static_rc=$(lane_rc S)
    say "static checks output:"
    cat "$static_log" 2>/dev/null
fi

# verdict LANE RC: how the lane ended, in words
verdict() {
    case $2 in
        0) echo passed ;;
        124|137) echo "TIMED OUT after $lane_minutes min in $(cat "${current[$1]}" 2>/dev/null || echo '(no test started)')" ;;
        'not run') echo 'NOT RUN' ;;
        *) echo "FAILED (pytest exit $2)" ;;
    esac
}
for lane in A B C; do
    "$venv/python" -m lab.lanes show "$lane" "${report[$lane]}"
done
say "$("$venv/python" -m lab.tally "${tally[A]}" "${tally[B]}" "${tally[C]}")"
"$venv/python" -m lab.lanes summary "$(( $(date +%s) - started ))" \
    "A=${report[A]},${tally[A]}" "B=${report[B]},${tally[B]}" "C=${report[C]},${tally[C]}" |
    while read -r line; do say "$line"; done
static_verdict=
if [ "${VIRTOPS_STATIC_CHECKS:-}" = 1 ]; then
    case $static_rc in
        0) static_verdict='; static checks: passed' ;;
        'not run') static_verdict='; static checks: NOT RUN' ;;
        *) static_verdict="; static checks: FAILED (make exit $static_rc, see above or $static_log)" ;;
    esac
fi
say "lane A: $(verdict A "$lane_a_rc"); lane B: $(verdict B "$lane_b_rc"); lane C: $(verdict C "$lane_c_rc")$static_verdict"
[ "$lane_a_rc" = 0 ] && [ "$lane_b_rc" = 0 ] && [ "$lane_c_rc" = 0 ] && [ "$static_rc" = 0 ]
