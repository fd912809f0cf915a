#!/usr/bin/env bash
# Runs every Telegraphy test suite and ends with one line "N passed, N failed".
#   1. build: plain (build/) and sanitizer (build-asan/) with warnings as errors
#   2. C unit tests (Criterion), under ASan + UBSan + LSan
#   3. integration tests: real processes (sanitizer build), real WAMP clients
#   4. fuzz smoke: each libFuzzer target for a short bounded run
# Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PASSED=0
FAILED=0
FAILURES=()
LOG_DIR=$(mktemp -d /tmp/telegraphy-test.XXXXXX)
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10}

count() { # count SUITE PASSED FAILED
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
  echo "== $1: $2 passed, $3 failed"
  if (($3 > 0)); then FAILURES+=("$1"); fi
}

summary() {
  echo
  if ((${#FAILURES[@]})); then echo "failing suites: ${FAILURES[*]} (logs in $LOG_DIR)"; fi
  echo "$PASSED passed, $FAILED failed"
  ((FAILED == 0))
  exit $?
}

echo "== build (plain and ASan/UBSan)"
if ! make -j2 all loadgen >"$LOG_DIR/build.log" 2>&1 || ! make SAN=1 -j2 all unit loadgen >>"$LOG_DIR/build.log" 2>&1; then
  tail -40 "$LOG_DIR/build.log"
  count build 0 1
  summary
fi
count build 1 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# --- formatting: the committed .clang-format is the house style -----------
if make check-format >"$LOG_DIR/format.log" 2>&1; then
  count format 1 0
else
  grep -a 'warning' "$LOG_DIR/format.log" | head -10
  count format 0 1
fi

# --- PostgreSQL: one private cluster for every suite (scripts/pg.sh) -------
# Unix socket only, in its own temp dir: the port only names the socket. Stopped
# by its PID on any exit (trap), removed with its directory.
PG_DIR=$(mktemp -d /tmp/telegraphy-pg.XXXXXX)
pg_cleanup() { scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1; rm -rf "$PG_DIR"; }
trap pg_cleanup EXIT
trap 'exit 130' INT TERM
if TELEGRAPHY_TEST_DATABASE_URL=$(scripts/pg.sh start "$PG_DIR" $((20000 + RANDOM % 10000)) 2>"$LOG_DIR/pg.log"); then
  export TELEGRAPHY_TEST_DATABASE_URL
  count postgres 1 0
else
  cat "$LOG_DIR/pg.log"
  count postgres 0 1
fi

# --- C unit tests ---------------------------------------------------------
for t in build-asan/tests/test_*; do
  [[ -x $t ]] || continue
  name=$(basename "$t")
  "$t" --jobs 2 >"$LOG_DIR/$name.log" 2>&1
  rc=$?
  line=$(grep -a 'Synthesis:' "$LOG_DIR/$name.log" | tail -1)
  if [[ $line =~ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
    p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}
    if ((rc != 0 && f == 0)); then f=1; fi
  else
    p=0; f=1
  fi
  # Criterion reports a test that leaks or trips UBSan as passing: the
  # sanitizer's own report decides.
  if grep -aqE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$LOG_DIR/$name.log"; then
    echo "$name: sanitizer report"; f=$((f + 1))
  fi
  if ((f > 0)); then tail -30 "$LOG_DIR/$name.log"; fi
  count "unit/$name" "$p" "$f"
done

# --- suites with their own runners -----------------------------------------
# Each runner prints "<suite>: N passed, N failed" lines and exits non-zero on
# failure: the service unit suites under far-off clocks (tests/clock), integration (real processes, WAMP clients), Django, the JS client
# in Node, the demo in headless Chromium (required here: deps installs it),
# the compose topology (docker-compose config, Dockerfile and nginx checks),
# and a smoke run of the benchmark's load client against one edge.
export TELEGRAPHY_BIN_DIR=build-asan/bin
export TELEGRAPHY_REQUIRE_BROWSER=${TELEGRAPHY_REQUIRE_BROWSER:-1}
for runner in tests/clock/run.sh tests/integration/run.sh tests/django/run.sh tests/js/run.sh tests/browser/run.sh tests/compose/run.sh tests/bench/run.sh; do
  [[ -x $runner ]] || continue
  name=$(basename "$(dirname "$runner")")
  "$runner" >"$LOG_DIR/$name.log" 2>&1
  rc=$?
  found=0
  before=$FAILED
  while read -r suite p f; do
    found=1
    count "$suite" "$p" "$f"
  done < <(sed -nE 's/^([a-z][a-z-]*): ([0-9]+) passed, ([0-9]+) failed.*/\1 \2 \3/p' "$LOG_DIR/$name.log")
  if ((found == 0 || (rc != 0 && FAILED == before))); then
    count "$name-runner (exit $rc)" 0 1
  fi
  if ((FAILED > before || rc != 0)); then tail -40 "$LOG_DIR/$name.log"; fi
done

# --- fuzz smoke -----------------------------------------------------------
if compgen -G "tests/fuzz/fuzz_*.c" >/dev/null; then
  if make -j2 fuzz-build >"$LOG_DIR/fuzz-build.log" 2>&1; then
    FUZZ_SECONDS=$FUZZ_SECONDS scripts/fuzz.sh >"$LOG_DIR/fuzz.log" 2>&1
    while read -r name result; do
      if [[ $result == ok ]]; then count "fuzz/$name" 1 0; else count "fuzz/$name" 0 1; fi
    done < <(sed -nE 's/^fuzz: ([a-z_]+) (ok|FAILED).*/\1 \2/p' "$LOG_DIR/fuzz.log")
  else
    tail -20 "$LOG_DIR/fuzz-build.log"
    count fuzz-build 0 1
  fi
fi

summary
