#!/usr/bin/env bash
# The container deployment, checked without a Docker engine (none runs on CI
# machines): Debian's docker-compose resolves docker-compose.yml, the
# Dockerfile is read against the binaries' shared libraries, nginx checks
# deploy/nginx.conf and then proxies a real WAMP session to a real edge.
# Prints "compose: N passed, N failed"; exit status non-zero on failure.
#   TELEGRAPHY_BIN_DIR   binaries for the WebSocket check (default build/bin)
# The library check always reads build/bin: the image holds the plain build.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=/usr/bin/python3 # Debian's; python3-yaml comes with docker-compose

PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/telegraphy-compose.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; [[ -s $TMP/why ]] && sed 's/^/    /' "$TMP/why"; }
check() { # check NAME COMMAND...: passes when COMMAND exits 0
  local name=$1; shift
  if "$@" >"$TMP/why" 2>&1; then ok "$name"; else not_ok "$name"; fi
}

command -v docker-compose >/dev/null || { echo "compose: docker-compose missing (make deps)"; echo "compose: 0 passed, 1 failed"; exit 1; }
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "compose: nginx missing (make deps)"; echo "compose: 0 passed, 1 failed"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# An empty env file: a developer's .env must not decide what the checks see.
: >"$TMP/empty.env"
compose() { docker-compose --env-file "$TMP/empty.env" -f "$ROOT/docker-compose.yml" "$@"; }

# 1. The file resolves with the secret and the database password set.
config_resolves() {
  TELEGRAPHY_SECRET=compose-test-secret POSTGRES_PASSWORD=compose-test-password compose config >"$TMP/config.yml"
}
check "docker-compose config resolves docker-compose.yml" config_resolves

# 2. Without the secret, or without the database password, it refuses,
#    saying which.
config_needs() { # config_needs VARIABLE: config fails naming VARIABLE when only it is unset
  if env -u "$1" TELEGRAPHY_SECRET=compose-test-secret POSTGRES_PASSWORD=compose-test-password \
    bash -c "unset $1; docker-compose --env-file '$TMP/empty.env' -f '$ROOT/docker-compose.yml' config" \
    >/dev/null 2>"$TMP/unset.err"; then
    echo "config succeeded without $1"; return 1
  fi
  grep -q "$1 is not set" "$TMP/unset.err" || { cat "$TMP/unset.err"; return 1; }
}
check "docker-compose config refuses an unset TELEGRAPHY_SECRET with a clear message" config_needs TELEGRAPHY_SECRET
check "docker-compose config refuses an unset POSTGRES_PASSWORD with a clear message" config_needs POSTGRES_PASSWORD

# 3. Services, health checks, restart policies, edge without a host port,
#    postgres's data in a named volume.
check "services ingest router edge lb demo postgres persist have health checks and restart policies; edge has no host port; postgres keeps its data in a named volume" \
  "$PY" tests/compose/checks.py structure "$TMP/config.yml"

# 4. Binds and connects, the balancer's ports and the demo's WebSocket URL agree.
check "internal endpoints: every connect names the service that binds it; persist's database is postgres; lb, nginx.conf and demo agree" \
  "$PY" tests/compose/checks.py endpoints "$TMP/config.yml"

# 5. Every shared library of the binaries comes from the runtime stage.
libraries() {
  local bins=(build/bin/telegraphy-*)
  [[ -x ${bins[0]} ]] || { echo "build/bin/telegraphy-* missing: run make"; return 1; }
  "$PY" tests/compose/checks.py libraries Dockerfile "${bins[@]}"
}
check "the Dockerfile's runtime stage installs every library ldd resolves for build/bin/telegraphy-*" libraries

# 6. The Dockerfile's shape: stages, non-root, COPY sources in the context.
check "Dockerfile: bookworm build, bookworm-slim lb, postgres and runtime as non-root, COPY sources in the context" \
  "$PY" tests/compose/checks.py dockerfile Dockerfile

# A copy of deploy/nginx.conf with its /tmp paths moved under $TMP/nginx.
nginx_copy() { # nginx_copy DIR [SED-EXPRESSION...]
  local dir=$1; shift
  mkdir -p "$dir"
  local args=(-e "s#/tmp/#$dir/#g")
  for e in "$@"; do args+=(-e "$e"); done
  sed "${args[@]}" deploy/nginx.conf >"$dir/nginx.conf"
}

# 7. nginx accepts the config as written (the edge name is resolved at run
#    time through the resolver, so no host needs replacing for -t).
nginx_syntax() {
  nginx_copy "$TMP/nginx-t"
  "$NGINX" -t -q -p "$TMP/nginx-t/" -e "$TMP/nginx-t/error.log" -c "$TMP/nginx-t/nginx.conf"
}
check "nginx -t accepts deploy/nginx.conf" nginx_syntax

# 8. The same config, pointed at a real router + edge on loopback: the
#    WebSocket upgrade and a WAMP HELLO/WELCOME pass through it.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
websocket() {
  local bin=${TELEGRAPHY_BIN_DIR:-build/bin}
  [[ -x $bin/telegraphy-edge ]] || { echo "$bin/telegraphy-edge missing: run make"; return 1; }
  local router control edge lb
  router=$(free_port); control=$(free_port); edge=$(free_port); lb=$(free_port)
  export TELEGRAPHY_SECRET=compose-test-secret TELEGRAPHY_HEARTBEAT_MS=200
  "$bin/telegraphy-router" --router "tcp://127.0.0.1:$router" --control "tcp://127.0.0.1:$control" \
    >"$TMP/router.log" 2>&1 &
  PIDS+=($!)
  "$bin/telegraphy-edge" --router "tcp://127.0.0.1:$router" --host 127.0.0.1 --port "$edge" \
    >"$TMP/edge.log" 2>&1 &
  PIDS+=($!)
  # Loopback only, one worker, the edge's address instead of Docker's name.
  nginx_copy "$TMP/nginx" \
    "s#^\(\s*\)listen 8080;#\1listen 127.0.0.1:$lb;#" \
    "s#set \$telegraphy_edges edge:8765;#set \$telegraphy_edges 127.0.0.1:$edge;#" \
    "s#^worker_processes auto;#worker_processes 1;#" \
    "/^worker_rlimit_nofile/d"
  grep -q "listen 127.0.0.1:$lb;" "$TMP/nginx/nginx.conf" &&
    grep -q "127.0.0.1:$edge;" "$TMP/nginx/nginx.conf" || { echo "could not rewrite nginx.conf"; return 1; }
  "$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
    >"$TMP/nginx.log" 2>&1 &
  PIDS+=($!)
  "$PY" tests/compose/checks.py websocket "$lb" || {
    tail -5 "$TMP/nginx/error.log" "$TMP/edge.log" 2>/dev/null; return 1; }
}
check "a WAMP session over WebSocket through deploy/nginx.conf reaches a real edge" websocket

echo "compose: $PASSED passed, $FAILED failed"
((FAILED == 0))
