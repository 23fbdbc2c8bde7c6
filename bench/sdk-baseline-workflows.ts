/**
 * The bare-SDK baseline's workflow (bundled on its own by bench/sdk-baseline.ts, apart from qasynth's bundle):
 * one workflow that awaits `n` no-op activities in a loop, one at a time, in one of four forms; and `fanOut`, the
 * throughput benchmark's parent / seed / call structure built from it (bench/throughput.ts, "bare SDK").
 */
import { executeChild, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';

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

/** Input of `fanOut`: the throughput benchmark's shape, without qasynth. */
export interface FanOutInput {
  /** `own-queue` (qasynth's default routing of LLM calls) or `local` (`local_llm`). */
  form: LoopForm;
  /** Child workflows ("seeds") to run, at most `max_workers` at a time. */
  seeds: number;
  max_workers: number;
  /** Activities each child awaits in series (the tree's serial LLM calls); each lasts what the worker's activity sleeps. */
  calls_per_seed: number;
}

/**
 * The bare-SDK ceiling of the throughput benchmark: a parent workflow that runs `seeds` child workflows, at most
 * `max_workers` at a time (each lane starts the next child when its child completes), each child awaiting
 * `calls_per_seed` activities in series — qasynth's parent / seed / LLM-call structure with nothing else in it.
 * Returns the number of children run.
 */
export async function fanOut(input: FanOutInput): Promise<number> {
  let next = 0;
  const lanes = Math.max(1, Math.min(input.max_workers, input.seeds));
  const parent = workflowInfo().workflowId;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < input.seeds) {
        const i = next++;
        await executeChild(noopLoop, { workflowId: `${parent}-seed-${i}`, args: [{ form: input.form, n: input.calls_per_seed, other_queue: '' }] });
      }
    }),
  );
  return input.seeds;
}
