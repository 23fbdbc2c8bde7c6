/**
 * Chaos 1: the `qasynth worker` process is SIGKILLed at random moments of one batch (full: 5 kills, reduced: 2)
 * and restarted each time. A moment is "after N answered LLM requests", N drawn by the seeded PRNG, one per
 * equal slice of the batch so the kills spread over it. The batch must complete with every seed succeeded,
 * every record once, statistics matching the files, and at most the LLM calls in flight at each kill paid
 * again (≤ kills × max_workers: a seed makes one LLM call at a time), plus any result the server refused as
 * timed out (logged by the worker as "Activity not found on completion"; normally 0).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { smallConfig, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';
import { countRepeats, checkRun, report, runFields } from './check';
import {
  answeredLlmRequests,
  assertBuilt,
  assertNothingRunning,
  awaitBatch,
  byLevel,
  ChaosPrng,
  elapsedSince,
  startWorkerProcess,
  stopWorkerProcess,
  waitForAnswered,
  warmUp,
  CHAOS,
  type WorkerProcess,
} from './harness';

const KILLS = byLevel(2, 5);
const SEEDS = byLevel(
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples'],
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture'],
);
const MAX_WORKERS = 3;
/** Without faults a seed of smallConfig makes 10 action calls and ≥ 2 QA calls. */
const MIN_LLM_CALLS_PER_SEED = 12;

let t: TestTemporal;
let sim: Simulator;
before(async () => {
  assertBuilt();
  t = await testTemporal();
  sim = await startSimulator({ latencyMs: 50, seed: CHAOS.seed });
});
after(async () => {
  await sim?.close();
  await t?.close();
});

/** Kill moments: one per equal slice of the first 85% of the batch's LLM calls, drawn by the PRNG. */
function killMoments(prng: ChaosPrng, kills: number, totalCalls: number): number[] {
  const lo = 5;
  const hi = Math.floor(totalCalls * 0.85);
  const slice = (hi - lo) / kills;
  return Array.from({ length: kills }, (_, i) => prng.int(Math.ceil(lo + i * slice), Math.floor(lo + (i + 1) * slice) - 1));
}

test(`chaos: SIGKILL the worker at ${KILLS} random moments of one batch`, async () => {
  const started = Date.now();
  const queue = uniqueQueue('chaos-kill');
  const runId = `chaos-kill-${queue.slice(-8)}`;
  const moments = killMoments(new ChaosPrng('worker-kill'), KILLS, SEEDS.length * MIN_LLM_CALLS_PER_SEED);
  const startWorker = () => startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url });

  let worker: WorkerProcess = startWorker();
  let discarded = 0;
  await worker.ready;
  await warmUp(t.client, queue, sim, smallConfig());
  await submitBatch(
    t.client,
    {
      run_id: runId,
      // Small timeouts: a killed worker's LLM / tool call is retried after min(20, timeout) s of missed heartbeats.
      config: smallConfig({ max_workers: MAX_WORKERS, llm_timeout_seconds: 5, tool_timeout_seconds: 5 }),
      seeds: SEEDS,
      output_dir: tempDir('qasynth-chaos-kill-'),
    },
    { taskQueue: queue },
  );
  const killedAt: number[] = [];
  try {
    for (const moment of moments) {
      await waitForAnswered(sim, moment, 120_000);
      await worker.kill('SIGKILL');
      discarded += worker.discardedResults();
      killedAt.push(answeredLlmRequests(sim));
      worker = startWorker();
      await worker.ready;
    }
    const result = await awaitBatch(() => t.client, runId, 240_000, () => `worker logs:\n${worker.logs().slice(-3000)}`);
    const llmRequests = sim.requests().length;
    assert.ok(answeredLlmRequests(sim) > killedAt.at(-1)!, 'the last kill happened mid-batch: work remained for the restarted worker');

    const run = checkRun(result, SEEDS.length);
    assert.equal(run.stats.seeds.succeeded, SEEDS.length, 'no fault but kills: every seed succeeds');
    assert.equal(run.stats.total_nodes, SEEDS.length * 10, 'every tree is complete (10 nodes each)');
    await assertNothingRunning(t.client, runId, queue);
    const repeats = countRepeats(sim.requests());
    discarded += worker.discardedResults();
    const limit = KILLS * MAX_WORKERS + discarded;
    report('worker-kill', {
      kills: killedAt.length,
      kill_moments: killedAt.join('/'),
      ...runFields(run, repeats, llmRequests),
      late_results_discarded: discarded,
      repeat_limit: limit,
      time: elapsedSince(started),
    });
    assert.ok(
      repeats.repeats <= limit,
      `only LLM calls in flight at a kill (≤ ${KILLS} kills × ${MAX_WORKERS}) or refused as timed out (${discarded}) are paid ` +
        `again, but ${repeats.repeats} were:\n${repeats.otherDetails.join('\n')}`,
    );
  } finally {
    await stopWorkerProcess(worker);
  }
});
