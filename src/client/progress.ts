/**
 * The live view of a run, client side: the parent's `progress` query (finished seeds' counters, the running seeds)
 * plus a bounded fan-in of the running seeds' `seedProgress` queries (their partial counters), summed into one
 * snapshot; `watchProgress` follows a run — however it was started — until it ends, its last snapshot built from
 * the run's result. Used by the CLI (`run`, `status`, `watch`) and by scripts (src/api.ts).
 *
 * Why a query fan-in and not counters kept by the parent: a query adds no event to any history, while the parent
 * could only learn of each LLM call by a signal (≥ 3 more events per call in two histories: the child's
 * SignalExternalWorkflowExecutionInitiated/…Signaled, the parent's WorkflowExecutionSignaled, plus the workflow
 * tasks they wake). test/e2e/live-progress.test.ts checks that querying a seed leaves its history unchanged.
 *
 * No double counting: the parent is asked first; a seed it lists as running has not been counted in its
 * counters at that moment, so adding that seed's partial counters (asked afterwards) counts each call once. A seed
 * that ended in between is rejected by the server (`NOT_OPEN`, no replay on a worker) and simply left out until
 * the next snapshot shows it among the finished.
 */
import {
  QueryRejectedError,
  WorkflowClient,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { batchWorkflowId, seedWorkflowId } from '../shared/constants';
import type { BatchProgress, BatchResult, FailedSeedNote, SeedLiveProgress } from '../shared/types';
import { progressQuery, seedProgressQuery } from '../workflows/messages';

/** Most seed queries in flight at once (one fan-in round). */
export const SEED_QUERY_CONCURRENCY = 16;
/** How long one query may take before it is given up (ms): a run without a worker must not hang the view. */
export const QUERY_TIMEOUT_MS = 5_000;

/** A failed or no-QA seed as the live view names it: the parent's note plus the seed text (when found). */
export interface FailedSeedView extends FailedSeedNote {
  /** The seed's text as its workflow's summary holds it (≤ 120 characters); absent when unknown. */
  text?: string;
}

/**
 * One snapshot of a run. Seed counts are finished seeds; `qa`, `llm_calls`, tokens and cost are finished seeds'
 * totals plus the running seeds' partial counters (`running_answered` of `seeds_running` answered). Times are
 * milliseconds (epoch for `at_ms` / `started_at_ms`). Once the run has ended (`final`), the numbers are the
 * result's (the statistics file's), so the last frame and the summary agree.
 */
export interface LiveProgress {
  run_id: string;
  workflow_id: string;
  /** Temporal status of the batch workflow: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  status: string;
  /** `preparing`, `running` (until the last seed ends), `writing` (outputs), `cancelling`, `done`. */
  phase: 'preparing' | 'running' | 'writing' | 'cancelling' | 'done';
  final: boolean;
  seeds_total: number;
  seeds_done: number;
  seeds_succeeded: number;
  seeds_failed: number;
  seeds_no_qa: number;
  seeds_budget_exhausted: number;
  seeds_cached: number;
  /** Seeds never run (final snapshots of cancelled or budget-stopped runs); 0 while running. */
  seeds_missing: number;
  seeds_running: number;
  /** Running seeds whose partial counters are included. */
  running_answered: number;
  max_workers: number;
  paused: boolean;
  pause_reason: string | null;
  qa: number;
  llm_calls: number;
  llm_requests: number;
  input_tokens: number;
  output_tokens: number;
  /** USD, from config.prices (0 without prices). */
  cost_usd: number;
  /** The newest failed and no-QA seeds (≤ 20). */
  failed_seeds: FailedSeedView[];
  started_at_ms: number | null;
  at_ms: number;
  elapsed_ms: number | null;
  /** Estimated time to the last seed, from the finished (not cached) seeds' rate; null before one finished. */
  eta_ms: number | null;
  /** The run's result once it completed. */
  result: BatchResult | null;
  /** Why the run ended without a result (failed, terminated, …). */
  error: string | null;
}

/**
 * Remaining time (ms) at the rate finished seeds came in: `elapsed / fresh × remaining`, where fresh = seeds done
 * minus seeds taken from an earlier execution (cached, instant). 0 when nothing remains; null before the first
 * fresh seed finished (no rate yet).
 */
export function etaMs(c: { seeds_total: number; seeds_done: number; seeds_cached: number }, elapsedMs: number | null): number | null {
  const remaining = c.seeds_total - c.seeds_done;
  if (remaining <= 0) return 0;
  const fresh = c.seeds_done - c.seeds_cached;
  if (elapsedMs === null || elapsedMs <= 0 || fresh < 1) return null;
  return Math.round((elapsedMs / fresh) * remaining);
}

/**
 * How often to refresh a view of `running` seeds (ms): every second up to 32 running seeds, then 0.5 s more per
 * 16 (one round of SEED_QUERY_CONCURRENCY queries), at most 10 s — the fan-in stays a small load on the workers.
 */
export function refreshIntervalMs(running: number): number {
  return Math.min(10_000, Math.max(1_000, Math.ceil(running / SEED_QUERY_CONCURRENCY) * 500));
}

/** `draining` (older workers) reads as `running`. */
function normalPhase(p: BatchProgress['phase']): LiveProgress['phase'] {
  return p === 'draining' ? 'running' : p;
}

/** Sums a parent's progress and its running seeds' partial counters into a snapshot (pure). */
export function combineProgress(
  workflowId: string,
  p: BatchProgress,
  seeds: readonly SeedLiveProgress[],
  now: number,
  texts: ReadonlyMap<string, string> = new Map(),
): LiveProgress {
  const c = p.counters;
  const sum = (k: keyof SeedLiveProgress) => seeds.reduce((a, s) => a + (s[k] as number), 0);
  const started = p.started_at_ms ?? null;
  const elapsed = started === null ? null : Math.max(0, now - started);
  const base = {
    seeds_total: p.seeds_total,
    seeds_done: c.seeds_done,
    seeds_cached: c.seeds_cached,
  };
  return {
    run_id: p.run_id,
    workflow_id: workflowId,
    status: 'RUNNING',
    phase: normalPhase(p.phase),
    final: false,
    ...base,
    seeds_succeeded: c.seeds_succeeded,
    seeds_failed: c.seeds_failed,
    seeds_no_qa: c.seeds_no_qa ?? 0,
    seeds_budget_exhausted: c.seeds_budget_exhausted,
    seeds_missing: 0,
    seeds_running: p.running.length,
    running_answered: seeds.length,
    max_workers: p.max_workers,
    paused: p.paused,
    pause_reason: p.pause_reason ?? null,
    qa: c.qa + sum('qa'),
    llm_calls: c.llm_calls + sum('llm_calls'),
    llm_requests: (c.llm_requests ?? c.llm_calls) + sum('llm_requests'),
    input_tokens: c.input_tokens + sum('input_tokens'),
    output_tokens: c.output_tokens + sum('output_tokens'),
    cost_usd: c.cost_usd + sum('cost_usd'),
    failed_seeds: (p.failed_seeds ?? []).map((f) => (texts.has(f.source_id) ? { ...f, text: texts.get(f.source_id) } : { ...f })),
    started_at_ms: started,
    at_ms: now,
    elapsed_ms: elapsed,
    eta_ms: etaMs(base, elapsed),
    result: null,
    error: null,
  };
}

/**
 * The final snapshot of a completed run, from its result (numbers as the statistics file counts them) and the
 * last live snapshot (start time, failed seeds' names). `endMs`: when the run ended (elapsed = end − start).
 */
export function progressFromResult(workflowId: string, r: BatchResult, last: LiveProgress | null, endMs: number): LiveProgress {
  const started = last?.started_at_ms ?? null;
  const done = r.seeds_total - r.seeds_missing;
  return {
    run_id: r.run_id,
    workflow_id: workflowId,
    status: 'COMPLETED',
    phase: 'done',
    final: true,
    seeds_total: r.seeds_total,
    seeds_done: done,
    seeds_succeeded: r.seeds_succeeded,
    seeds_failed: r.seeds_failed,
    seeds_no_qa: r.seeds_no_qa ?? 0,
    seeds_budget_exhausted: r.seeds_budget_exhausted,
    seeds_cached: last?.seeds_cached ?? 0,
    seeds_missing: r.seeds_missing,
    seeds_running: 0,
    running_answered: 0,
    max_workers: last?.max_workers ?? 0,
    paused: false,
    pause_reason: null,
    qa: r.qa_count,
    llm_calls: r.llm_calls ?? last?.llm_calls ?? 0,
    llm_requests: r.llm_requests ?? last?.llm_requests ?? 0,
    input_tokens: r.input_tokens ?? last?.input_tokens ?? 0,
    output_tokens: r.output_tokens ?? last?.output_tokens ?? 0,
    cost_usd: r.estimated_cost_usd,
    failed_seeds: last?.failed_seeds ?? [],
    started_at_ms: started,
    at_ms: endMs,
    elapsed_ms: started === null ? null : Math.max(0, endMs - started),
    eta_ms: 0,
    result: r,
    error: null,
  };
}

/** Runs `fn` over `items`, at most `limit` at once; results in input order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** Options of readProgress / watchProgress. */
export interface ProgressOptions {
  /** Seed queries in flight at once (default SEED_QUERY_CONCURRENCY). */
  concurrency?: number;
  /** Seed texts already known, by source id; filled as failed seeds are looked up (share it between calls). */
  texts?: Map<string, string>;
}

/**
 * The live view's reader of one run: `read()` takes a snapshot of a running run (null once it is not running),
 * `seedText()` looks up a failed seed's text once.
 */
class RunReader {
  readonly workflowId: string;
  private readonly wc: WorkflowClient;
  private readonly texts: Map<string, string>;

  constructor(
    private readonly client: Client,
    private readonly runId: string,
    private readonly opts: ProgressOptions,
  ) {
    this.workflowId = batchWorkflowId(runId);
    // Queries to closed workflows are rejected by the server, not replayed on a worker.
    this.wc = new WorkflowClient({
      connection: client.connection,
      namespace: client.options.namespace,
      identity: client.options.identity,
      queryRejectCondition: 'NOT_OPEN',
    });
    this.texts = opts.texts ?? new Map();
  }

  private timed<R>(fn: () => Promise<R>): Promise<R> {
    return this.client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, fn);
  }

  /** A snapshot of the running run; null when the batch is not running (closed, not found) or did not answer. */
  async read(now = Date.now): Promise<LiveProgress | null> {
    let p: BatchProgress;
    try {
      p = await this.timed(() => this.wc.getHandle(this.workflowId).query(progressQuery));
    } catch (e) {
      if (e instanceof QueryRejectedError || e instanceof WorkflowNotFoundError) return null;
      throw e;
    }
    const seeds = await pool(p.running, this.opts.concurrency ?? SEED_QUERY_CONCURRENCY, async (sid) => {
      try {
        return await this.timed(() => this.wc.getHandle(seedWorkflowId(this.runId, sid)).query(seedProgressQuery));
      } catch {
        // Ended since the parent answered (rejected: NOT_OPEN), not yet started, from an older worker without
        // the query, or slow: left out of this snapshot; the parent counts it once it has reported.
        return null;
      }
    });
    await this.lookUpTexts(p.failed_seeds ?? []);
    return combineProgress(this.workflowId, p, seeds.filter((s): s is SeedLiveProgress => s !== null), now(), this.texts);
  }

  /** Fetches the text of failed seeds not looked up yet (their workflows' static summary), the newest 5. */
  private async lookUpTexts(failed: readonly FailedSeedNote[]): Promise<void> {
    const missing = failed.slice(-5).map((f) => f.source_id).filter((id) => !this.texts.has(id));
    await pool(missing, 4, async (sid) => {
      try {
        const d = await this.timed(() => this.client.workflow.getHandle(seedWorkflowId(this.runId, sid)).describe());
        this.texts.set(sid, ((await d.staticSummary()) ?? '').trim());
      } catch {
        this.texts.set(sid, '');
      }
    });
  }
}

/** One snapshot of a run now: live while it runs, from its result once it completed, its status otherwise. */
export async function readProgress(client: Client, runId: string, opts: ProgressOptions = {}): Promise<LiveProgress> {
  const reader = new RunReader(client, runId, opts);
  const live = await reader.read();
  if (live) return live;
  return ended(client, reader.workflowId, runId, null);
}

/** The snapshot of a run that is not running: its result (completed) or its status and error. */
async function ended(client: Client, workflowId: string, runId: string, last: LiveProgress | null): Promise<LiveProgress> {
  const h = client.workflow.getHandle(workflowId) as WorkflowHandle;
  const desc = await h.describe(); // WorkflowNotFoundError: no such run (callers say so)
  const status = desc.status.name;
  const endMs = desc.closeTime?.getTime() ?? Date.now();
  if (status === 'COMPLETED') return progressFromResult(workflowId, (await h.result()) as BatchResult, last, endMs);
  if (status === 'RUNNING' && last) return last; // between runs of a continue-as-new
  let error: string | null = null;
  if (status !== 'RUNNING') {
    try {
      await h.result();
    } catch (e) {
      error = e instanceof WorkflowFailedError ? (e.cause?.message ?? e.message) : (e as Error).message;
    }
  }
  const base: LiveProgress = last ?? {
    ...progressFromResult(workflowId, emptyResult(runId), null, endMs),
    seeds_total: 0,
  };
  return { ...base, status, final: status !== 'RUNNING', phase: status === 'RUNNING' ? base.phase : 'done', seeds_running: 0, running_answered: 0, at_ms: endMs, error, result: null };
}

function emptyResult(runId: string): BatchResult {
  return {
    run_id: runId, seeds_total: 0, duplicates_dropped: 0, status: 'complete', qa_path: '', trajectories_path: '', statistics_path: '',
    qa_count: 0, trajectory_count: 0, seeds_succeeded: 0, seeds_failed: 0, seeds_budget_exhausted: 0, seeds_missing: 0, estimated_cost_usd: 0,
  };
}

/** Options of watchProgress. */
export interface WatchOptions extends ProgressOptions {
  /** Stops the watch (the generator returns). */
  signal?: AbortSignal;
  /** Refresh interval for a number of running seeds (default refreshIntervalMs). */
  intervalMs?: (running: number) => number;
}

/**
 * Follows a run until it ends, whoever started it: yields a snapshot at once, then one per refresh interval
 * (scaled with the running seeds, see refreshIntervalMs), and a last one with `final: true` built from the result
 * (or the status and error of a run that failed, was terminated, …). A snapshot that could not be read (a
 * continue-as-new in progress, a slow worker) is skipped. Throws WorkflowNotFoundError for an unknown run.
 */
export async function* watchProgress(client: Client, runId: string, opts: WatchOptions = {}): AsyncGenerator<LiveProgress, void, void> {
  const reader = new RunReader(client, runId, opts);
  const handle = client.workflow.getHandle(reader.workflowId);
  let closed = false;
  // Wakes the loop the moment the run ends (result() follows continue-as-new to the last run).
  const end = handle.result().then(
    () => void (closed = true),
    () => void (closed = true),
  );
  await handle.describe(); // an unknown run: WorkflowNotFoundError now, not a silent wait
  let last: LiveProgress | null = null;
  const interval = opts.intervalMs ?? refreshIntervalMs;
  const aborted = new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }));
  while (!closed && !opts.signal?.aborted) {
    try {
      const snap = await reader.read();
      if (snap) {
        last = snap;
        yield snap;
      }
    } catch {
      /* not answered this time (a worker restarting, a continue-as-new): try again at the next tick */
    }
    if (closed || opts.signal?.aborted) break;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      end,
      new Promise<void>((r) => (timer = setTimeout(r, interval(last?.seeds_running ?? 0)))),
      aborted,
    ]);
    clearTimeout(timer);
  }
  if (opts.signal?.aborted) return;
  await end;
  yield await ended(client, reader.workflowId, runId, last);
}
