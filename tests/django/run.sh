#!/usr/bin/env bash
# Runs the django_telegraphy tests with Debian's python3 and prints exactly one
# line "django: N passed, N failed" on stdout (test output goes to stderr).
# Gateway binaries for the process tests: TELEGRAPHY_BIN_DIR (default
# build-asan/bin, relative to the repository root). Exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
export TELEGRAPHY_BIN_DIR="${TELEGRAPHY_BIN_DIR:-build-asan/bin}"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
timeout --kill-after=10 600 "$PY" tests/django/runtests.py "$@"
rc=$?
if (( rc == 124 || rc == 137 )); then echo "django: 0 passed, 1 failed"; fi
exit $rc
