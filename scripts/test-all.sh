#!/usr/bin/env bash
# `npm test` (what .ci/run calls): every test tier, each against the real thing it needs, with a summary.
#   1. the dev-server tiers: unit → activities → workflows → e2e → chaos (reduced), on one Temporal dev server
#   2. the real-server tier: a real OpenAI-compatible server (llama-cpp-python + SmolLM2-135M, built once into
#      .tools/real-llm/ by scripts/real-llm.sh) instead of the simulator
#   3. the cluster tier: the multi-service temporal-server on PostgreSQL (built once into .tools/ by
#      scripts/cluster/) instead of the dev server
# Every tier runs even when an earlier one failed; the exit status is non-zero when any failed.
# `npm run test:dev` runs tier 1 alone (the inner loop); `npm run test:real-llm` / `test:cluster` one of the others.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1
npx tsc -p tsconfig.test.json || exit 1

status=0
summary=()
tier() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== test tier: $name" >&2
  if "$@"; then
    summary+=("passed  $name ($((SECONDS - start)) s)")
  else
    summary+=("FAILED  $name ($((SECONDS - start)) s)")
    status=1
  fi
}

tier "dev server: unit, activities, workflows, e2e, chaos" npx tsx scripts/run-tests.ts
tier "real OpenAI-compatible server (llama-cpp-python)" bash -c 'bash scripts/real-llm.sh provision && npx tsx scripts/run-tests.ts real-llm'
tier "real Temporal cluster (temporal-server on PostgreSQL)" npx tsx scripts/run-tests.ts --cluster

echo "=== test summary" >&2
for line in "${summary[@]}"; do echo "  $line" >&2; done
exit $status
