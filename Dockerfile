# Telegraphy images (docs/deployment.md). Four stages:
#   build    Debian bookworm with the -dev packages: `make all` (warnings as
#            errors, as in CI) and the AutobahnJS browser build (npm ci).
#   lb       bookworm-slim + Debian's nginx: the WebSocket load balancer in
#            front of the edges (deploy/nginx.conf), as an unprivileged user.
#   postgres bookworm-slim + Debian's PostgreSQL 15 for telegraphy-persist,
#            as the unprivileged postgres user (deploy/postgres.sh: the
#            cluster made on first start in the volume, then the server).
#   runtime  bookworm-slim with only the libraries the binaries load, Python
#            for the Django demo, a non-root user. The default target.
# docker-compose.yml builds `runtime` for ingest, router, edge, persist, demo
# and ctl, `lb` for the balancer and `postgres` for the database. tests/compose/run.sh checks that the runtime
# stage lists every shared library `ldd build/bin/telegraphy-*` resolves.

# ---------------------------------------------------------------- build
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config ca-certificates \
        libzmq3-dev libczmq-dev libwebsockets-dev libmsgpack-dev libjansson-dev \
        libssl-dev libpq-dev \
        nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# npm first: its layer stays cached while the C sources change. Only
# autobahn-browser's prebuilt file is used here (the rest serves the test
# suites): --ignore-scripts skips native builds, and Debian's Node 18 only
# warns about packages that ask for Node 20.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY Makefile ./
COPY lib lib
COPY services services
COPY tools tools
COPY scripts scripts
COPY django_telegraphy django_telegraphy
# `make static` would first run `make deps`, which installs the test tools
# (clang, Criterion, Chromium): scripts/static.sh is the same copy without it.
RUN make -j2 all && scripts/static.sh

# ---------------------------------------------------------------- lb
FROM debian:bookworm-slim AS lb
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /etc/nginx/sites-enabled/default
COPY deploy/nginx.conf /etc/nginx/nginx.conf
# Debian's www-data: the config keeps its pid and temp files under /tmp and
# listens on 8080, so no root is needed.
USER www-data
EXPOSE 8080
# -e stderr: before reading the config nginx would open its compiled-in
# error log (/var/log/nginx), which www-data may not write.
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]

# ---------------------------------------------------------------- postgres
FROM debian:bookworm-slim AS postgres
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
# The volume's mount point, owned by the server's user (a new named volume
# takes the ownership of the image's directory).
ENV PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
COPY deploy/postgres.sh /usr/local/bin/telegraphy-postgres
USER postgres
EXPOSE 5432
CMD ["telegraphy-postgres"]

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Libraries: the packages of the binaries' DT_NEEDED libraries (their own
# dependencies come with them). libpq5 is for telegraphy-persist.
# Python: django_telegraphy and the demo site (Django, pyzmq, msgpack).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libc6 libczmq4 libzmq5 libwebsockets17 libmsgpackc2 libjansson4 libssl3 libpq5 \
        python3 python3-django python3-zmq python3-msgpack \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 telegraphy \
    && useradd --system --uid 10001 --gid telegraphy --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin telegraphy
COPY --from=build /src/build/bin/ /usr/local/bin/
WORKDIR /app
COPY --from=build /src/django_telegraphy django_telegraphy
COPY demo demo
# var/: the demo's SQLite database and secret key (a volume in compose).
RUN mkdir -p /app/var && chown telegraphy:telegraphy /app/var
ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TELEGRAPHY_BIN_DIR=/usr/local/bin
USER telegraphy
# edge WebSocket + /healthz + /metrics; ingest PULL, ingest ack; router,
# control, monitor; the demo site.
EXPOSE 8765 5560 5561 5562 5563 5564 8000
CMD ["telegraphy-ctl", "--help"]
