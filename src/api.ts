/**
 * Typed API for scripts: submit batches, follow them, control them.
 *
 *   import { Client, Connection } from '@temporalio/client';
 *   import { submitBatch } from 'qasynth/dist/api';
 *   const client = new Client({ connection: await Connection.connect({ address: '127.0.0.1:7233' }) });
 *   const { workflowId } = await submitBatch(client, { run_id: 'r1', config, seeds, output_dir: '/data/out' });
 *
 * Workflow ids derive from run ids, so submitting the same run id twice is idempotent: a running batch is
 * reused, a completed one is reported (not re-run), a failed or terminated one is started again and
 * resumes from the seeds already finished.
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { batchWorkflowId, DEFAULT_TASK_QUEUE } from './shared/constants';
import type { BatchInput, BatchProgress, BatchResult } from './shared/types';
import { progressQuery, pauseSignal, resumeSignal, retryFailedUpdate, setMaxWorkersUpdate, type MaxWorkersChange } from './workflows/messages';
import type { synthesizeBatch } from './workflows/synthesize-batch';
import { ModeAttr, RunIdAttr, unknownSearchAttribute } from './shared/search-attributes';
import { batchSummary } from './domain/metadata';
import { CONFIG_DEFAULTS } from './config/defaults';

export type BatchHandle = WorkflowHandle<typeof synthesizeBatch>;

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

export function batchHandle(client: Client, runId: string): BatchHandle {
  return client.workflow.getHandle(batchWorkflowId(runId)) as BatchHandle;
}

export const queryProgress = (h: BatchHandle): Promise<BatchProgress> => h.query(progressQuery);
export const pauseBatch = (h: BatchHandle): Promise<void> => h.signal(pauseSignal);
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
export const batchResult = (h: BatchHandle): Promise<BatchResult> => h.result();
/** Asks a running batch to re-run its failed seeds once its current pass is done. */
export const retryFailed = (h: BatchHandle): Promise<{ seeds_done: number; seeds_total: number }> => h.executeUpdate(retryFailedUpdate);
