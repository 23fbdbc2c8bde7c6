/**
 * The run's circuit breaker (config `pause_after_failures`): a failure that hits every seed — a wrong API key,
 * a model the endpoint does not serve, a search provider refusing every request, a model that never produces
 * usable JSON — should cost a few seeds, not all of them. Pure; the parent workflow keeps the state.
 *
 * The breaker counts finished seeds in completion order: a seed that failed or ended without QA extends the run
 * of its error kind (`error_type`), a success or a different kind starts over. When the run reaches the limit,
 * the parent pauses itself with {@link breakerReason}; `resume` clears it.
 */
import type { SeedSummary } from '../shared/types';

export interface BreakerState {
  /** The error kind of the current run of failures. */
  error_type: string;
  /** How many seeds in a row ended with it. */
  count: number;
}

/** The error kind of a finished seed, or null when it succeeded (or was stopped by the budget). */
export function seedErrorKind(s: Pick<SeedSummary, 'status' | 'error_type'>): string | null {
  if (s.status === 'failed') return s.error_type ?? 'failed';
  if (s.status === 'no_qa') return s.error_type ?? 'no_qa';
  return null;
}

/** The breaker state after one more finished seed (undefined = no failure run in progress). */
export function breakerStep(state: BreakerState | undefined, s: Pick<SeedSummary, 'status' | 'error_type'>): BreakerState | undefined {
  const kind = seedErrorKind(s);
  if (kind === null) return undefined;
  if (state && state.error_type === kind) return { error_type: kind, count: state.count + 1 };
  return { error_type: kind, count: 1 };
}

/** Longest error text quoted in the pause reason. */
const MAX_QUOTED_ERROR = 400;

/** What the user reads when the breaker pauses the run: the error, how many seeds it hit, and how to go on. */
export function breakerReason(runId: string, state: BreakerState, last: Pick<SeedSummary, 'error' | 'source_id'>): string {
  const error = (last.error ?? state.error_type).replace(/\s+/g, ' ').trim();
  const quoted = error.length > MAX_QUOTED_ERROR ? `${error.slice(0, MAX_QUOTED_ERROR)}…` : error;
  return (
    `paused by the circuit breaker: ${state.count} seeds in a row ended with the same error (${state.error_type}), ` +
    `last ${last.source_id}: ${quoted}. Nothing more is spent until you resume. Fix the cause, then run ` +
    `\`qasynth resume ${runId}\` (or the same \`qasynth run\` command again); the seeds that failed can be re-run ` +
    `with \`--retry-failed\` once the run has finished.`
  );
}
