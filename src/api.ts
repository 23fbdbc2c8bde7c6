/**
 * Typed API for scripts: validate and submit batches, follow them, control them. It is the `qasynth` package's
 * entry point (src/index.ts re-exports it), so a script written against an installed or linked qasynth reads:
 *
 *   import { connect, loadConfig, loadSeeds, submit, watch } from 'qasynth';
 *   const conn = await connect();                       // TEMPORAL_ADDRESS / TLS settings, as the CLI
 *   const sub = await submit(conn, { config: loadConfig('configs/math.json'), seeds: await loadSeeds('seeds.jsonl') });
 *   for await (const u of watch(conn, sub.runId)) if (u.state === 'completed') console.log(u.result.qa_path);
 *   await conn.close();
 *
 * examples/submit-and-watch.ts is a complete script. Bad input throws ConfigError (its `issues` list every
 * problem) before anything is started.
 *
 * Workflow ids derive from run ids, so submitting the same run id twice is idempotent: a running batch is
 * reused, a completed one is reported (not re-run), a failed or terminated one is started again and
 * resumes from the seeds already finished.
 */
import path from 'node:path';
import type { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { batchWorkflowId, DEFAULT_TASK_QUEUE } from './shared/constants';
import type { BatchInput, BatchProgress, BatchResult } from './shared/types';
import { progressQuery, pauseSignal, resumeSignal, retryFailedUpdate, setMaxWorkersUpdate, type MaxWorkersChange } from './workflows/messages';
import type { synthesizeBatch } from './workflows/synthesize-batch';
import { ModeAttr, RunIdAttr, unknownSearchAttribute } from './shared/search-attributes';
import { batchSummary } from './domain/metadata';
import { CONFIG_DEFAULTS } from './config/defaults';
import type { SynthesisConfig } from './shared/types';
import { parseBatchInput, parseConfig, type configSchema } from './config/schema';
import { ConfigError, loadConfigFile } from './config/load';
import { readSeedsFile } from './config/seeds-stream';
import { RunFingerprint } from './activities/outputs';
import { absurdRun } from './domain/limits';
import { isPlainObject } from './domain/format';
import { describeRun, NoWorkerError, requireWorker, withControlDeadline, workflowPollers, workerCommand } from './client/pollers';
import type { QasynthConnection } from './client/connect';

/** Handle of a batch's parent workflow (`synthesizeBatch`), typed for its queries, signals and updates. */
export type BatchHandle = WorkflowHandle<typeof synthesizeBatch>;

/** What {@link submitBatch} found or started. */
export interface SubmitResult {
  workflowId: string;
  handle: BatchHandle;
  /**
   * `started` (new), `running` (already running: reused), `completed` (finished earlier: not re-run),
   * `retrying` (finished earlier with failed, no-QA or not-run seeds: a new execution re-runs just those, because
   * `retryFailed` was asked or the run had been cancelled), `retry_requested` (running: it re-runs its failed
   * seeds once the current pass is done).
   */
  state: 'started' | 'running' | 'completed' | 'retrying' | 'retry_requested';
}

/** Options of {@link submitBatch}: task queue (default `qasynth`), mode and seed count for the Web UI summary. */
export interface SubmitOptions {
  taskQueue?: string;
  mode?: string;
  seedCount?: number;
  /** Re-run the failed, no-QA and not-run seeds of this run id (finished seeds are kept, never paid again). */
  retryFailed?: boolean;
}

/**
 * Starts a batch, or finds it: workflow ids derive from run ids, so this is idempotent. A cancelled run is
 * continued by submitting it again; a finished run with failures is re-run for its failed seeds only with
 * `retryFailed`.
 */
export async function submitBatch(client: Client, input: BatchInput, opts: SubmitOptions = {}): Promise<SubmitResult> {
  const workflowId = batchWorkflowId(input.run_id);
  const existing = client.workflow.getHandle(workflowId) as BatchHandle;
  let status: string | null = null;
  try {
    status = (await existing.describe()).status.name;
  } catch {
    /* not found: a new run */
  }
  if (status === 'RUNNING' && opts.retryFailed) {
    await existing.executeUpdate(retryFailedUpdate);
    return { workflowId, handle: existing, state: 'retry_requested' };
  }
  let again = false;
  if (status === 'COMPLETED') {
    const previous = await existing.result();
    const unfinished = previous.seeds_failed + (previous.seeds_no_qa ?? 0) + previous.seeds_missing;
    again = (opts.retryFailed === true || previous.status === 'cancelled') && unfinished > 0;
    if (!again) return { workflowId, handle: existing, state: 'completed' };
  }
  const startInput: BatchInput = again || opts.retryFailed ? { ...input, retry_failed: true } : input;
  try {
    const handle = await retryUnknownSearchAttribute(client, () => client.workflow.start('synthesizeBatch', {
      taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId,
      args: [startInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A finished run is started again only to retry its failures (above); otherwise only failed runs restart.
      workflowIdReusePolicy: again ? 'ALLOW_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY',
      // The Web UI's summary of the run (the workflow also names itself in its current details, however started).
      staticSummary: batchSummary(
        input.run_id,
        opts.mode ?? (typeof input.config.environment_mode === 'string' ? input.config.environment_mode : 'web'),
        opts.seedCount ?? input.seeds?.length ?? null,
        typeof input.config.max_workers === 'number' ? input.config.max_workers : CONFIG_DEFAULTS.max_workers,
      ),
      staticDetails:
        `**qasynth run** \`${input.run_id}\` — output in \`${input.output_dir}\`` +
        (input.seeds_file ? `, seeds from \`${input.seeds_file}\`` : '') +
        '\n\nFollow it with `qasynth status ' + input.run_id + '`; the progress query says the same.',
      typedSearchAttributes: [
        { key: RunIdAttr, value: input.run_id },
        ...(opts.mode ? [{ key: ModeAttr, value: opts.mode }] : []),
      ],
    }));
    return { workflowId, handle: handle as BatchHandle, state: again ? 'retrying' : status === 'RUNNING' ? 'running' : 'started' };
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      return { workflowId, handle: existing, state: 'completed' };
    }
    throw e;
  }
}

/**
 * How long a start refused for an unknown search attribute is retried: attributes registered moments ago are
 * refused until the server's namespace cache refreshes (every 2 s by default; see SEARCH_ATTRIBUTE_VISIBLE_TIMEOUT_MS
 * in src/worker/connection.ts, which `qasynth run` / `qasynth worker` wait for before this point).
 */
const UNKNOWN_SEARCH_ATTRIBUTE_RETRY_MS = 15_000;

/**
 * Runs `start`, retrying it (bounded) while the server refuses one of qasynth's search attributes as unknown;
 * then fails with an error naming the attribute and how to create it, the server's error as its `cause`.
 */
async function retryUnknownSearchAttribute<T>(client: Client, start: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + UNKNOWN_SEARCH_ATTRIBUTE_RETRY_MS;
  for (;;) {
    try {
      return await start();
    } catch (e) {
      const name = unknownSearchAttribute(e);
      if (!name) throw e;
      if (Date.now() > deadline) {
        const ns = client.options.namespace;
        throw new Error(
          `the Temporal server refuses search attribute ${name} in namespace ${ns} as unknown (for ${UNKNOWN_SEARCH_ATTRIBUTE_RETRY_MS / 1000} s): ` +
            `create it with \`temporal operator search-attribute create --namespace ${ns} --name ${name} --type Keyword\` ` +
            '(`qasynth worker` and `qasynth run` do this when the server allows it)',
          { cause: e },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The handle of run `runId` (workflow id `qasynth-<runId>`, its latest execution). */
export function batchHandle(client: Client, runId: string): BatchHandle {
  return client.workflow.getHandle(batchWorkflowId(runId)) as BatchHandle;
}

/**
 * The `progress` query of a running batch (needs a worker: it waits for one up to the connection's deadline, and
 * a finished batch whose workers are gone cannot answer it). For any state, without waiting for a worker that is
 * not there, use {@link queryRun} or {@link watch}: a finished run answers with its result.
 */
export const queryProgress = (h: BatchHandle): Promise<BatchProgress> => h.query(progressQuery);
/** Stops launching new seeds (running seeds finish). A signal: recorded even with no worker polling. */
export const pauseBatch = (h: BatchHandle): Promise<void> => h.signal(pauseSignal);
/** Launches seeds again after a pause (also one by the circuit breaker). */
export const resumeBatch = (h: BatchHandle): Promise<void> => h.signal(resumeSignal);
/**
 * Changes how many seeds of a running batch run at once; resolves to `{previous, current}` (the value now in
 * force). Works with workers of every version: older ones answered with the previous value alone.
 * Rejects (WorkflowUpdateFailedError) a value outside 1..2000, or when the batch is not running.
 */
export async function scaleBatch(h: BatchHandle, n: number): Promise<MaxWorkersChange> {
  const r = await h.executeUpdate(setMaxWorkersUpdate, { args: [n] });
  return typeof r === 'number' ? { previous: r, current: n } : r;
}
/** The previous max_workers after changing it (kept for earlier callers; {@link scaleBatch} says both values). */
export const setMaxWorkers = async (h: BatchHandle, n: number): Promise<number> => (await scaleBatch(h, n)).previous;
/** Waits for the batch to finish and returns its result (counts and output paths). */
export const batchResult = (h: BatchHandle): Promise<BatchResult> => h.result();
/** Asks a running batch to re-run its failed seeds once its current pass is done. */
export const retryFailed = (h: BatchHandle): Promise<{ seeds_done: number; seeds_total: number }> => h.executeUpdate(retryFailedUpdate);

/** Asks a running batch for its progress (the parent's `progress` query). Needs a worker; see {@link queryRun}. */
export type ProgressReader = (h: BatchHandle) => Promise<BatchProgress>;

// ---------------------------------------------------------------- typed inputs

/**
 * A config as a user writes it: every key of configs/schema.json, all optional (defaults are the original
 * system's; src/config/defaults.ts). Typed from the zod schema in src/config/schema.ts.
 */
export type Config = z.input<typeof configSchema>;
/** A config after validation, every default filled in (what workers see). */
export type ResolvedConfig = z.output<typeof configSchema>;
/** One seed as in a seeds file: a string, or `{text, id?, metadata?}` (`id` becomes the source id). */
export type SeedSpec = string | { text: string; id?: string; metadata?: Record<string, unknown> };
export { ConfigError };

/**
 * Reads and validates a config file (.json, .yaml/.yml). Returns the config as written (defaults not filled
 * in: submit() and the workers apply them). Throws ConfigError whose `issues` name each problem
 * (`<file>: max_depth: expected …, got …`, `<file>: config file not found`).
 */
export function loadConfig(file: string): Config {
  const raw = loadConfigFile(file);
  const parsed = parseConfig(raw);
  if (!parsed.ok) throw new ConfigError(parsed.issues.map((i) => `${file}: ${i}`)); // as src/config/load.ts's loadConfig
  return raw as Config;
}

/**
 * Reads and validates a seeds file (JSONL, a JSON array, `{"entities": [...]}` or YAML), streamed: every
 * problem is reported, as `seeds[i]: …` or `<file>:<line>:<col>: …`, in the ConfigError thrown. Returns the
 * seeds as written (duplicates included; submit() drops them). The list is held in memory: for files of more
 * than a few MB pass `seedsFile` to submit() instead, which sends the seeds by reference.
 */
export async function loadSeeds(file: string): Promise<SeedSpec[]> {
  const seeds: SeedSpec[] = [];
  const read = await readSeedsFile(file, { numberOfSeed: null, onItem: (raw) => seeds.push(raw as SeedSpec) });
  if (!read.ok) throw new ConfigError(read.issues);
  return seeds;
}

/** What {@link submit} starts. Exactly one of `seeds` and `seedsFile`. */
export interface SubmitRequest {
  config: Config;
  /** Seeds inline (they travel in the workflow input: up to ~2 MB of input in all). */
  seeds?: readonly SeedSpec[];
  /** Seeds by reference: a seeds file the workers serving `<queue>-output` read (any size); validated here first. */
  seedsFile?: string;
  /** Names the run; default derived from config + seeds (as the CLI), so submitting again resumes the same run. */
  runId?: string;
  /** Output root on the machine of the worker serving `<queue>-output`; default `out` (resolved here to an absolute path). */
  outputDir?: string;
  /** Run even what looks absurd (more than 1,000 nodes per seed, or 100 million LLM calls). */
  force?: boolean;
}

/** A validated batch: what would be submitted. */
export interface PreparedBatch {
  input: BatchInput;
  config: ResolvedConfig;
  /** Unique seeds the run will process (after number_of_seed and duplicate removal). */
  seedsTotal: number;
  duplicatesDropped: number;
}

/**
 * Validates a request as the CLI and the workflow do, without contacting the server. Throws ConfigError listing
 * every problem (`config.…`, `seeds[i]…`, `run_id`, `output_dir`).
 */
export async function prepareBatch(req: SubmitRequest): Promise<PreparedBatch> {
  const issues: string[] = [];
  if ((req.seeds === undefined) === (req.seedsFile === undefined)) {
    throw new ConfigError([`seeds: expected exactly one of seeds (a list) and seedsFile (a path), got ${req.seeds === undefined ? 'neither' : 'both'}`]);
  }
  const outputDir = path.resolve(req.outputDir ?? 'out');
  const rawConfig: unknown = req.config;
  const base = { run_id: req.runId ?? 'pending', config: rawConfig, output_dir: outputDir, ...(req.force ? { force: true } : {}) };
  let config: SynthesisConfig | null = null;
  let seedsTotal = 0;
  let duplicatesDropped = 0;
  let sourceIds: string[] = [];
  let input: BatchInput;
  if (req.seeds !== undefined) {
    const parsed = parseBatchInput({ ...base, seeds: req.seeds });
    if (!parsed.ok) throw new ConfigError(parsed.issues);
    config = parsed.config;
    seedsTotal = parsed.seeds.length;
    duplicatesDropped = parsed.duplicates.reduce((a, d) => a + d.count, 0);
    sourceIds = parsed.seeds.map((s) => s.source_id);
    input = parsed.input;
  } else {
    const seedsFile = path.resolve(req.seedsFile!);
    const shape = parseBatchInput({ ...base, seeds_file: seedsFile });
    if (!shape.ok) issues.push(...shape.issues);
    else config = shape.config;
    const n = config?.number_of_seed ?? (isPlainObject(rawConfig) && typeof rawConfig.number_of_seed === 'number' ? rawConfig.number_of_seed : null);
    const read = await readSeedsFile(seedsFile, { numberOfSeed: n, stopAtCut: true, onSeed: (s) => sourceIds.push(s.source_id) });
    issues.push(...read.issues);
    if (issues.length || !config || !shape.ok) throw new ConfigError(issues);
    const absurd = req.force ? null : absurdRun(config, read.seeds_total);
    if (absurd) throw new ConfigError([`config: ${absurd}`]);
    seedsTotal = read.seeds_total;
    duplicatesDropped = read.duplicates_dropped;
    input = shape.input;
  }
  if (!req.runId) {
    // The CLI's derivation (src/cli/inputs.ts): same config and seeds → same run id → submitting again resumes.
    const fp = new RunFingerprint(config);
    for (const id of sourceIds) fp.add(id);
    input = { ...input, run_id: `run-${fp.digest().slice(0, 12)}` };
  }
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_BATCH_INPUT_BYTES) {
    throw new ConfigError([
      `seeds: expected at most ${MAX_BATCH_INPUT_BYTES} bytes of batch input as JSON (the Temporal server's default limit for a workflow input), got ${bytes}; pass seedsFile instead of seeds`,
    ]);
  }
  return { input, config: config as ResolvedConfig, seedsTotal, duplicatesDropped };
}

/**
 * Largest batch input as JSON, in bytes: the Temporal server refuses a workflow input above 2 MiB (its default
 * `limit.blobSize.error`); the margin covers the payload's metadata. Same figure as the CLI's MAX_INPUT_BYTES.
 */
export const MAX_BATCH_INPUT_BYTES = 2_000_000;

/** What {@link submit} did. */
export interface SubmitOutcome extends SubmitResult {
  runId: string;
  seedsTotal: number;
  /** Workers polling the run's task queue right after the start (0: nothing will happen until one starts). */
  pollers: number;
  /** Set when no worker polls the task queue: says which and how to start one. */
  warning: string | null;
}

type ClientLike = Client | Pick<QasynthConnection, 'client'>;
const clientOf = (c: ClientLike): Client => ('workflow' in c ? c : c.client);

/**
 * Validates the request (throws ConfigError, nothing started), then starts the batch or finds it (idempotent by
 * run id, see {@link submitBatch}). Warns, in `warning`, when no worker polls the task queue.
 */
export async function submit(conn: ClientLike, req: SubmitRequest, opts: Pick<SubmitOptions, 'taskQueue' | 'retryFailed'> = {}): Promise<SubmitOutcome> {
  const prepared = await prepareBatch(req);
  const client = clientOf(conn);
  const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  const sub = await submitBatch(client, prepared.input, {
    taskQueue,
    mode: prepared.config.environment_mode,
    seedCount: prepared.seedsTotal,
    retryFailed: opts.retryFailed,
  });
  const pollers = sub.state === 'completed' ? null : await workflowPollers(client, taskQueue).catch(() => null);
  const warning =
    pollers && pollers.live === 0
      ? `run ${prepared.input.run_id}: ${sub.state}, but no worker is polling task queue ${taskQueue}; start one with \`${workerCommand(taskQueue)}\``
      : null;
  return { ...sub, runId: prepared.input.run_id, seedsTotal: prepared.seedsTotal, pollers: pollers?.live ?? 0, warning };
}

// ---------------------------------------------------------------- following a run

/** No batch with this run id exists on the server. */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
  constructor(readonly runId: string, workflowId: string) {
    super(`run-id: no batch named ${JSON.stringify(runId)} (workflow ${workflowId})`);
  }
}

/**
 * Where a run is. `running`: its progress (the parent's `progress` query). `no_worker`: running, but no worker
 * polls its task queue, so nothing moves (the message says how to start one). `completed`: finished (also when
 * cancelled gracefully or stopped by its budget: see `result.status`); `result` holds the counts and the paths of
 * the QA, trajectories and statistics files. `ended`: failed, terminated or timed out (not resumable by waiting;
 * submitting the run id again resumes it).
 */
export type RunUpdate =
  | { state: 'running'; run_id: string; progress: BatchProgress }
  | { state: 'no_worker'; run_id: string; task_queue: string; message: string }
  | { state: 'completed'; run_id: string; result: BatchResult }
  | { state: 'ended'; run_id: string; status: string; message: string };

/** The per-tick progress reading: the parent's `progress` query, with a short deadline. */
export const readProgress: ProgressReader = (h) => withControlDeadline(h.client, `run ${h.workflowId}: progress query`, () => h.query(progressQuery));

/**
 * Reads where a run is (see {@link RunUpdate}); never throws because the run has finished or has no worker.
 * Throws RunNotFoundError for an unknown run id, WorkerTimeoutError when a worker polls but does not answer
 * within 10 s, and the SDK's errors when the server cannot be reached.
 */
export async function queryRun(conn: ClientLike, runId: string, opts: { read?: ProgressReader } = {}): Promise<RunUpdate> {
  const client = clientOf(conn);
  const run = await describeRun(client, runId);
  const h = batchHandle(client, runId);
  if (!run) throw new RunNotFoundError(runId, h.workflowId);
  if (run.status === 'COMPLETED') return { state: 'completed', run_id: runId, result: await h.result() };
  if (run.status !== 'RUNNING') {
    const message = await h.result().then(
      () => `run ${runId}: ${run.status}`,
      (e: Error) => `run ${runId}: ${run.status}: ${causeText(e)}`,
    );
    return { state: 'ended', run_id: runId, status: run.status, message };
  }
  try {
    await requireWorker(client, runId, run.taskQueue, 'its progress cannot be read and no seed advances');
  } catch (e) {
    if (e instanceof NoWorkerError) return { state: 'no_worker', run_id: runId, task_queue: run.taskQueue, message: e.message };
    throw e;
  }
  try {
    return { state: 'running', run_id: runId, progress: await (opts.read ?? readProgress)(h) };
  } catch (e) {
    // It finished between the describe and the query.
    const again = await describeRun(client, runId);
    if (again && again.status !== 'RUNNING') return queryRun(conn, runId, opts);
    throw e;
  }
}

function causeText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, d = 0; cur instanceof Error && d < 6; d++, cur = cur.cause) {
    if (cur.message && !parts.some((p) => p.includes(cur.message))) parts.push(cur.message);
  }
  return parts.join(': ');
}

/** Options of {@link watch}. */
export interface WatchOptions {
  /** Time between readings, in milliseconds (default 1000). */
  intervalMs?: number;
  /** Stops the watch (the iterator ends without an error). */
  signal?: AbortSignal;
  /** The per-tick progress reading (default {@link readProgress}, the parent's `progress` query). */
  read?: ProgressReader;
}

/**
 * Follows a run: yields a {@link RunUpdate} at once and then whenever it changes (read every `intervalMs`), and
 * ends after the `completed` or `ended` update (a finished run yields that one update). `no_worker` updates are
 * yielded and the watch goes on: the run continues once a worker starts. Errors as {@link queryRun}.
 */
export async function* watch(conn: ClientLike, runId: string, opts: WatchOptions = {}): AsyncGenerator<RunUpdate, void, undefined> {
  const interval = opts.intervalMs ?? 1000;
  let last = '';
  while (!opts.signal?.aborted) {
    const u = await queryRun(conn, runId, { read: opts.read });
    const key = JSON.stringify(u);
    if (key !== last) {
      last = key;
      yield u;
    }
    if (u.state === 'completed' || u.state === 'ended') return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, interval);
      function done() {
        clearTimeout(t);
        opts.signal?.removeEventListener('abort', done);
        resolve();
      }
      opts.signal?.addEventListener('abort', done, { once: true });
    });
  }
}
