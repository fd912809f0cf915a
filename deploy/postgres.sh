#!/bin/sh
# The `postgres` container of docker-compose.yml (Dockerfile stage
# `postgres`): Debian's PostgreSQL 15 as the unprivileged postgres user.
# On first start (an empty volume at $PGDATA) it creates the cluster with
# the superuser `telegraphy` (password POSTGRES_PASSWORD, required), the
# database `telegraphy`, password (scram-sha-256) logins over the network
# and trusted ones on its private socket directory (/tmp); then, every
# time, it runs the server in the foreground. fsync and synchronous_commit
# stay on. Stop it with SIGINT (compose's stop_signal): a fast shutdown,
# which does not wait for telegraphy-persist to hang up.
set -eu
: "${PGDATA:?PGDATA is not set}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set: export it or put it in .env (docs/deployment.md)}"
BIN=/usr/lib/postgresql/15/bin

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  "$BIN/initdb" -D "$PGDATA" -U telegraphy --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8
  rm -f "$pwfile"
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
unix_socket_directories = '/tmp'
CONF
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  "$BIN/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses=''" start
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h /tmp -U telegraphy -d postgres -c "CREATE DATABASE telegraphy"
  "$BIN/pg_ctl" -D "$PGDATA" -w stop
fi
exec "$BIN/postgres" -D "$PGDATA"
