#!/usr/bin/env bash
# Runs the gateway in the foreground: router, ingest, edge, persist from
# build/bin/, and, unless TELEGRAPHY_DATABASE_URL names a server, a private
# PostgreSQL cluster under var/pg (scripts/pg.sh: initdb once, as the
# unprivileged `postgres` user when run as root; stopped with the rest).
# Output lines are prefixed with the process name. A process that crashes is
# restarted with backoff (1 s doubling to 10 s); one that exits 0 was asked
# to stop (Ctrl-C reaches the whole process group). SIGINT/SIGTERM stop every
# child by PID (SIGTERM, then SIGKILL after 5 s) and exit.
#   scripts/gateway.sh          make gateway
#   scripts/gateway.sh --run    make run (prints the URLs for a first try)
# Configuration comes from TELEGRAPHY_* variables (README). TELEGRAPHY_SECRET,
# when unset, is read from var/secret, created with a random value at first run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${TELEGRAPHY_BIN_DIR:-$ROOT/build/bin}
MODE=${1:-}

source scripts/secret.sh
telegraphy_secret gateway

SERVICES=(router ingest edge persist)
declare -A PIDS=() BACKOFF=()
STOPPING=0
PRIVATE_PG=""

# The database: the operator's, or a private cluster under var/pg. Its
# socket is var/pg/.s.PGSQL.<port>: the port only names the socket (the
# cluster listens on no TCP address), so it collides with nothing.
if [[ -z ${TELEGRAPHY_DATABASE_URL:-} ]]; then
  mkdir -p var
  PRIVATE_PG=$ROOT/var/pg
  if ! TELEGRAPHY_DATABASE_URL=$(scripts/pg.sh start "$PRIVATE_PG" "${TELEGRAPHY_PG_PORT:-5439}"); then
    echo "gateway: the private PostgreSQL under var/pg did not start (see var/pg/postgres.log)" >&2
    exit 1
  fi
  export TELEGRAPHY_DATABASE_URL
  echo "gateway: PostgreSQL under var/pg"
fi

start() { # start NAME
  local name=$1
  "$BIN/telegraphy-$name" > >(sed -u "s/^/[$name] /") 2>&1 &
  PIDS[$name]=$!
}

stop_all() {
  STOPPING=1
  trap '' INT TERM
  echo "gateway: stopping"
  for name in "${SERVICES[@]}"; do
    [[ -n ${PIDS[$name]:-} ]] && kill -TERM "${PIDS[$name]}" 2>/dev/null
  done
  local deadline=$((SECONDS + 5))
  for name in "${SERVICES[@]}"; do
    local pid=${PIDS[$name]:-}
    [[ -z $pid ]] && continue
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n $PRIVATE_PG ]]; then scripts/pg.sh stop "$PRIVATE_PG" || echo "gateway: PostgreSQL did not stop cleanly" >&2; fi
  echo "gateway: stopped"
  exit 0
}
trap stop_all INT TERM

for name in "${SERVICES[@]}"; do
  [[ -x $BIN/telegraphy-$name ]] || { echo "gateway: $BIN/telegraphy-$name missing: run make" >&2; exit 1; }
  BACKOFF[$name]=1
  start "$name"
done

port=${TELEGRAPHY_EDGE_PORT:-8765}
if [[ $MODE == --run ]]; then
  cat <<MSG
gateway: running. Try it:
  WebSocket (WAMP v2)  ws://127.0.0.1:$port/ws   realm ${TELEGRAPHY_REALM:-telegraphy}
  health / metrics     http://127.0.0.1:$port/healthz   http://127.0.0.1:$port/metrics
  operator CLI         $BIN/telegraphy-ctl status
  Ctrl-C stops everything.
MSG
fi

# Supervise: restart a dead child with backoff, until a signal stops us.
while ((STOPPING == 0)); do
  sleep 1 &
  wait $! 2>/dev/null
  for name in "${SERVICES[@]}"; do
    pid=${PIDS[$name]}
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null; rc=$?
      ((STOPPING)) && break
      # Status 0 means the process was asked to stop (a Ctrl-C reaches the
      # whole process group): stop the rest too. Anything else is a crash.
      if ((rc == 0)); then
        echo "gateway: $name stopped"
        stop_all
      fi
      echo "gateway: $name exited (status $rc), restarting in ${BACKOFF[$name]} s"
      sleep "${BACKOFF[$name]}"
      BACKOFF[$name]=$((BACKOFF[$name] * 2 > 10 ? 10 : BACKOFF[$name] * 2))
      start "$name"
    fi
  done
done
