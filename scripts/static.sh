#!/usr/bin/env bash
# Copies AutobahnJS's browser build from npm (autobahn-browser, pinned in
# package.json) into the Django app's static files, where the
# {% telegraphy_scripts %} tag serves it. The copy is a build product
# (gitignored), never edited by hand, never fetched from a CDN.
# Runs `npm ci` first when the package is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

src=node_modules/autobahn-browser/autobahn.min.js
dst=django_telegraphy/static/telegraphy/autobahn.min.js

if [[ ! -f $src ]]; then
  echo "static: $src missing; running npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
if [[ ! -f $src ]]; then
  echo "static: $src still missing after npm ci (is autobahn-browser in package.json?)" >&2
  exit 1
fi
version=$(node -p "require('./node_modules/autobahn-browser/package.json').version")
mkdir -p "$(dirname "$dst")"
if [[ -f $dst ]] && cmp -s "$src" "$dst"; then
  echo "static: $dst is up to date (autobahn-browser $version)"
  exit 0
fi
cp "$src" "$dst.tmp"
mv "$dst.tmp" "$dst"
echo "static: $dst <- $src (autobahn-browser $version)"
