/**
 * The batch's bookkeeping, as pure functions the parent workflow calls (and unit tests cover without Temporal):
 * counters of finished seeds, the window of running seeds, and the pages in which seeds are fetched.
 */
import type { BatchCarry, BatchCounters, FailedSeedNote, RunningSeed, SeedSummary } from '../shared/types';

/** Counters of a batch that has finished nothing yet. */
export function emptyBatchCounters(): BatchCounters {
  return {
    seeds_done: 0,
    seeds_succeeded: 0,
    seeds_failed: 0,
    seeds_no_qa: 0,
    seeds_budget_exhausted: 0,
    seeds_cached: 0,
    qa: 0,
    trajectories: 0,
    llm_calls: 0,
    llm_requests: 0,
    tool_calls: 0,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: 0,
  };
}

/** Adds one finished seed to the counters (in place). */
export function countSeed(c: BatchCounters, s: SeedSummary): void {
  c.seeds_done += 1;
  if (s.status === 'succeeded') c.seeds_succeeded += 1;
  else if (s.status === 'budget_exhausted') c.seeds_budget_exhausted += 1;
  else if (s.status === 'no_qa') c.seeds_no_qa = (c.seeds_no_qa ?? 0) + 1;
  else c.seeds_failed += 1;
  if (s.cached) c.seeds_cached += 1;
  c.qa += s.qa_count;
  c.trajectories += s.trajectory_count;
  c.llm_calls += s.llm_calls;
  c.llm_requests = (c.llm_requests ?? 0) + Math.max(s.llm_requests ?? 0, s.llm_calls - (s.llm_cache_hits ?? 0));
  c.tool_calls += s.tool_calls;
  c.input_tokens += s.input_tokens ?? 0;
  c.output_tokens += s.output_tokens ?? 0;
  c.cost_usd += s.cost_usd ?? 0;
}

/** Most failed seeds the parent keeps by name (the newest; carried across continue-as-new). */
export const FAILED_SEEDS_SHOWN = 20;

/**
 * Notes a failed or no-QA seed by name in `state.failed_seeds` (in place; the oldest dropped past
 * FAILED_SEEDS_SHOWN; the error cut to 160 characters). Other seeds are ignored.
 */
export function noteFailedSeed(state: Pick<BatchCarry, 'failed_seeds'>, s: SeedSummary): void {
  if (s.status !== 'failed' && s.status !== 'no_qa') return;
  const note: FailedSeedNote = { source_id: s.source_id, status: s.status };
  if (s.error_type) note.error_type = s.error_type;
  if (s.error) note.error = s.error.length > 160 ? `${s.error.slice(0, 159)}…` : s.error;
  const list = (state.failed_seeds ??= []);
  list.push(note);
  if (list.length > FAILED_SEEDS_SHOWN) list.splice(0, list.length - FAILED_SEEDS_SHOWN);
}

/**
 * The seeds that are running, by source id. The parent carries them across continue-as-new (≤ max_workers
 * entries), so the window keeps running through it; children report their end by signal, by workflow id.
 */
export class RunningWindow {
  private readonly bySource = new Map<string, RunningSeed>();

  constructor(carried: readonly RunningSeed[] = []) {
    for (const r of carried) this.bySource.set(r.source_id, r);
  }

  get size(): number {
    return this.bySource.size;
  }

  has(sourceId: string): boolean {
    return this.bySource.has(sourceId);
  }

  add(r: RunningSeed): void {
    this.bySource.set(r.source_id, r);
  }

  /** Removes a seed; returns it, or undefined when it was not running (a duplicate or late report). */
  take(sourceId: string): RunningSeed | undefined {
    const r = this.bySource.get(sourceId);
    this.bySource.delete(sourceId);
    return r;
  }

  /** What to carry across continue-as-new. */
  toCarry(): RunningSeed[] {
    return [...this.bySource.values()];
  }

  ids(): string[] {
    return [...this.bySource.keys()];
  }

  /** Running seeds started by an earlier run of the parent (no child handle here: watched by inspection). */
  inherited(currentRunId: string): RunningSeed[] {
    return [...this.bySource.values()].filter((r) => r.parent_run_id !== currentRunId);
  }
}

/**
 * Most seeds fetched per page, and most bytes of seed text per page (a page is an activity result: Temporal's
 * payload limit is 2 MB, its warning threshold 256 KB).
 */
export const SEED_PAGE = { max_seeds: 500, max_bytes: 512 * 1024 } as const;
