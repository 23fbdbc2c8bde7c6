/**
 * Shared machinery of the chaos suite (test/chaos/*.test.ts):
 * - `CHAOS`: the level from QASYNTH_CHAOS (`reduced`, the default, runs inside `npm test`; `full` is
 *   `npm run test:chaos`) and the PRNG seed (QASYNTH_CHAOS_SEED, printed in every report line);
 * - `ChaosPrng`: the seeded PRNG every random choice comes from (kill moments, fault draws);
 * - `WorkerProcess`: a real `qasynth worker` child process (dist/cli/main.js) that can be SIGKILLed;
 * - `awaitBatch`: waits for a batch by polling, riding out a Temporal server that is down for a while;
 * - `answeredLlmRequests` / `waitForAnswered`: "moments" are counted in answered LLM requests, never in
 *   wall-clock time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import type { BatchResult } from '../../src/shared/types';
import type { Simulator } from '../../src/llm/simulator';
import { batchHandle, submitBatch } from '../../src/api';
import { tempDir, waitFor } from '../helpers/temporal';

import { CLI } from '../helpers/worker-process';

export { CLI };

export type ChaosLevel = 'full' | 'reduced';

function level(): ChaosLevel {
  const v = (process.env.QASYNTH_CHAOS ?? 'reduced').trim().toLowerCase();
  if (v !== 'full' && v !== 'reduced') throw new Error(`QASYNTH_CHAOS: expected "full" or "reduced", got ${JSON.stringify(v)}`);
  return v;
}

function seedFromEnv(): number {
  const raw = process.env.QASYNTH_CHAOS_SEED;
  if (raw === undefined || raw === '') return 20261126;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`QASYNTH_CHAOS_SEED: expected a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export const CHAOS = { level: level(), seed: seedFromEnv() };
export const FULL = CHAOS.level === 'full';

/** Picks the reduced or the full value of a parameter. */
export function byLevel<T>(reduced: T, full: T): T {
  return FULL ? full : reduced;
}

/** mulberry32, seeded from the chaos seed and a per-scenario salt so scenarios draw independently. */
export class ChaosPrng {
  private state: number;
  constructor(salt: string, seed = CHAOS.seed) {
    let h = 2166136261 ^ seed;
    for (const ch of salt) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    this.state = h >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

export function assertBuilt(): void {
  assert.ok(
    fs.existsSync(CLI),
    `${CLI} is missing: the chaos suite runs the real \`qasynth worker\`; run \`npm run build\` first (npm test and npm run test:chaos do)`,
  );
}

/** Chat requests the simulator answered with HTTP 200. */
export function answeredLlmRequests(sim: Simulator): number {
  return sim.requests().filter((r) => r.status === 200 && r.kind !== 'invalid').length;
}

/** Waits until the simulator has answered `n` LLM requests (a "moment" of the batch). */
export async function waitForAnswered(sim: Simulator, n: number, timeoutMs: number, alsoStopIf?: () => boolean): Promise<void> {
  await waitFor(() => answeredLlmRequests(sim) >= n || (alsoStopIf?.() ?? false), timeoutMs, `${n} answered LLM requests`);
}

export { startWorkerProcess, stopWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

/**
 * Waits until the batch workflow of `runId` is closed and returns its result. Polls `describe()` (errors
 * while the server is down or restarting are retried until the deadline), so it survives a server outage.
 * Fails with the last error and `diagnose()` output when the batch does not finish in time.
 */
export async function awaitBatch(
  getClient: () => Client,
  runId: string,
  timeoutMs: number,
  diagnose: () => string = () => '',
): Promise<BatchResult> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  let lastStatus = 'unknown';
  while (Date.now() < deadline) {
    try {
      const h = batchHandle(getClient(), runId);
      const d = await h.describe();
      lastStatus = d.status.name;
      if (d.status.name !== 'RUNNING') return (await h.result()) as BatchResult;
    } catch (e) {
      const name = (e as Error)?.name ?? '';
      if (name === 'WorkflowFailedError' || name === 'WorkflowNotFoundError') throw e;
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `batch ${runId} did not finish within ${timeoutMs / 1000} s (last status ${lastStatus}; last error: ${(lastError as Error)?.message ?? 'none'})\n${diagnose()}`,
  );
}

/**
 * Runs a tiny fault-free batch on `taskQueue` and waits for it, so the worker process is warm (workflow bundle
 * loaded, first activities run) before the chaos starts: on a busy 2-CPU machine a cold worker can take
 * seconds before its first LLM request, longer than the small activity timeouts the scenarios use, which
 * would turn start-up into "repeated calls". Clears the simulator log afterwards.
 */
export async function warmUp(client: Client, taskQueue: string, sim: Simulator, config: Record<string, unknown>): Promise<void> {
  const runId = `chaos-warmup-${taskQueue}`;
  await submitBatch(
    client,
    { run_id: runId, config: { ...config, max_depth: 1, min_depth: 1, max_workers: 2 }, seeds: ['warm-up one', 'warm-up two'], output_dir: tempDir('qasynth-chaos-warmup-') },
    { taskQueue },
  );
  const r = await awaitBatch(() => client, runId, 120_000);
  assert.equal(r.seeds_succeeded, 2, 'the warm-up batch succeeded');
  sim.resetLog();
}

/** Every workflow of the run (parent and children) is closed: nothing left running or stuck. */
export async function assertNothingRunning(client: Client, runId: string, taskQueue: string): Promise<void> {
  let running: string[] = [];
  try {
    await waitFor(
      async () => {
        running = [];
        for await (const wf of client.workflow.list({
          query: `QasynthRunId = "${runId}" AND TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`,
        })) {
          running.push(wf.workflowId);
        }
        return running.length === 0;
      },
      30_000,
      'no running workflows of the run',
    );
  } catch {
    assert.fail(`workflows of run ${runId} still running after the batch finished: ${running.join(', ')}`);
  }
}

export function elapsedSince(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)}s`;
}
