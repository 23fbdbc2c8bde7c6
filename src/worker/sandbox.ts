/**
 * The workflow sandbox's execution timeout (the SDK's `isolateExecutionTimeout`, default 5 s): off by default in
 * qasynth workers, on with `--workflow-deadlock-timeout <seconds>`.
 *
 * What it costs: Node enforces a `vm` timeout with a watchdog thread started and joined on every call into the
 * sandbox (nodejs/node#47739, open since 2023), and the SDK makes three calls per workflow activation (activate,
 * tryUnblockConditions, concludeActivation). Idle, a thread is ~40 µs; on a busy machine the workflow thread waits
 * for the watchdog to be scheduled before it can go on, and every seed's next step waits behind it. Measured on this
 * project's bench (2 cores shared with the dev server, 64 seeds in lock-step at 500 ms answers, LLM activities,
 * alternated, 8 runs): 0.64–0.76 of the LLM-bound ideal with the timeout against 0.73–0.79 without; the
 * 3,000-seed saturated scale check is unchanged (93 vs 97 s): the cost is waiting, not CPU.
 *
 * What it guards: a call into workflow code that never returns (an infinite loop — a bug; qasynth runs no user
 * code in workflows and bounds every loop by the config's counts) fails its workflow task after the timeout instead
 * of holding the worker's workflow thread. Without it such a bug stops this worker's workflows (their workflow
 * tasks time out and move to other workers); with it a slow machine can fail a long but finite activation
 * (temporalio/sdk-typescript#140). The guard is off unless asked for.
 *
 * How: `Worker.createWorkflowCreator` is the SDK's protected extension point that builds the sandbox from the
 * compiled worker options; this subclass hands it no timeout, which Node's `vm` reads as "no watchdog".
 */
import { Worker } from '@temporalio/worker';

/** Milliseconds of the sandbox timeout from `--workflow-deadlock-timeout` seconds; null = off (the default). */
export function sandboxTimeoutMs(seconds: number | null | undefined): number | null {
  if (seconds === null || seconds === undefined || seconds === 0) return null;
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`workflow deadlock timeout: expected a number of seconds > 0 (or 0 = off), got ${seconds}`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/** A Worker whose workflow sandbox runs without an execution timeout (see the module comment). */
export class UnguardedSandboxWorker extends Worker {
  protected static override async createWorkflowCreator(
    ...[bundle, compiledOptions, logger]: Parameters<typeof Worker.createWorkflowCreator>
  ): ReturnType<typeof Worker.createWorkflowCreator> {
    // `timeout: undefined` is how Node's vm runs a script without a watchdog; the SDK passes this value through.
    return super.createWorkflowCreator(bundle, { ...compiledOptions, isolateExecutionTimeoutMs: undefined as unknown as number }, logger);
  }
}

/**
 * The Worker class and options for a worker that runs workflows.
 * @param timeoutMs the sandbox timeout (sandboxTimeoutMs), or null for none.
 */
export function workflowWorkerClass(timeoutMs: number | null): { Class: typeof Worker; options: { isolateExecutionTimeout?: number } } {
  return timeoutMs === null ? { Class: UnguardedSandboxWorker, options: {} } : { Class: Worker, options: { isolateExecutionTimeout: timeoutMs } };
}
