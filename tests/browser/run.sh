#!/usr/bin/env bash
# The browser suite: tests/browser/*.test.mjs under node's test runner,
# headless Debian Chromium driven by playwright-core, against a real gateway
# (TELEGRAPHY_BIN_DIR, default build-asan/bin) and the demo site (demo/).
# Ends with exactly one line, which scripts/test.sh sums:
#   browser: N passed, N failed
# and exits non-zero on any failure. Screenshots go to tests/browser/output/.
# Without /usr/bin/chromium the suite is skipped: the reason is printed and
# nothing is counted ("browser: 0 passed, 0 failed"), unless
# TELEGRAPHY_REQUIRE_BROWSER=1, which counts the skip as one failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

export TELEGRAPHY_BIN_DIR="${TELEGRAPHY_BIN_DIR:-build-asan/bin}"
CHROMIUM=${TELEGRAPHY_CHROMIUM:-/usr/bin/chromium}
out=tests/browser/output
mkdir -p "$out"

skip() {
  echo "browser: skipped: $1"
  if [[ ${TELEGRAPHY_REQUIRE_BROWSER:-0} == 1 ]]; then
    echo "browser: 0 passed, 1 failed"
    exit 1
  fi
  echo "browser: 0 passed, 0 failed"
  exit 0
}
[[ -x $CHROMIUM ]] || skip "$CHROMIUM is missing (Debian: apt-get install chromium)"
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund --loglevel=error >&2
# The demo's pages need AutobahnJS's browser build (`make static`).
[[ -f django_telegraphy/static/telegraphy/autobahn.min.js ]] || scripts/static.sh >&2

timeout --kill-after=10 300 node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out/browser.tap" \
  tests/browser/*.test.mjs
rc=$?
tap_count() { grep -E "^# $1 [0-9]+$" "$out/browser.tap" 2>/dev/null | tail -1 | awk '{print $3}'; }
pass=$(tap_count pass); fail=$(tap_count fail); cancelled=$(tap_count cancelled)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${cancelled:-0} ))
if (( rc != 0 && fail == 0 )); then fail=1; fi  # the runner died without a summary
echo "browser: ${pass} passed, ${fail} failed"
(( rc == 0 && fail == 0 ))
