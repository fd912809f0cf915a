#!/usr/bin/env bash
# What `make run` runs once deps, build and static files are in place: the
# gateway (scripts/gateway.sh, in the background of this supervisor), then
# the demo site (demo/, Django's runserver) on http://127.0.0.1:8000/.
#
#   1. TELEGRAPHY_SECRET: the environment, else var/secret (created with a
#      random value at first run); exported, so the gateway and the demo agree.
#   2. scripts/gateway.sh in the background; wait until the edge's /healthz
#      says "router: connected" (bounded).
#   3. manage.py migrate (SQLite in var/demo.sqlite3), then runserver
#      --noreload (one process, so that stopping it by PID stops it); wait
#      until it answers, print the URLs.
#   4. Ctrl-C or SIGTERM stops both children by PID (gateway.sh stops its
#      own); if either dies, the other is stopped and the exit is non-zero.
# The event types are registered by the demo itself (django_telegraphy) on
# its first publish: until an item is saved the type list on the page is empty.
#
# Environment: TELEGRAPHY_EDGE_PORT (8765), TELEGRAPHY_BIN_DIR (build/bin),
# DEMO_PORT (8000), TELEGRAPHY_READY_TIMEOUT seconds (30), plus everything
# scripts/gateway.sh and demo/demo/settings.py read.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
EDGE_PORT=${TELEGRAPHY_EDGE_PORT:-8765}
DEMO_PORT=${DEMO_PORT:-8000}
READY_TIMEOUT=${TELEGRAPHY_READY_TIMEOUT:-30}
BIN=${TELEGRAPHY_BIN_DIR:-$ROOT/build/bin}
export TELEGRAPHY_BIN_DIR=$BIN

say() { echo "run: $*"; }
die() { echo "run: $*" >&2; stop_all 1; }

source scripts/secret.sh
telegraphy_secret run
export TELEGRAPHY_EDGE_PORT=$EDGE_PORT

# AutobahnJS's browser build is copied from npm by `make static`
# (scripts/static.sh); run on its own, this script does it when missing.
if [[ ! -f django_telegraphy/static/telegraphy/autobahn.min.js ]]; then
  scripts/static.sh || { echo "run: no AutobahnJS for the pages: run 'make run'" >&2; exit 1; }
fi

GATEWAY_PID=""
DEMO_PID=""
STOPPING=0

# stop_all STATUS: SIGTERM to each child by PID, SIGKILL after 10 s.
stop_all() {
  local status=${1:-0}
  ((STOPPING)) && return
  STOPPING=1
  trap '' INT TERM
  say "stopping"
  local pid
  for pid in $DEMO_PID $GATEWAY_PID; do kill -TERM "$pid" 2>/dev/null; done
  local deadline=$((SECONDS + 10))
  for pid in $DEMO_PID $GATEWAY_PID; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  say "stopped"
  exit "$status"
}
trap 'stop_all 0' INT TERM

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

# wait_until WHAT PID COMMAND...: polls COMMAND every 0.2 s until it
# succeeds, failing when PID died or READY_TIMEOUT passed.
wait_until() {
  local what=$1 pid=$2
  shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || die "$what: the process exited"
    ((SECONDS < deadline)) || die "$what: not ready after ${READY_TIMEOUT} s"
    sleep 0.2
  done
}

edge_ready() { curl -fsS -m 2 "http://127.0.0.1:$EDGE_PORT/healthz" | grep -q '^router: connected'; }
demo_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$DEMO_PORT/"; }

# A port already taken would let an old gateway or demo answer the
# readiness checks below in place of ours: refuse to start instead.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ep in "$EDGE_PORT" "$DEMO_PORT" "${TELEGRAPHY_INGEST:-tcp://127.0.0.1:5560}" \
  "${TELEGRAPHY_INGEST_ACK:-tcp://127.0.0.1:5561}" "${TELEGRAPHY_ROUTER:-tcp://127.0.0.1:5562}" \
  "${TELEGRAPHY_CONTROL:-tcp://127.0.0.1:5563}"; do
  if port_taken "${ep##*:}"; then
    echo "run: port ${ep##*:} is in use (another 'make run' or 'make gateway'?); stop it or change the port" >&2
    exit 1
  fi
done

scripts/gateway.sh &
GATEWAY_PID=$!
wait_until "gateway (edge /healthz on port $EDGE_PORT)" "$GATEWAY_PID" edge_ready
say "gateway ready"

"$PY" demo/manage.py migrate --noinput -v 0 || die "manage.py migrate failed"
# Unbuffered, so the request log interleaves with the gateway's in order.
PYTHONUNBUFFERED=1 "$PY" demo/manage.py runserver --noreload "127.0.0.1:$DEMO_PORT" \
  > >(sed -u 's/^/[demo] /') 2>&1 &
DEMO_PID=$!
wait_until "demo site (http://127.0.0.1:$DEMO_PORT/)" "$DEMO_PID" demo_ready

cat <<MSG
run: ready. Open the board in two windows; add an item in one, watch the other:
  demo board           http://127.0.0.1:$DEMO_PORT/
  one room (a filter)  http://127.0.0.1:$DEMO_PORT/?room=lobby
  admin                http://127.0.0.1:$DEMO_PORT/admin/   (first: $PY demo/manage.py createsuperuser)
  WebSocket (WAMP v2)  ws://127.0.0.1:$EDGE_PORT/ws   realm ${TELEGRAPHY_REALM:-telegraphy}
  health / metrics     http://127.0.0.1:$EDGE_PORT/healthz   http://127.0.0.1:$EDGE_PORT/metrics
  operator CLI         $BIN/telegraphy-ctl status
  Ctrl-C stops everything.
MSG

# Supervise: gateway.sh restarts its own crashed services; if it or the demo
# exits, stop the other.
while true; do
  sleep 1 &
  wait $! 2>/dev/null
  if ! alive "$GATEWAY_PID"; then die "the gateway exited"; fi
  if ! alive "$DEMO_PID"; then die "the demo site exited"; fi
done
