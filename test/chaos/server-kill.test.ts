/**
 * Chaos 2: the Temporal dev server is SIGKILLed mid-batch (reduced: once, full: twice, at PRNG-drawn moments
 * counted in answered LLM requests) and restarted on the same SQLite file and port. The test owns that server
 * (not the shared in-memory one of `npm test`). The `qasynth worker` process is NOT restarted: it must ride
 * out the outage (its pollers reconnect to the restarted server on their own), and the test's client
 * reconnects too. The server stays down until the worker has noticed (it logs failing, retried polls), so
 * LLM calls in flight at the kill finish while nobody can take their results: those are retried after the
 * restart and are the only repeats allowed (≤ kills × max_workers). The batch must complete with every seed accounted for and every record once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { freePort, startDevServer, type DevServer } from '../../src/server/dev-server';
import { submitBatch } from '../../src/api';
import { smallConfig, tempDir, uniqueQueue, waitFor } from '../helpers/temporal';
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

const SERVER_KILLS = byLevel(1, 2);
const SEEDS = byLevel(
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples'],
  ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture'],
);
const MAX_WORKERS = 3;
const MIN_LLM_CALLS_PER_SEED = 12;

let sim: Simulator;
let dir: string;
let server: DevServer | null = null;
let port: number;
let connection: Connection | null = null;

async function startServer(): Promise<DevServer> {
  return startDevServer({
    dbFile: path.join(dir, 'temporal.db'),
    port,
    uiPort: null,
    logTo: path.join(dir, 'server.log'),
  });
}

before(async () => {
  assertBuilt();
  sim = await startSimulator({ latencyMs: 50, seed: CHAOS.seed });
  dir = tempDir('qasynth-chaos-server-');
  port = await freePort();
  server = await startServer();
  connection = await Connection.connect({ address: server.address });
});
after(async () => {
  await connection?.close();
  await server?.stop();
  await sim?.close();
});

test(`chaos: SIGKILL the Temporal dev server ${SERVER_KILLS}× mid-batch, restart it on the same SQLite file`, async () => {
  const started = Date.now();
  const queue = uniqueQueue('chaos-server');
  const runId = `chaos-server-${queue.slice(-8)}`;
  const client = new Client({ connection: connection!, namespace: 'default' });
  const prng = new ChaosPrng('server-kill');
  const total = SEEDS.length * MIN_LLM_CALLS_PER_SEED;
  const slice = Math.floor((total * 0.8 - 5) / SERVER_KILLS);
  const moments = Array.from({ length: SERVER_KILLS }, (_, i) => prng.int(5 + i * slice, 5 + (i + 1) * slice - 1));

  const worker: WorkerProcess = startWorkerProcess({ address: server!.address, taskQueue: queue, llmUrl: sim.url });
  await worker.ready;
  await warmUp(client, queue, sim, smallConfig());
  await submitBatch(
    client,
    {
      run_id: runId,
      config: smallConfig({ max_workers: MAX_WORKERS, llm_timeout_seconds: 5, tool_timeout_seconds: 5 }),
      seeds: SEEDS,
      output_dir: tempDir('qasynth-chaos-server-out-'),
    },
    { taskQueue: queue },
  );
  const outages: string[] = [];
  const noticed: string[] = [];
  const killedAt: number[] = [];
  try {
    for (const moment of moments) {
      await waitForAnswered(sim, moment, 120_000);
      const down = Date.now();
      server!.process.kill('SIGKILL');
      await new Promise((r) => (server!.process.exitCode !== null || server!.process.signalCode !== null ? r(null) : server!.process.once('exit', r)));
      killedAt.push(answeredLlmRequests(sim));
      // Keep the server down until the worker has noticed: its pollers log failed, retried gRPC polls.
      const logMark = worker.logs().length;
      await waitFor(() => /poll_\w+_task_queue retried/.test(worker.logs().slice(logMark)), 90_000, 'the worker to log failing polls');
      noticed.push(elapsedSince(down));
      server = await startServer();
      outages.push(elapsedSince(down));
      assert.ok(worker.alive(), `the worker process survived the server outage:\n${worker.logs().slice(-3000)}`);
    }
    const result = await awaitBatch(() => client, runId, 240_000, () => `worker logs:\n${worker.logs().slice(-3000)}`);
    assert.ok(worker.alive(), 'the same worker process finished the batch');
    assert.ok(answeredLlmRequests(sim) > killedAt.at(-1)!, 'the last kill happened mid-batch: work remained after the restart');

    const run = checkRun(result, SEEDS.length);
    assert.equal(run.stats.seeds.succeeded, SEEDS.length, 'no LLM fault: every seed succeeds');
    assert.equal(run.stats.total_nodes, SEEDS.length * 10, 'every tree is complete (10 nodes each)');
    await assertNothingRunning(client, runId, queue);
    assert.ok(fs.statSync(path.join(dir, 'temporal.db')).size > 0, 'the SQLite file holds the state');
    const repeats = countRepeats(sim.requests());
    const discarded = worker.discardedResults();
    const limit = SERVER_KILLS * MAX_WORKERS + discarded;
    report('server-kill', {
      server_kills: killedAt.length,
      kill_moments: killedAt.join('/'),
      worker_noticed_after: noticed.join('/'),
      outages: outages.join('/'),
      worker_restarts: 0,
      ...runFields(run, repeats, sim.requests().length),
      late_results_discarded: discarded,
      repeat_limit: limit,
      time: elapsedSince(started),
    });
    assert.ok(
      repeats.repeats <= limit,
      `only LLM calls in flight at an outage (≤ ${SERVER_KILLS} × ${MAX_WORKERS}) or refused as timed out (${discarded}) are ` +
        `paid again, but ${repeats.repeats} were:\n${repeats.otherDetails.join('\n')}`,
    );
  } finally {
    await stopWorkerProcess(worker);
  }
});
