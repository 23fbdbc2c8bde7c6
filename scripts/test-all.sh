#!/usr/bin/env bash
# `npm test` (what .ci/run calls): every test tier, each against the real thing it needs, with a summary.
#   1. the dev-server tiers: unit → activities → workflows → e2e → chaos (reduced), on one Temporal dev server
#   2. the real-server tier: a real OpenAI-compatible server (llama-cpp-python + SmolLM2-135M, built once into
#      .tools/real-llm/ by scripts/real-llm.sh) instead of the simulator
#   3. the cluster tier: the multi-service temporal-server on PostgreSQL (built once into .tools/ by
#      scripts/cluster/) instead of the dev server
# Every tier runs even when an earlier one failed, each within a time budget; the exit status is non-zero when
# any failed. What a tier leaves running is listed and stopped before the next one starts.
# `npm run test:dev` runs tier 1 alone (the inner loop); `npm run test:real-llm` / `test:cluster` one of the others.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1
npx tsc -p tsconfig.test.json || exit 1

# Every process a tier starts inherits this mark, so what a tier leaves behind can be found and stopped (below).
QASYNTH_TEST_SESSION="qasynth-test-$$-$(date +%s%N)"
export QASYNTH_TEST_SESSION

# Processes (other than this shell) whose environment carries this run's mark: what a tier left running.
leftovers() {
  local pid
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if grep -qxzF "QASYNTH_TEST_SESSION=$QASYNTH_TEST_SESSION" "$env" 2>/dev/null; then echo "$pid"; fi
  done
}

# Stops what a tier left behind (a test killed on its timeout leaves its worker, pty or server running; the
# cluster's services are detached on purpose), and says so: one of them holding CI's output open would keep
# the job from ending.
reap() {
  local tier=$1 pids
  pids=$(leftovers)
  [ -n "$pids" ] || return 0
  echo "test-all: the tier '$tier' left $(echo "$pids" | wc -w) process(es) running; stopping them:" >&2
  for pid in $pids; do echo "  $pid $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-160)" >&2; done
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    pids=$(leftovers)
    [ -n "$pids" ] || return 0
    sleep 0.2
  done
  kill -KILL $pids 2>/dev/null || true
}

# Wall-clock budget of each tier (seconds), well above what it takes (dev ~6 min, real llama.cpp ~5 min with a
# cold build, cluster ~4 min with a cold build, on the 2-core machine) and together inside CI's 90 minutes with
# setup: a tier that hangs fails with its name instead of eating the job's time. Override: QASYNTH_TIER_BUDGET_S.
DEV_BUDGET=${QASYNTH_TIER_BUDGET_S:-1500}
REAL_LLM_BUDGET=${QASYNTH_TIER_BUDGET_S:-1080}
CLUSTER_BUDGET=${QASYNTH_TIER_BUDGET_S:-1080}

status=0
interrupted=""
summary=()
tier() {
  local name=$1 budget=$2 rc
  shift 2
  local start=$SECONDS
  echo "=== test tier: $name (budget $budget s)" >&2
  # timeout runs the tier as its own process group and signals all of it (TERM, then KILL 60 s later);
  # run-tests.ts stops its server on TERM. Ctrl-C / TERM here are passed on to that group the same way.
  timeout --kill-after=60 "$budget" "$@" &
  local group=$!
  trap 'interrupted=1; kill -TERM -- -'"$group"' 2>/dev/null' INT TERM
  rc=""
  while [ -z "$rc" ] || { [ "$rc" -gt 128 ] && kill -0 "$group" 2>/dev/null; }; do
    wait "$group"
    rc=$?
  done
  trap - INT TERM
  reap "$name"
  if [ -n "$interrupted" ]; then echo "test-all: interrupted during '$name'" >&2; exit 130; fi
  if [ "$rc" = 0 ]; then
    summary+=("passed  $name ($((SECONDS - start)) s)")
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    summary+=("FAILED  $name: over its budget of $budget s, stopped ($((SECONDS - start)) s)")
    status=1
  else
    summary+=("FAILED  $name ($((SECONDS - start)) s)")
    status=1
  fi
  echo "=== test tier done: ${summary[-1]}" >&2
}

tier "dev server: unit, activities, workflows, e2e, chaos" "$DEV_BUDGET" npx tsx scripts/run-tests.ts
tier "real OpenAI-compatible server (llama-cpp-python)" "$REAL_LLM_BUDGET" bash -c 'bash scripts/real-llm.sh provision && npx tsx scripts/run-tests.ts real-llm'
tier "real Temporal cluster (temporal-server on PostgreSQL)" "$CLUSTER_BUDGET" npx tsx scripts/run-tests.ts --cluster

echo "=== test summary" >&2
for line in "${summary[@]}"; do echo "  $line" >&2; done
exit $status
