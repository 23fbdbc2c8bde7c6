/**
 * The batch's bookkeeping, as pure functions the parent workflow calls (and unit tests cover without Temporal):
 * counters of finished seeds, the window of running seeds, and the pages in which seeds are fetched.
 */
import type { BatchCarry, BatchCounters, FailedSeedNote, RunningSeed, SeedSummary } from '../shared/types';
import { TEMPORAL_LIMITS } from './limits';

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

/**
 * When the parent continues as new (sliding window, executions with the `qasynth-continue-as-new-room` patch), in
 * events of its current run's history:
 * - `due`: from here on the parent tops the window up (at most max_workers more starts) and then continues as new;
 * - `hard`: no more starts past this; the run ends as soon as the starts on their way are acknowledged.
 *
 * What still lands in the history after the last start is bounded by the window: each seed of the run adds up to
 * four events (start initiated, child started, then child ended and its report signal — or, with seeds that report
 * by their completion, child ended, or the `reportBySignal` request to a seed still running, initiated and
 * acknowledged) and the workflow tasks that take them in add a few more. `hard` leaves `EVENTS_PER_SEED_TAIL` ×
 * max_workers + `EVENTS_TAIL_MARGIN` of room below the bound, so that every run of the parent stays under 10% of the server's history event limit (51,200 ×
 * 0.1 = 5,120; issue 9), whatever the server's speed. Measured before this rule: 5,741 events in one run with
 * max_workers 200 against a dev server on disk (hard stop at a fixed 4,500). Above ~650 workers no threshold can
 * keep a run that small (one window alone is 4 × max_workers events): the floor keeps each run productive.
 */
export function continueAsNewEvents(maxWorkers: number): { due: number; hard: number } {
  const room = Math.floor(TEMPORAL_LIMITS.historyEvents / 10) - EVENTS_PER_SEED_TAIL * maxWorkers - EVENTS_TAIL_MARGIN;
  const hard = Math.max(CONTINUE_AS_NEW_FLOOR_EVENTS, Math.min(CONTINUE_AS_NEW_MAX_EVENTS.hard, room));
  return { due: Math.min(CONTINUE_AS_NEW_MAX_EVENTS.due, hard), hard };
}

/** Events a seed can still add to the parent's run after its start was decided (4, plus workflow-task share). */
const EVENTS_PER_SEED_TAIL = 6;
/** Workflow tasks (3 events each) that take the last starts and reports in. */
const EVENTS_TAIL_MARGIN = 300;
/** The thresholds of the `qasynth-early-continue-as-new` rule (src/workflows/options.ts), kept for small windows. */
export const CONTINUE_AS_NEW_MAX_EVENTS = { due: 3000, hard: 4500 } as const;
/** A run of the parent does at least this much before it continues as new. */
const CONTINUE_AS_NEW_FLOOR_EVENTS = 1000;
