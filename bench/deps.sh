#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make deps` (scripts/deps.sh): the
# peers Telegraphy is measured against, from Debian's packages.
#   - Django Channels: daphne + channels_redis, against a private redis-server
#   - nchan: nginx-light + libnginx-mod-nchan
# Idempotent and quiet when everything is there. Installing a server package
# may start its system service on its default port (redis 6379, nginx 80):
# the bench starts private copies on free loopback ports instead, so service
# starts are refused during the install (a temporary policy-rc.d, the Debian
# mechanism for exactly this) and any instance that still came up is stopped.
set -euo pipefail

DEBIAN_PACKAGES=(
  redis-server
  python3-daphne python3-django-channels python3-channels-redis
  nginx-light libnginx-mod-nchan
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
((${#missing[@]})) || exit 0

echo "bench deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "bench deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# bench/deps.sh: no service starts during this install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if ((made_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

# Services already running before the install are the machine owner's: left alone.
systemd=0
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then systemd=1; fi
was_active=()
if ((systemd)); then
  for unit in redis-server nginx; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then was_active+=("$unit"); fi
  done
fi

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces for init systems that ignore policy-rc.d: a system redis or
# nginx that this install started is stopped and kept from starting at boot.
if ((systemd)); then
  for unit in redis-server nginx; do
    if [[ " ${was_active[*]} " == *" $unit "* ]]; then continue; fi
    if systemctl is-active --quiet "$unit" 2>/dev/null; then
      echo "bench deps: stopping the system $unit the install started (the bench runs private ones)"
      systemctl stop "$unit" || true
      systemctl disable --quiet "$unit" 2>/dev/null || true
    fi
  done
fi
