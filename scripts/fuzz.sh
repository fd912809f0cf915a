#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz/ for FUZZ_SECONDS (default 60),
# each from its seed corpus in tests/fuzz/seeds/<target>/ when present, and
# prints "fuzz: <target> ok" or "fuzz: <target> FAILED" per target.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
status=0
for bin in build-fuzz/fuzz_*; do
  [[ -x $bin ]] || continue
  name=$(basename "$bin")
  work=$(mktemp -d /tmp/telegraphy-fuzz.XXXXXX)
  seeds=()
  [[ -d tests/fuzz/seeds/$name ]] && seeds=("tests/fuzz/seeds/$name")
  if (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "$OLDPWD/$bin" -max_total_time="$seconds" \
        -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 "$work" "${seeds[@]/#/$OLDPWD/}") \
        >"$work/log" 2>&1; then
    echo "fuzz: $name ok ($(grep -a -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs in ${seconds}s)"
    rm -rf "$work"
  else
    echo "fuzz: $name FAILED (log and crash input in $work)"
    tail -30 "$work/log"
    status=1
  fi
done
exit $status
