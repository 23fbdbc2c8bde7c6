/**
 * Chaos 3: a misbehaving LLM endpoint. Of all chat requests, ~30% are answered 429 (half with `Retry-After`,
 * half without), ~5% 500; a few are answered only after 5 s, longer than the activity timeout
 * (`llm_timeout_seconds` 3); a few come back malformed (invalid JSON, unknown tool, missing argument, empty).
 * Fault draws are the simulator's seeded PRNG (simulator seed = chaos seed).
 *
 * The batch must complete with every seed succeeded or failed-with-a-reason, every record once, statistics
 * matching the files. An LLM call is paid again only when the server had already given up on the first
 * attempt (activity timed out: a too-slow answer, or a call that waited in the worker's adaptive limiter,
 * cooling down after 429s, past the activity timeout); the worker logs each such late result ("Activity not
 * found on completion", reported as late_results_discarded). 429/500/malformed answers are never "repeats".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type FaultRule, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { smallConfig, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';
import { countRepeats, checkRun, report, runFields } from './check';
import { assertBuilt, assertNothingRunning, awaitBatch, byLevel, elapsedSince, startWorkerProcess, stopWorkerProcess, warmUp, CHAOS } from './harness';

const SEEDS = byLevel(
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples'],
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture', 'perfect numbers', 'Euler totient'],
);
const MAX_WORKERS = 4;
const LLM_TIMEOUT_S = 3;
const SLOW = byLevel(3, 5);
const MALFORMED_EACH = byLevel(1, 2);

/**
 * Rules are tried in order and the first that fires wins, so each probability is conditional on the rules
 * before it not firing: 0.15, 0.15 / 0.85, 0.05 / 0.70 give 15% + 15% + 5% of all requests.
 */
const RULES: FaultRule[] = [
  { probability: 0.15, respond: { status: 429, headers: { 'retry-after': '1' } } },
  { probability: 0.15 / 0.85, respond: { status: 429 } },
  { probability: 0.05 / 0.7, respond: { status: 500 } },
  // At least one 500 whatever the draws.
  { after: 6, times: 1, respond: { status: 500 } },
  // Slower than the activity timeout: the answer never reaches the worker, the retry is a repeat.
  { after: 4, times: SLOW, probability: 0.2, respond: { delayMs: (LLM_TIMEOUT_S + 2) * 1000 } },
  { match: { kind: 'action' }, after: 3, times: MALFORMED_EACH, probability: 0.2, respond: { malformed: 'invalid_json' } },
  { match: { kind: 'action' }, after: 3, times: MALFORMED_EACH, probability: 0.2, respond: { malformed: 'unknown_tool' } },
  { match: { kind: 'action' }, after: 3, times: MALFORMED_EACH, probability: 0.2, respond: { malformed: 'missing_argument' } },
  { match: { kind: 'qa' }, times: MALFORMED_EACH, probability: 0.3, respond: { malformed: 'empty' } },
];

let t: TestTemporal;
let sim: Simulator;
before(async () => {
  assertBuilt();
  t = await testTemporal();
  sim = await startSimulator({ latencyMs: 30, seed: CHAOS.seed });
});
after(async () => {
  await sim?.close();
  await t?.close();
});

test('chaos: LLM endpoint answering 429 (with / without Retry-After), 500, too slowly and malformed', async () => {
  const started = Date.now();
  const queue = uniqueQueue('chaos-llm');
  const runId = `chaos-llm-${queue.slice(-8)}`;
  const worker = startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url });
  try {
    await worker.ready;
    await warmUp(t.client, queue, sim, smallConfig());
    const discardedBefore = worker.discardedResults();
    sim.script(RULES);
    await submitBatch(
      t.client,
      {
        run_id: runId,
        config: smallConfig({ max_workers: MAX_WORKERS, llm_timeout_seconds: LLM_TIMEOUT_S, tool_timeout_seconds: 3 }),
        seeds: SEEDS,
        output_dir: tempDir('qasynth-chaos-llm-'),
      },
      { taskQueue: queue },
    );
    const result = await awaitBatch(() => t.client, runId, 300_000, () => `worker logs:\n${worker.logs().slice(-3000)}`);
    const run = checkRun(result, SEEDS.length);
    await assertNothingRunning(t.client, runId, queue);

    const log = sim.requests();
    const share = (pred: (f: string) => boolean) => log.filter((r) => r.fault && pred(r.fault)).length;
    const fired = {
      s429: share((f) => f === 'status:429'),
      s500: share((f) => f === 'status:500'),
      slow: share((f) => f.includes('delay:')),
      malformed: share((f) => f.startsWith('malformed:')),
    };
    const repeats = countRepeats(log);
    const discarded = worker.discardedResults() - discardedBefore;
    report('llm-faults', {
      ...runFields(run, repeats, log.length),
      http429: `${fired.s429}(${((100 * fired.s429) / log.length).toFixed(0)}%)`,
      http500: `${fired.s500}(${((100 * fired.s500) / log.length).toFixed(0)}%)`,
      slow: fired.slow,
      malformed: fired.malformed,
      repeats_other: repeats.other,
      late_results_discarded: discarded,
      llm_failed_outputs: run.stats.llm.failed_outputs,
      skipped_branches: JSON.stringify(run.stats.skipped_branches),
      time: elapsedSince(started),
    });
    assert.ok(fired.s429 > 0 && fired.s500 > 0 && fired.slow > 0 && fired.malformed > 0, `every fault kind fired: ${JSON.stringify(fired)}`);
    // A repeat is legitimate only when the server had already given up on the first attempt: a too-slow
    // answer (past llm_timeout_seconds), or an answer that came after its attempt had timed out on a loaded
    // machine (its result refused by the server: a late result discarded). Calls waiting in the worker's adaptive
    // limiter never outlive their activity (the wait is handed back to Temporal), so 429s cause no repeats.
    assert.ok(
      repeats.repeats <= fired.slow + discarded,
      `every repeated LLM call is owed to a too-slow answer or a timed-out attempt (${repeats.repeats} repeats, ${fired.slow} slow, ${discarded} late results discarded):\n` +
        repeats.otherDetails.join('\n'),
    );
    assert.ok(run.stats.llm.failed_outputs >= 1, 'malformed answers are counted as failed outputs');
  } finally {
    await stopWorkerProcess(worker);
  }
});
