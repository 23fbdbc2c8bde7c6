/**
 * Typed API for scripts: submit batches, follow them, control them.
 *
 *   import { Client, Connection } from '@temporalio/client';
 *   import { submitBatch } from 'qasynth/dist/api';
 *   const client = new Client({ connection: await Connection.connect({ address: '127.0.0.1:7233' }) });
 *   const { workflowId } = await submitBatch(client, { run_id: 'r1', config, seeds, output_dir: '/data/out' });
 *
 * Workflow ids derive from run ids, so submitting the same run id twice is idempotent: a running batch is
 * reused, a completed one is reported (not re-run), a failed or terminated one is started again and
 * resumes from the seeds already finished.
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { batchWorkflowId, DEFAULT_TASK_QUEUE } from './shared/constants';
import type { BatchInput, BatchProgress, BatchResult } from './shared/types';
import { progressQuery, pauseSignal, resumeSignal, setMaxWorkersUpdate } from './workflows/messages';
import type { synthesizeBatch } from './workflows/synthesize-batch';
import { ModeAttr, RunIdAttr } from './shared/search-attributes';

export type BatchHandle = WorkflowHandle<typeof synthesizeBatch>;

export interface SubmitResult {
  workflowId: string;
  handle: BatchHandle;
  /** `started` (new), `running` (already running: reused), `completed` (finished earlier: not re-run). */
  state: 'started' | 'running' | 'completed';
}

export async function submitBatch(
  client: Client,
  input: BatchInput,
  opts: { taskQueue?: string; mode?: string; seedCount?: number } = {},
): Promise<SubmitResult> {
  const workflowId = batchWorkflowId(input.run_id);
  let wasRunning = false;
  try {
    wasRunning = (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch {
    /* not found: a new run */
  }
  try {
    const handle = await client.workflow.start('synthesizeBatch', {
      taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      staticSummary: `qasynth run ${input.run_id}${opts.seedCount ? `: ${opts.seedCount} seeds` : ''}${opts.mode ? `, ${opts.mode} mode` : ''}`,
      typedSearchAttributes: [
        { key: RunIdAttr, value: input.run_id },
        ...(opts.mode ? [{ key: ModeAttr, value: opts.mode }] : []),
      ],
    });
    return { workflowId, handle: handle as BatchHandle, state: wasRunning ? 'running' : 'started' };
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      return { workflowId, handle: client.workflow.getHandle(workflowId) as BatchHandle, state: 'completed' };
    }
    throw e;
  }
}

export function batchHandle(client: Client, runId: string): BatchHandle {
  return client.workflow.getHandle(batchWorkflowId(runId)) as BatchHandle;
}

export const queryProgress = (h: BatchHandle): Promise<BatchProgress> => h.query(progressQuery);
export const pauseBatch = (h: BatchHandle): Promise<void> => h.signal(pauseSignal);
export const resumeBatch = (h: BatchHandle): Promise<void> => h.signal(resumeSignal);
export const setMaxWorkers = (h: BatchHandle, n: number): Promise<number> =>
  h.executeUpdate(setMaxWorkersUpdate, { args: [n] });
export const batchResult = (h: BatchHandle): Promise<BatchResult> => h.result();
