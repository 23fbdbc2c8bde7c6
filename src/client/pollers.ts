/**
 * Is a worker serving a run? A query or an update to a workflow whose task queue nobody polls waits for the
 * caller's whole deadline (the CLI's `status` waited 31 s and said "Failed to query Workflow"; `scale` hung), so
 * the control commands ask the server first (DescribeTaskQueue) and put a short deadline on what follows.
 */
import type { Client } from '@temporalio/client';
import { batchWorkflowId } from '../shared/constants';
import { cliCommand } from '../cli/command';

/**
 * A poller counts as live when it polled within this many milliseconds. The server lists every poller seen in
 * the last 5 minutes (matching's poller history), and a live idle worker's long poll lasts up to one minute
 * (`matching.longPollExpirationInterval`, 1 min by default), after which it polls again: 70 s covers one full
 * long poll plus slack.
 */
export const LIVE_POLLER_MS = 70_000;

/** Deadline of one DescribeTaskQueue call, in milliseconds. */
export const DESCRIBE_TIMEOUT_MS = 5_000;

/** Deadline of a query or update sent to a run that has a live poller, in milliseconds. */
export const CONTROL_TIMEOUT_MS = 10_000;

/** What the poller checks need of a client: a Temporal `Client`, or a workflow handle's `client`. */
export type ServiceClient = Pick<Client, 'connection' | 'workflowService'> & { options: { namespace: string } };

/** Workers polling a task queue for workflow tasks. */
export interface PollerReport {
  taskQueue: string;
  /** Pollers seen within {@link LIVE_POLLER_MS}. */
  live: number;
  /** Identities of the live pollers (`<pid>@<host>` by default). */
  identities: string[];
  /** Seconds since the most recent poll of any poller still listed by the server, or null when none is. */
  lastSeenSecondsAgo: number | null;
}

/**
 * Nobody polls the run's workflow task queue, so queries and updates cannot be answered (signals and cancel
 * would wait). The message names the queue and the command that starts a worker for it.
 */
export class NoWorkerError extends Error {
  override name = 'NoWorkerError';
  constructor(
    readonly runId: string,
    readonly taskQueue: string,
    what: string,
    readonly lastSeenSecondsAgo: number | null,
  ) {
    super(
      `run ${runId}: no worker is polling task queue ${taskQueue}, so ${what}; ` +
        `start one with \`${workerCommand(taskQueue)}\`` +
        (lastSeenSecondsAgo !== null ? ` (the last worker polled ${lastSeenSecondsAgo} s ago)` : ''),
    );
  }
}

/** A worker polls, but did not answer within the deadline (busy, stuck, or it stopped a moment ago). */
export class WorkerTimeoutError extends Error {
  override name = 'WorkerTimeoutError';
}

/** The command that starts a worker for `taskQueue` (see cliCommand for the form). */
export function workerCommand(taskQueue: string): string {
  return `${cliCommand()} worker${taskQueue === 'qasynth' ? '' : ` --task-queue ${taskQueue}`}`;
}

function millis(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * Asks the server which workers poll `taskQueue` for workflow tasks (bounded by {@link DESCRIBE_TIMEOUT_MS}).
 * Errors of the call itself (server gone, permission denied) are thrown as the SDK reports them.
 */
export async function workflowPollers(client: ServiceClient, taskQueue: string, now = Date.now()): Promise<PollerReport> {
  const res = await client.connection.withDeadline(now + DESCRIBE_TIMEOUT_MS, () =>
    client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: 1 /* TASK_QUEUE_KIND_NORMAL */ },
      taskQueueType: 1 /* TASK_QUEUE_TYPE_WORKFLOW */,
    }),
  );
  let last: number | null = null;
  const identities: string[] = [];
  for (const p of res.pollers ?? []) {
    const at = millis(p.lastAccessTime as { seconds?: unknown; nanos?: number | null } | null);
    if (at === null) continue;
    if (last === null || at > last) last = at;
    if (now - at <= LIVE_POLLER_MS) identities.push(p.identity ?? '(unknown)');
  }
  return {
    taskQueue,
    live: identities.length,
    identities,
    lastSeenSecondsAgo: last === null ? null : Math.max(0, Math.round((now - last) / 1000)),
  };
}

/** The task queue a run's parent workflow is on, and its status; null when no such run exists. */
export async function describeRun(
  client: Client,
  runId: string,
): Promise<{ workflowId: string; taskQueue: string; status: string } | null> {
  const workflowId = batchWorkflowId(runId);
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return { workflowId, taskQueue: d.taskQueue, status: d.status.name };
  } catch (e) {
    if ((e as { name?: string }).name === 'WorkflowNotFoundError') return null;
    throw e;
  }
}

/**
 * Throws {@link NoWorkerError} unless a worker polls `taskQueue` (`what` says what cannot happen without one:
 * "its progress cannot be read").
 */
export async function requireWorker(client: Client, runId: string, taskQueue: string, what: string): Promise<PollerReport> {
  const report = await workflowPollers(client, taskQueue);
  if (report.live === 0) throw new NoWorkerError(runId, taskQueue, what, report.lastSeenSecondsAgo);
  return report;
}

/**
 * Runs `fn` (a query or an update) with a deadline of {@link CONTROL_TIMEOUT_MS}; a deadline exceeded becomes a
 * {@link WorkerTimeoutError} saying what did not answer.
 */
export async function withControlDeadline<T>(client: ServiceClient, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + CONTROL_TIMEOUT_MS, fn);
  } catch (e) {
    if (isDeadlineExceeded(e)) {
      throw new WorkerTimeoutError(`${what}: no worker answered within ${CONTROL_TIMEOUT_MS / 1000} s (a worker polls, but it is busy, stuck or just stopped); try again, or check the workers' logs`, { cause: e });
    }
    throw e;
  }
}

/** gRPC status code 4, DEADLINE_EXCEEDED (grpc/doc/statuscodes.md). */
const GRPC_DEADLINE_EXCEEDED = 4;

function isDeadlineExceeded(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (code === GRPC_DEADLINE_EXCEEDED || code === 'DEADLINE_EXCEEDED') return true;
    if (/deadline exceeded/i.test((cur as Error).message ?? '')) return true;
    cur = (cur as Error).cause;
  }
  return false;
}
