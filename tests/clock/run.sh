#!/usr/bin/env bash
# The router, edge and ingest unit suites under clocks far from the
# machine's: a monotonic clock of about one second (a machine booted a
# moment ago, as a fresh CI runner is) and one about three years ahead.
# Service code never reads a clock below its loop (lib/tg_clock.h), so the
# suites must pass under any clock; a function that read the machine's
# clock while its test injects another fails here.
#
# Uses a time namespace (`unshare --time`, Linux >= 5.6, root). Prints
#   clock: N passed, N failed
# (N = Criterion tests over both clocks) and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

BIN_DIR=${TELEGRAPHY_UNIT_DIR:-build-asan/tests}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp -d /tmp/telegraphy-clock.XXXXXX)

if ! unshare --time --fork --monotonic=1 true 2>"$log/unshare.err"; then
  echo "clock: cannot make a time namespace here: $(cat "$log/unshare.err")" >&2
  echo "clock: 0 passed, 1 failed"
  exit 1
fi

uptime_s=$(cut -d. -f1 /proc/uptime)
# Offsets of CLOCK_MONOTONIC (and BOOTTIME, which libraries may read too):
# "fresh" leaves about one second on the clock; "far" adds three years.
declare -A OFFSETS=([fresh]=$((1 - uptime_s)) [far]=100000000)

passed=0
failed=0
for clock in fresh far; do
  offset=${OFFSETS[$clock]}
  for t in "$BIN_DIR"/test_router_* "$BIN_DIR"/test_edge_* "$BIN_DIR"/test_ingest_*; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    out="$log/$clock-$name.log"
    unshare --time --fork --monotonic="$offset" --boottime="$offset" "$t" --jobs 1 >"$out" 2>&1
    rc=$?
    line=$(grep -a 'Synthesis:' "$out" | tail -1)
    if [[ $line =~ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
      p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}
      ((rc != 0 && f == 0)) && f=1
    else
      p=0; f=1
    fi
    if grep -aqE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$out"; then f=$((f + 1)); fi
    if ((f > 0)); then
      echo "clock: $clock $name failed (offset ${offset}s):"
      tail -20 "$out"
    fi
    passed=$((passed + p)); failed=$((failed + f))
  done
done
echo "clock: logs in $log"
echo "clock: $passed passed, $failed failed"
((failed == 0))
