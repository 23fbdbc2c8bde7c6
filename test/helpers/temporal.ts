/**
 * Test access to a real Temporal dev server: the one `npm test` started (QASYNTH_TEST_TEMPORAL_ADDRESS), or a
 * private one when a test file runs on its own. Each test uses its own task queue.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../src/server/dev-server';
import { createWorkers, runWorkers, type WorkerRoles } from '../../src/worker/worker';
import { installRuntime } from '../../src/worker/runtime';
import type { RateLimits } from '../../src/shared/types';
import { startSimulator, type Simulator } from '../../src/llm/simulator';

export interface TestTemporal {
  address: string;
  client: Client;
  connection: Connection;
  native: NativeConnection;
  close(): Promise<void>;
}

export async function testTemporal(): Promise<TestTemporal> {
  let server: DevServer | null = null;
  let address = process.env.QASYNTH_TEST_TEMPORAL_ADDRESS;
  if (!address) {
    server = await startDevServer({ uiPort: null, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 100 } });
    address = server.address;
  }
  const connection = await Connection.connect({ address });
  installRuntime();
  const native = await NativeConnection.connect({ address });
  return {
    address,
    client: new Client({ connection, namespace: 'default' }),
    connection,
    native,
    async close() {
      await native.close();
      await connection.close();
      await server?.stop();
    },
  };
}

export function uniqueQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function tempDir(prefix = 'qasynth-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** An in-process worker (all four queues) whose LLM calls go to `llmBaseUrl`. */
export async function startTestWorker(opts: {
  t: TestTemporal;
  taskQueue: string;
  llmBaseUrl: string;
  apiKey?: string;
  roles?: WorkerRoles;
  rateLimits?: RateLimits;
}): Promise<{ stop(): Promise<void> }> {
  const llm = new OpenAI({ baseURL: opts.llmBaseUrl, apiKey: opts.apiKey ?? 'test-key', maxRetries: 0, timeout: 30_000 });
  const workers = await createWorkers({
    connection: opts.t.native,
    namespace: 'default',
    taskQueue: opts.taskQueue,
    roles: opts.roles,
    rateLimits: opts.rateLimits,
    llmClient: () => llm,
  });
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const run = runWorkers(workers, stopped);
  return {
    async stop() {
      stop();
      await run;
    },
  };
}

/** Polls `predicate` until true (a condition wait, not a fixed sleep); fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Whether a request has reached the simulator and been held at gate `gate` (a fault rule's `respond.hold`; the
 * request log labels it `hold:<gate>`): for `waitFor`, before the test acts while that call waits.
 */
export function heldAt(sim: Pick<Simulator, 'requests'>, gate: string): boolean {
  return sim.requests().some((e) => (e.fault ?? '').split(',').includes(`hold:${gate}`));
}

/** Reads a JSONL file into objects. */
export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** A small math-mode config for fast tests (D=3, b=2, t=2 → 10 nodes, 4 leaves per seed). */
export function smallConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    environment_mode: 'math',
    model_name: 'qasynth-sim',
    seed_description: 'math topic',
    max_depth: 3,
    branching_factor: 2,
    depth_threshold: 2,
    min_depth: 2,
    max_selected_traj: 2,
    max_retries: 3,
    max_workers: 2,
    // The simulator writes questions from two templates filled with words of the path: seeds like "number 1" …
    // "number 40" give genuine near-duplicates, which dedup would drop. Tests that count QA per seed run without
    // it; the dedup tests (test/activities/outputs.test.ts, test/workflows/grounding.test.ts) turn it on.
    dedup: { enabled: false },
    ...overrides,
  };
}

/** A simulator, a test worker on a fresh task queue served by it, and an output folder: what a workflow test runs. */
export interface SimHarness {
  sim: Simulator;
  queue: string;
  outDir: string;
  stop(): Promise<void>;
}

/** Starts a {@link SimHarness} on `t` (queue named `<prefix>-…`; the simulator with `latencyMs` per answer). */
export async function simHarness(t: TestTemporal, prefix: string, latencyMs = 0): Promise<SimHarness> {
  const sim = await startSimulator(latencyMs ? { latencyMs } : {});
  const queue = uniqueQueue(prefix);
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  return {
    sim,
    queue,
    outDir: tempDir(),
    async stop() {
      await worker.stop();
      await sim.close();
    },
  };
}
