/**
 * Cluster tier: the HISTORY service of the multi-service Temporal cluster (scripts/cluster/, PostgreSQL) is
 * SIGKILLed mid-batch, kept down until the worker has noticed (its activity completions fail and are retried), and
 * started again on the same config; frontend, matching and worker services keep running. The `qasynth worker`
 * process is not restarted. The batch must complete with every seed, every record exactly once, and no finished LLM
 * call paid again beyond those in flight at the kill (their results cannot be recorded while history is down) or
 * refused afterwards as timed out.
 *
 * Unlike the dev-server kill (test/chaos/server-kill.test.ts), the frontend stays up: clients and pollers never lose
 * their connection; what breaks is every call that must reach a history shard (completions, heartbeats, starts,
 * queries), until the restarted history host owns its shards again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { killService, readState, restartService } from '../../scripts/cluster/cluster';
import { smallConfig, tempDir, uniqueQueue, waitFor } from '../helpers/temporal';
import { requireCluster } from '../helpers/cluster';
import { checkRun, countRepeats, report, runFields } from '../chaos/check';
import {
  answeredLlmRequests,
  assertBuilt,
  assertNothingRunning,
  awaitBatch,
  elapsedSince,
  startWorkerProcess,
  stopWorkerProcess,
  waitForAnswered,
  warmUp,
  type WorkerProcess,
} from '../chaos/harness';

const SEEDS = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture'];
const MAX_WORKERS = 3;
/** Answered LLM calls before the kill: past the first seeds' start, well before the ~72 the batch needs. */
const KILL_AFTER_ANSWERED = 25;
/** Simulator latency: long enough that LLM calls are in flight at most moments, so the kill catches some. */
const LLM_LATENCY_MS = 250;
/** What the worker logs when a call that needs history fails (the SDK core's retrying client, or its give-up). */
const NOTICED = /respond_activity_task_completed retried|record_activity_task_heartbeat retried|Network error while completing activity|respond_workflow_task_completed retried/;

let stateDir: string;
let sim: Simulator;
let connection: Connection;

before(async () => {
  stateDir = requireCluster('a kill -9 of the history service');
  assertBuilt();
  sim = await startSimulator({ latencyMs: LLM_LATENCY_MS });
  connection = await Connection.connect({ address: process.env.QASYNTH_TEST_TEMPORAL_ADDRESS! });
});
after(async () => {
  await connection?.close();
  await sim?.close();
});

test('cluster: kill -9 the history service mid-batch, restart it: the batch completes, every record once', async () => {
  const started = Date.now();
  const queue = uniqueQueue('history-kill');
  const runId = `history-kill-${queue.slice(-8)}`;
  const client = new Client({ connection, namespace: 'default' });
  const initial = readState(stateDir)!;

  const worker: WorkerProcess = startWorkerProcess({ address: initial.address, taskQueue: queue, llmUrl: sim.url });
  try {
    await worker.ready;
    await warmUp(client, queue, sim, smallConfig());
    await submitBatch(
      client,
      {
        run_id: runId,
        config: smallConfig({ max_workers: MAX_WORKERS, llm_timeout_seconds: 5, tool_timeout_seconds: 5 }),
        seeds: SEEDS,
        output_dir: tempDir('qasynth-history-kill-'),
      },
      { taskQueue: queue },
    );
    await waitForAnswered(sim, KILL_AFTER_ANSWERED, 120_000);

    const down = Date.now();
    const logMark = worker.logs().length;
    const killedPid = await killService('history', stateDir);
    const killedAt = answeredLlmRequests(sim);
    // Keep history down until the worker has felt it: a completion or heartbeat of an in-flight activity failed.
    await waitFor(() => NOTICED.test(worker.logs().slice(logMark)), 90_000, `the worker to log failing calls to history:\n${worker.logs().slice(-2000)}`);
    const noticed = elapsedSince(down);
    const answeredWhileDown = answeredLlmRequests(sim) - killedAt;
    const restartStarted = Date.now();
    const newPid = await restartService('history', stateDir);
    const ready = elapsedSince(restartStarted);
    const outage = elapsedSince(down);
    assert.ok(worker.alive(), `the worker process survived the history outage:\n${worker.logs().slice(-3000)}`);

    const now = readState(stateDir)!;
    assert.notEqual(newPid, killedPid, 'a new history process runs');
    for (const svc of ['frontend', 'matching', 'worker'] as const) {
      assert.equal(now.pids[svc], initial.pids[svc], `the ${svc} service was not restarted`);
    }

    const result = await awaitBatch(() => client, runId, 300_000, () => `worker logs:\n${worker.logs().slice(-3000)}`);
    assert.ok(worker.alive(), 'the same worker process finished the batch');
    assert.ok(answeredLlmRequests(sim) > killedAt + answeredWhileDown, 'the kill happened mid-batch: work remained after the restart');
    const run = checkRun(result, SEEDS.length);
    assert.equal(run.stats.seeds.succeeded, SEEDS.length, 'no LLM fault: every seed succeeds');
    assert.equal(run.stats.total_nodes, SEEDS.length * 10, 'every tree is complete (10 nodes each)');
    await assertNothingRunning(client, runId, queue);

    const repeats = countRepeats(sim.requests());
    const discarded = worker.discardedResults();
    const limit = MAX_WORKERS + discarded;
    report('history-kill', {
      kill_moment: killedAt,
      worker_noticed_after: noticed,
      answered_while_down: answeredWhileDown,
      history_ready_after_restart: ready,
      outage,
      ...runFields(run, repeats, sim.requests().length),
      late_results_discarded: discarded,
      repeat_limit: limit,
      time: elapsedSince(started),
    });
    assert.ok(
      repeats.repeats <= limit,
      `only LLM calls in flight at the kill (≤ ${MAX_WORKERS}) or refused as timed out (${discarded}) are paid again, ` +
        `but ${repeats.repeats} were:\n${repeats.otherDetails.join('\n')}`,
    );
  } finally {
    await stopWorkerProcess(worker);
  }
});
