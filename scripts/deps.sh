#!/usr/bin/env bash
# Installs what Telegraphy needs and the machine lacks: Debian packages (as
# root, apt-get) and the npm packages pinned in package-lock.json (npm ci).
# Idempotent and quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  build-essential pkg-config clang libclang-rt-14-dev
  libzmq3-dev libczmq-dev libwebsockets-dev libmsgpack-dev libjansson-dev
  libssl-dev libpq-dev libcriterion-dev postgresql postgresql-client
  python3 python3-zmq python3-msgpack python3-django python3-autobahn python3-setuptools
  chromium
  # the load balancer of the native multi-edge test; docker-compose.yml's
  # validation (`docker-compose config` needs no Docker engine)
  nginx-light docker-compose
  curl ca-certificates procps
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm: any install will do (Debian's or another); add Debian's if absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages for the JS tests, from the committed lock file.
if [[ -f package-lock.json ]]; then
  stamp=node_modules/.telegraphy-lock
  if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
fi
