#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests and `make run` (Debian's binaries).
#   scripts/pg.sh start DIR PORT   initdb into DIR/data once, start, create the
#                                  database `telegraphy`, print its libpq URI
#   scripts/pg.sh stop DIR         fast shutdown of the cluster whose PID is in
#                                  DIR/data/postmaster.pid; waits until it is gone
#   scripts/pg.sh url DIR PORT     print the URI only
#
# The cluster listens on no TCP address at all (listen_addresses=''), only on
# the unix socket DIR/.s.PGSQL.PORT: PORT just names the socket, so it never
# collides with the system cluster Debian's package may start on 5432 (whose
# socket lives in /var/run/postgresql) nor with another private cluster.
# fsync and synchronous_commit stay on: durability is what the tests check.
#
# PostgreSQL refuses to run as root: as root, every server command runs as
# the `postgres` system user (runuser) and DIR is chown'ed to it. As anyone
# else the cluster runs as that user. Local connections are trusted; the
# socket directory is private (mode 0700), so only its owner and root get in.
set -euo pipefail

PG_BIN=${TELEGRAPHY_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER_ROOT=postgres # the unprivileged user root runs the server as
READY_SECONDS=${TELEGRAPHY_PG_READY_SECONDS:-60}

die() {
  echo "pg: $*" >&2
  exit 1
}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# as_owner CMD...: runs CMD as the user that owns the cluster.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$PG_USER_ROOT" -- "$@"
  else
    "$@"
  fi
}

owner_name() {
  if [[ $(id -u) -eq 0 ]]; then echo "$PG_USER_ROOT"; else id -un; fi
}

abs_dir() { # abs_dir DIR: DIR made absolute (it must exist)
  (cd "$1" && pwd -P)
}

url() { # url DIR PORT
  local dir
  dir=$(abs_dir "$1")
  echo "postgresql:///telegraphy?host=$dir&port=$2&user=$(owner_name)"
}

start() { # start DIR PORT
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
  [[ -x $PG_BIN/initdb ]] || die "no PostgreSQL 15 in $PG_BIN: run make deps (Debian package postgresql)"
  mkdir -p "$dir"
  dir=$(abs_dir "$dir")
  local sock="$dir/.s.PGSQL.$port"
  ((${#sock} < 100)) || die "socket path too long for a unix socket: $sock"
  if [[ $(id -u) -eq 0 ]]; then
    chown "$PG_USER_ROOT": "$dir"
    as_owner test -x "$dir" || die "user $PG_USER_ROOT cannot reach $dir (check its parents' modes)"
  fi
  chmod 0700 "$dir"
  local data="$dir/data"

  if [[ ! -s $data/PG_VERSION ]]; then
    as_owner "$PG_BIN/initdb" -D "$data" -U "$(owner_name)" --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      tail -20 "$dir/initdb.log" >&2
      die "initdb failed in $data"
    }
    echo "include_if_exists = 'telegraphy.conf'" | as_owner tee -a "$data/postgresql.conf" >/dev/null
  fi
  # Written at every start: the directory or the port may have changed.
  as_owner tee "$data/telegraphy.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
max_connections = 200
fsync = on
synchronous_commit = on
CONF

  if [[ -f $data/postmaster.pid ]] && as_owner "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    : # already running
  else
    as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t "$READY_SECONDS" start \
      >/dev/null || {
      tail -20 "$dir/postgres.log" >&2
      die "the server in $data did not start"
    }
  fi
  as_owner "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -t "$READY_SECONDS" ||
    die "the server on $sock is not accepting connections"

  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$(owner_name)" -d postgres)
  if [[ -z $(as_owner "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'telegraphy'") ]]; then
    as_owner "${psql[@]}" -c "CREATE DATABASE telegraphy" >/dev/null
  fi
  url "$dir" "$port"
}

stop() { # stop DIR
  local dir=$1
  [[ -d $dir ]] || die "no such directory: $dir"
  dir=$(abs_dir "$dir")
  local data="$dir/data"
  [[ -f $data/postmaster.pid ]] || return 0 # not running
  local pid
  pid=$(head -1 "$data/postmaster.pid")
  [[ $pid =~ ^[0-9]+$ ]] || die "no PID in $data/postmaster.pid"
  kill -0 "$pid" 2>/dev/null || return 0 # a stale file: the server is gone
  # Fast shutdown of that PID (SIGINT), waiting for it to finish, bounded.
  as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$READY_SECONDS" stop >/dev/null ||
    die "the server $pid in $data did not stop within ${READY_SECONDS}s"
}

case ${1:-} in
start)
  (($# == 3)) || usage
  start "$2" "$3"
  ;;
stop)
  (($# == 2)) || usage
  stop "$2"
  ;;
url)
  (($# == 3)) || usage
  url "$2" "$3"
  ;;
*) usage ;;
esac
