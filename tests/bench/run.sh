#!/usr/bin/env bash
# Smoke run of the benchmark harness (not a benchmark): the C load client
# against one real edge, both built with ASan + UBSan — 10 WAMP subscribers
# x 50 events published through Django's send(), every one received
# (bench/run.py --smoke). A sanitizer report in any process's log fails it.
# Prints "bench-smoke: N passed, N failed" for scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d -t telegraphy-bench-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
TMPDIR=$work timeout --kill-after=10 120 /usr/bin/python3 bench/run.py --smoke --keep \
  --bin-dir build-asan/bin --loadgen build-asan/bench/telegraphy-loadgen
rc=$?
if grep -rlaE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work" 2>/dev/null; then
  echo "bench smoke: sanitizer report in the logs above"
  grep -rhaE -A5 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work" | head -40
  rc=1
fi
if ((rc == 0)); then echo "bench-smoke: 1 passed, 0 failed"; else echo "bench-smoke: 0 passed, 1 failed"; fi
exit $rc
