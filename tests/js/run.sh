#!/usr/bin/env bash
# Runs telegraphy.js's Node tests: tests/js/*.test.mjs with node's test
# runner (unit tests with a stand-in AutobahnJS, and the client against the
# real gateway from TELEGRAPHY_BIN_DIR, default build-asan/bin; build it
# with `make SAN=1 -j2`). Spec output to the terminal, TAP to
# $TELEGRAPHY_JS_OUT/node.tap (default: a temporary directory, printed).
# Ends with exactly one line, which scripts/test.sh sums:
#   js-node: N passed, N failed
# and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

export TELEGRAPHY_BIN_DIR="${TELEGRAPHY_BIN_DIR:-build-asan/bin}"
out="${TELEGRAPHY_JS_OUT:-$(mktemp -d -t telegraphy-js-XXXXXX)}"
mkdir -p "$out"
tap="$out/node.tap"
rm -f "$tap"

if [[ ! -d node_modules/autobahn ]]; then
  echo "js-node: node_modules missing; running npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || true
fi

timeout --kill-after=10 600 node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  tests/js/*.test.mjs
rc=$?

count() { grep -E "^# $1 [0-9]+$" "$tap" 2>/dev/null | tail -1 | awk '{print $3}'; }
pass=$(count pass); fail=$(count fail); cancelled=$(count cancelled)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${cancelled:-0} ))
if (( rc != 0 && fail == 0 )); then fail=1; fi # the runner died without a summary

echo "js-node: TAP in $tap"
echo "js-node: ${pass} passed, ${fail} failed"
(( rc == 0 && fail == 0 ))
