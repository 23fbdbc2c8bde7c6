/**
 * The bare-SDK baseline's workflow (bundled on its own by bench/sdk-baseline.ts, apart from qasynth's bundle):
 * one workflow that awaits `n` no-op activities in a loop, one at a time, in one of four forms.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

/** The no-op activity every form calls. */
export interface NoopActivities {
  noop(): Promise<void>;
}

/**
 * - `other-queue`: a normal activity on another task queue than the workflow's (one more matching round trip);
 * - `own-queue`: a normal activity on the workflow's own task queue, which the server may hand back in the
 *   workflow-task completion response (eager dispatch, when the worker has a free activity slot);
 * - `own-queue-no-eager`: the same with `allowEagerDispatch: false` (what eager dispatch saves);
 * - `local`: a local activity (run by the worker inside the workflow task; no server task of its own).
 */
export type LoopForm = 'other-queue' | 'own-queue' | 'own-queue-no-eager' | 'local';

export interface NoopLoopInput {
  form: LoopForm;
  /** Activities to await, one after the other. */
  n: number;
  /** The other task queue (form `other-queue`). */
  other_queue: string;
}

/** Awaits `n` no-op activities of the given form in a loop. */
export async function noopLoop(input: NoopLoopInput): Promise<number> {
  const timeouts = { startToCloseTimeout: '10 seconds' } as const;
  const acts =
    input.form === 'local'
      ? proxyLocalActivities<NoopActivities>(timeouts)
      : proxyActivities<NoopActivities>({
          ...timeouts,
          ...(input.form === 'other-queue' ? { taskQueue: input.other_queue } : {}),
          ...(input.form === 'own-queue-no-eager' ? { allowEagerDispatch: false } : {}),
        });
  for (let i = 0; i < input.n; i++) await acts.noop();
  return input.n;
}
