#!/usr/bin/env bash
# Runs the integration suites against the real gateway processes:
#   node's test runner over tests/integration/*.test.mjs (AutobahnJS, wampy, raw ws)
#   Debian's python3 unittest over tests/integration/test_python_*.py (python3-autobahn)
# Binaries come from TELEGRAPHY_BIN_DIR (default build-asan/bin; build with `make SAN=1 -j2`).
# Ends with exactly one line per suite, which scripts/test.sh sums:
#   integration-node: N passed, N failed
#   integration-python: N passed, N failed
# and exits non-zero on any failure. TAP and unittest output are kept in
# $TELEGRAPHY_IT_OUT (default: a temporary directory, printed).
set -uo pipefail
cd "$(dirname "$0")/../.."

export TELEGRAPHY_BIN_DIR="${TELEGRAPHY_BIN_DIR:-build-asan/bin}"
out="${TELEGRAPHY_IT_OUT:-$(mktemp -d -t telegraphy-it-XXXXXX)}"
mkdir -p "$out"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

if [[ ! -d node_modules/wampy || ! -d node_modules/autobahn ]]; then
  echo "integration: node_modules missing; running npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || true
fi

start=$(date +%s)

# --- node suite: spec to the terminal, TAP to a file for the counts.
node_files=(tests/integration/*.test.mjs)
timeout --kill-after=10 900 node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out/node.tap" \
  "${node_files[@]}"
node_rc=$?
tap_count() { grep -E "^# $1 [0-9]+$" "$out/node.tap" 2>/dev/null | tail -1 | awk '{print $3}'; }
node_pass=$(tap_count pass); node_fail=$(tap_count fail); node_cancel=$(tap_count cancelled)
node_pass=${node_pass:-0}; node_fail=$(( ${node_fail:-0} + ${node_cancel:-0} ))
if (( node_rc != 0 && node_fail == 0 )); then node_fail=1; fi  # runner died without a summary

# --- python suite (Debian's interpreter has python3-autobahn).
(cd tests/integration && timeout --kill-after=10 300 "$PY" -m unittest discover -v -s . -p 'test_python_*.py') \
  > "$out/python.log" 2>&1
py_rc=$?
cat "$out/python.log"
ran=$(grep -Eo '^Ran [0-9]+ tests?' "$out/python.log" | tail -1 | awk '{print $2}')
ran=${ran:-0}
summary=$(grep -E '^(OK|FAILED)' "$out/python.log" | tail -1)
py_bad=0
for k in failures errors; do
  n=$(grep -Eo "$k=[0-9]+" <<<"$summary" | cut -d= -f2)
  py_bad=$(( py_bad + ${n:-0} ))
done
skipped=$(grep -Eo 'skipped=[0-9]+' <<<"$summary" | cut -d= -f2)
py_pass=$(( ran - py_bad - ${skipped:-0} )); (( py_pass < 0 )) && py_pass=0
if (( py_rc != 0 && py_bad == 0 )); then py_bad=1; fi

echo "integration: $(( $(date +%s) - start ))s, logs in $out"
echo "integration-node: ${node_pass} passed, ${node_fail} failed"
echo "integration-python: ${py_pass} passed, ${py_bad} failed"
(( node_rc == 0 && node_fail == 0 && py_rc == 0 && py_bad == 0 ))
