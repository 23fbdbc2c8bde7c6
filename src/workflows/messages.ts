/** Queries, signals and updates of `synthesizeBatch`; importable by clients (the CLI) and workflows alike. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchProgress, SeedLiveProgress, SeedSummary } from '../shared/types';

/** Current counters, running seeds, pause state. */
export const progressQuery = defineQuery<BatchProgress>('progress');
/** Stop launching new seeds; running seeds finish. */
export const pauseSignal = defineSignal('pause');
/** Launch seeds again after `pause`. */
export const resumeSignal = defineSignal('resume');
/**
 * The answer of `setMaxWorkers`: the value before and the value now in force. (Workers older than this answered
 * with the previous value alone, a number; `scaleBatch` in src/api.ts accepts both.)
 */
export interface MaxWorkersChange {
  previous: number;
  current: number;
}
/**
 * Change how many seeds run at once; returns `{previous, current}`. Rejects values outside 1..MAX_WORKERS_LIMIT
 * (2,000, src/workflows/synthesize-batch.ts).
 */
export const setMaxWorkersUpdate = defineUpdate<MaxWorkersChange | number, [number]>('setMaxWorkers');
/**
 * Run the failed, no-QA and not-run seeds again once the current pass is done (the run continues as new with
 * `retry_failed`); finished seeds are kept. Rejected once the run has finished: start it again with
 * `retry_failed` instead. Returns the progress at the time of the request.
 */
export const retryFailedUpdate = defineUpdate<{ seeds_done: number; seeds_total: number }, []>('retryFailed');
/**
 * A seed workflow started by a sliding-window parent reports its end here, by the parent's workflow id, so the
 * report reaches the parent's latest run after a continue-as-new (Temporal's batch-sliding-window pattern).
 */
export const seedFinishedSignal = defineSignal<[SeedSummary]>('seedFinished');
/**
 * Sent by a sliding-window parent to a seed it started with `report_by_result` (the seed reports by its own end,
 * which reaches only the run that started it): report by signal from now on. Sent to every such seed still running
 * once the parent's continue-as-new is due, and to a seed a restarted execution of the run finds already running.
 */
export const reportBySignalSignal = defineSignal('reportBySignal');
/** A seed workflow that was cancelled reports that it stopped (its seed counts as not run). */
export const seedStoppedSignal = defineSignal<[{ source_id: string }]>('seedStopped');
/**
 * A seed workflow's counters so far (LLM calls, tokens, cost, nodes, QA, phase): the live view sums them over the
 * running seeds the parent's `progress` query lists. A query adds no event to any history.
 */
export const seedProgressQuery = defineQuery<SeedLiveProgress>('seedProgress');
