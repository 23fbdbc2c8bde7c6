/**
 * Activity timeouts and retry policies, each with the reason for its value.
 * Changing these does not change a workflow's command sequence, so running batches replay fine.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { FailureType, NON_RETRYABLE_TYPES } from '../shared/constants';

/**
 * How soon a call whose worker died is retried elsewhere (seconds without a heartbeat). Measured: a running call
 * heartbeats every timeout/3 s (the SDK sends at most one per 0.8 × timeout), so 3 s costs a long call one
 * heartbeat per 2.4 s, and nothing for calls shorter than 1 s; after a kill -9 the restarted worker's first LLM
 * request went out ~4 s later instead of ~22 s (bench "recovery").
 */
export const HEARTBEAT_TIMEOUT_SECONDS = 3;

/**
 * LLM calls: slow models take minutes (start-to-close = config llm_timeout_seconds, default 300); heartbeats
 * let a dead worker's call be retried after HEARTBEAT_TIMEOUT_SECONDS, not 5 min.
 */
export const LLM_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS} seconds`,
  retry: {
    initialInterval: '1 second', // 429s carry their own delay (nextRetryDelay); this is for 5xx/timeouts/dead workers
    backoffCoefficient: 2,
    maximumInterval: '2 minutes', // never wait longer than a provider's usual rate-limit window
    maximumAttempts: 20, // a long outage fails the seed (recorded); resubmitting resumes it
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
};

/** Tool calls (start-to-close = config tool_timeout_seconds, default 120): the python tool's own limit is below it. */
export const TOOL_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS} seconds`,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10, // tool errors are observations; only infrastructure failures retry
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
};

/**
 * Worker-local tools as local activities (calculator, python_interpreter, local_search; see
 * src/domain/routing.ts). Retried in the worker with backoff; a retry later than `localRetryThreshold` becomes a
 * timer, so a long backoff never holds a workflow task.
 */
export const LOCAL_TOOL_ACTIVITY: LocalActivityOptions = {
  startToCloseTimeout: '2 minutes',
  localRetryThreshold: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
};

/**
 * LLM calls as local activities (config `local_llm`, src/domain/routing.ts): the retry policy of LLM_ACTIVITY
 * (a 429's Retry-After still sets the next delay), retried in the worker; a backoff longer than
 * `localRetryThreshold` becomes a server timer, so a long wait never holds a workflow task open.
 */
export const LOCAL_LLM_ACTIVITY: LocalActivityOptions = {
  startToCloseTimeout: '5 minutes',
  localRetryThreshold: '10 seconds',
  retry: LLM_ACTIVITY.retry,
};

/** Output writes: local file I/O; retried on e.g. a full disk until someone frees space. */
export const OUTPUT_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 30,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
};

/**
 * The seed result's write where the workflow runs (writeSeedResultHere, a local activity): a worker without the
 * output folder refuses at once (OutputElsewhere); a write that fails twice more (a full disk) is left to the
 * output queue's activity and its longer retries (OUTPUT_ACTIVITY).
 */
export const LOCAL_OUTPUT_ACTIVITY: LocalActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, FailureType.OutputElsewhere],
  },
};

/**
 * Writing the final files reads every seed's result: ~minutes per million seeds. It heartbeats with its progress,
 * so a dead worker is noticed in a minute, not at the end of the timeout.
 */
export const WRITE_OUTPUTS_ACTIVITY: ActivityOptions = {
  ...OUTPUT_ACTIVITY,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
};

/**
 * The parent continues as new when the server suggests it, or at this many events as a safety net, in executions
 * started before PATCH_EARLY_CONTINUE_AS_NEW. Later executions take their thresholds from CONTINUE_AS_NEW_MAX_EVENTS
 * (3,000 / 4,500), and those with the `qasynth-continue-as-new-room` patch from `continueAsNewEvents(max_workers)`
 * (src/domain/batch.ts), which keeps every run of the parent under 10% of the server's history limits (51,200
 * events / 50 MB; issue 9). Measured: at 10,000 seeds with max_workers 200 a 4,000-event threshold alone let one
 * run reach 5,439 events while seeds kept ending during the top-up; a fixed 4,500-event stop let one reach 5,741
 * against a slower server. Events average ~550 bytes (bench/results/scale.md).
 */
export const LEGACY_CONTINUE_AS_NEW_EVENTS = 8000;
