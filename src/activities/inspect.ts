/**
 * `inspectSeed`: what became of a seed workflow that ended without reporting to its parent — terminated by the
 * server (its history outgrew a limit) or by a user, timed out, or failed — read from its history, and recorded
 * as the seed's result with the reason and the LLM calls it made (they were paid). Runs on the output task
 * queue (it writes the seed's result file) and uses the worker's Temporal client.
 */
import { Context, log } from '@temporalio/activity';
import type { temporal } from '@temporalio/proto';
import { emptySeedCounters } from '../domain/statistics';
import type { SeedResultFile, SeedSummary } from '../shared/types';
import { createOutputActivities, readSeedResult, summarize } from './outputs';

/** LLM activity types (their attempts are the provider requests a seed made). */
const LLM_ACTIVITY_TYPES = new Set(['chooseAction', 'synthesizeQa', 'answerBaseline', 'solverStep', 'judgeAnswer']);

/** LLM activities whose result may carry the observation of a tool run inside the call (src/domain/routing.ts). */
const IN_CALL_TYPES = new Set(['chooseAction', 'solverStep']);

type Payload = temporal.api.common.v1.IPayload;

/** The JSON value of a payload (json/plain encoding; bytes, or base64 text in a history read from JSON), else null. */
function payloadJson(p: Payload | null | undefined): unknown {
  const data = p?.data as Uint8Array | string | null | undefined;
  if (!data) return null;
  try {
    const text = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Whether a chooseAction / solverStep result ran its tool inside the call (src/domain/routing.ts IN_CALL_TOOLS). */
function ranToolInCall(result: Payload | null | undefined): boolean {
  const r = payloadJson(result) as { observation?: unknown } | null;
  return !!r && typeof r === 'object' && r.observation != null;
}

/** The LLM calls a tool made itself, from a runTool result (Observation.llm_usage: web_visit's summaries). */
function toolLlmCalls(result: Payload | null | undefined): { calls: number; requests: number } {
  const u = (payloadJson(result) as { llm_usage?: { calls?: unknown; requests?: unknown } } | null)?.llm_usage;
  const calls = typeof u?.calls === 'number' ? u.calls : 0;
  return { calls, requests: typeof u?.requests === 'number' ? u.requests : calls };
}

export interface InspectSeedInput {
  /** The seed workflow's id and the run to inspect (the one the parent started). */
  workflow_id: string;
  workflow_run_id?: string;
  run_id: string;
  output_dir: string;
  source_id: string;
  index: number;
  seed_text: string;
}

/** What a closed seed workflow's history says: how it ended, and what it spent. */
export interface SeedHistoryFacts {
  status: string;
  error: string;
  error_type: string;
  llm_calls: number;
  llm_requests: number;
  tool_calls: number;
  started_at: string | null;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * Reads a seed workflow's history one event at a time (a history near its limit is 50 MB: it is never held
 * whole) and says how the workflow ended and what it spent.
 */
export class HistoryFactsReader {
  private readonly scheduled = new Map<string, string>();
  private readonly started = new Map<string, number>();
  private readonly closedIds = new Set<string>();
  private calls = 0;
  private requests = 0;
  private tools = 0;
  private startedAt: string | null = null;
  private closeReason = '';
  private closeType = '';
  private identity = '';

  add(e: HistoryEvent): void {
    const id = String(e.eventId ?? '');
    if (e.workflowExecutionStartedEventAttributes && e.eventTime?.seconds != null) {
      this.startedAt = new Date(Number(e.eventTime.seconds) * 1000).toISOString();
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) this.scheduled.set(id, s.activityType?.name ?? '');
    const st = e.activityTaskStartedEventAttributes;
    if (st) this.started.set(String(st.scheduledEventId ?? ''), st.attempt ?? 1);
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (closed) {
      const sid = String(closed.scheduledEventId ?? '');
      this.closedIds.add(sid);
      const type = this.scheduled.get(sid) ?? '';
      if (LLM_ACTIVITY_TYPES.has(type)) {
        this.calls += 1;
        this.requests += this.started.get(sid) ?? 1;
        if (IN_CALL_TYPES.has(type) && ranToolInCall(e.activityTaskCompletedEventAttributes?.result?.payloads?.[0])) this.tools += 1;
      } else if (type === 'runTool') this.addTool(e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]);
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      // A local activity's marker: sdk-core's data {activity_type, attempt, …} and the result.
      const data = payloadJson(marker.details?.data?.payloads?.[0]) as { activity_type?: unknown; attempt?: unknown } | null;
      const type = typeof data?.activity_type === 'string' ? data.activity_type : 'runTool';
      if (LLM_ACTIVITY_TYPES.has(type)) {
        this.calls += 1;
        this.requests += typeof data?.attempt === 'number' ? data.attempt : 1;
        if (IN_CALL_TYPES.has(type) && ranToolInCall(marker.details?.result?.payloads?.[0])) this.tools += 1;
      } else if (type === 'runTool') this.addTool(marker.details?.result?.payloads?.[0]);
    }
    const term = e.workflowExecutionTerminatedEventAttributes;
    if (term) {
      this.closeType = 'terminated';
      this.closeReason = term.reason ?? '';
      this.identity = term.identity ?? '';
    }
    if (e.workflowExecutionTimedOutEventAttributes) this.closeType = 'timed_out';
    if (e.workflowExecutionFailedEventAttributes) {
      this.closeType = 'failed';
      this.closeReason = e.workflowExecutionFailedEventAttributes.failure?.message ?? '';
    }
    if (e.workflowExecutionCanceledEventAttributes) this.closeType = 'cancelled';
  }

  /** A finished tool call (`result`: its payload, absent when it failed), with the LLM calls it made itself. */
  private addTool(result: Payload | null | undefined): void {
    this.tools += 1;
    const own = toolLlmCalls(result);
    this.calls += own.calls;
    this.requests += own.requests;
  }

  facts(describedStatus: string): SeedHistoryFacts {
    let requests = this.requests;
    // An LLM call scheduled but never closed was in flight at the end: count its request (Temporal records an
    // attempt's start only when the attempt ends, so there is no started event to tell).
    for (const [sid, type] of this.scheduled) if (LLM_ACTIVITY_TYPES.has(type) && !this.closedIds.has(sid)) requests += 1;
    const calls = this.calls;
    const reason = this.closeReason.trim();
    let error: string;
    let errorType: string;
    if (this.closeType === 'terminated' && /history (size|count) exceeds limit/i.test(reason)) {
      errorType = 'HistoryLimit';
      error =
        `terminated by the Temporal server: the seed's workflow history exceeded its limit (${reason}) after ${calls} ` +
        'LLM calls. Fix: a smaller tree (max_depth, branching_factor, depth_threshold); the config check estimates a ' +
        'tree\'s history before a run (README "Limits")';
    } else if (this.closeType === 'terminated') {
      errorType = 'Terminated';
      error = `terminated${this.identity ? ` by ${this.identity}` : ''}${reason ? `: ${reason}` : ''} (after ${calls} LLM calls)`;
    } else if (this.closeType === 'timed_out') {
      errorType = 'Timeout';
      error = `timed out (its workflow run timeout) after ${calls} LLM calls`;
    } else if (this.closeType === 'failed') {
      errorType = 'WorkflowFailed';
      error = `the seed workflow failed: ${reason || 'no message'} (after ${calls} LLM calls)`;
    } else if (this.closeType === 'cancelled') {
      errorType = 'Cancelled';
      error = `cancelled after ${calls} LLM calls`;
    } else {
      errorType = 'Unknown';
      error = `ended (${describedStatus}) without reporting a result`;
    }
    return { status: describedStatus, error, error_type: errorType, llm_calls: calls, llm_requests: Math.max(requests, calls), tool_calls: this.tools, started_at: this.startedAt };
  }
}

/** The facts of a whole history (tests). */
export function historyFacts(events: Iterable<HistoryEvent>, describedStatus: string): SeedHistoryFacts {
  const reader = new HistoryFactsReader();
  for (const e of events) reader.add(e);
  return reader.facts(describedStatus);
}

export function createInspectActivities() {
  const outputs = createOutputActivities();
  return {
    /** Which of these workflows have closed (the others are running, or unknown to the server). */
    async closedSeedWorkflows(input: { workflow_ids: string[] }): Promise<string[]> {
      const client = Context.current().client;
      const closed: string[] = [];
      for (const id of input.workflow_ids) {
        try {
          const d = await client.workflow.getHandle(id).describe();
          if (d.status.name !== 'RUNNING') closed.push(id);
        } catch (e) {
          log.warn('could not describe a seed workflow', { workflow_id: id, error: (e as Error).message });
        }
      }
      return closed;
    },

    /**
     * Records the result of a seed workflow that ended without reporting (see the module comment) and returns
     * its summary. When the seed wrote its own result before it ended, that result is returned as it is.
     */
    async inspectSeed(input: InspectSeedInput): Promise<SeedSummary> {
      const client = Context.current().client;
      const handle = client.workflow.getHandle(input.workflow_id, input.workflow_run_id);
      const desc = await handle.describe();
      const ownResult = readSeedResult(input.output_dir, input.run_id, input.source_id);
      if (ownResult && Date.parse(ownResult.started_at) >= desc.startTime.getTime() - 1000) {
        return summarize(ownResult, false);
      }
      // Page through the history without holding all of it (a history near its limit is 50 MB).
      const pages = async function* (): AsyncGenerator<HistoryEvent> {
        let token: Uint8Array | undefined;
        do {
          const res = await client.workflowService.getWorkflowExecutionHistory({
            namespace: client.options.namespace,
            execution: { workflowId: input.workflow_id, runId: desc.runId },
            nextPageToken: token,
            maximumPageSize: 1000,
          });
          for (const e of res.history?.events ?? []) yield e;
          token = res.nextPageToken?.length ? res.nextPageToken : undefined;
          Context.current().heartbeat();
        } while (token);
      };
      const reader = new HistoryFactsReader();
      for await (const e of pages()) reader.add(e);
      const facts = reader.facts(desc.status.name);
      log.warn('a seed workflow ended without reporting', { workflow_id: input.workflow_id, error_type: facts.error_type });
      const counters = { ...emptySeedCounters(), llm_calls: facts.llm_calls, llm_requests: facts.llm_requests };
      if (facts.tool_calls) counters.tool_calls = { unknown: facts.tool_calls };
      const result: SeedResultFile = {
        run_id: input.run_id,
        source_id: input.source_id,
        index: input.index,
        seed_data: input.seed_text,
        status: 'failed',
        error: facts.error,
        error_type: facts.error_type,
        started_at: facts.started_at ?? desc.startTime.toISOString(),
        finished_at: (desc.closeTime ?? new Date()).toISOString(),
        qas: [],
        trajectories: [],
        counters,
      };
      return outputs.writeSeedResult({ output_dir: input.output_dir, result });
    },
  };
}

export type InspectActivities = ReturnType<typeof createInspectActivities>;
