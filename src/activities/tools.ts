/**
 * Tool activities (task queue `<base>-tool-<name>`, one per tool): run one tool call, return a bounded observation.
 * Calls of the network tools (src/cache/key.ts CACHED_TOOLS) go through the worker's call cache when the input
 * asks for it (`cache`): a hit is answered without running the tool; an observation that is not an error is stored.
 */
import type OpenAI from 'openai';
import type { ChatEndpoint } from '../llm/chat';
import { ApplicationFailure } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import type { Observation, RunToolInput } from '../shared/types';
import { FailureType, MODE_TOOLS } from '../shared/constants';
import { executeTool } from '../tools/registry';
import { currentActivity, withHeartbeat } from './heartbeat';
import type { AttemptMemo } from '../tools/tool';
import type { CallCache } from '../cache/store';
import { CACHED_TOOLS, toolCacheKey } from '../cache/key';

export interface ToolDeps {
  /** OpenAI-compatible client for tools that call an LLM (web_visit summaries). */
  llmClient?: () => OpenAI;
  /** The worker's chat endpoint, shared with its LLM activities (capabilities learnt once, one limiter). */
  endpoint?: ChatEndpoint;
  /** The worker's call cache (src/cache/store.ts); null or absent = no caching. */
  cache?: CallCache | null;
  /** Names the LLM endpoint in web_visit's cache keys (see LlmDeps.endpointLabel); default its base URL. */
  endpointLabel?: string;
}

function isObservation(v: unknown): v is Observation {
  const o = v as Observation | null;
  return (
    !!o && typeof o === 'object' && typeof o.text === 'string' &&
    (o.error === undefined || typeof o.error === 'boolean') &&
    (o.sources === undefined || (Array.isArray(o.sources) && o.sources.every((x) => typeof x === 'string'))) &&
    (o.truncated_chars === undefined || typeof o.truncated_chars === 'number') &&
    (o.llm_usage === undefined ||
      (!!o.llm_usage && typeof o.llm_usage.model === 'string' &&
        [o.llm_usage.calls, o.llm_usage.requests, o.llm_usage.input_tokens, o.llm_usage.output_tokens].every((n) => typeof n === 'number')))
  );
}

/**
 * The attempt memo of a running (non-local) tool activity (ToolContext.attemptMemo): its values travel in the
 * activity's heartbeat details as `{memo: {key: value}}` — sent with the next beat, and with the attempt's failure
 * ({@link runWithMemo}) — and the next attempt starts from them. Null outside an activity and in local activities.
 */
function attemptMemo(ctx: Context | null): (AttemptMemo & { values: Record<string, unknown> }) | null {
  if (!ctx || ctx.info.isLocal) return null;
  const prior = (ctx.info.heartbeatDetails as { memo?: unknown } | undefined)?.memo;
  const values: Record<string, unknown> = prior && typeof prior === 'object' && !Array.isArray(prior) ? { ...(prior as Record<string, unknown>) } : {};
  return {
    values,
    get: (key) => values[key],
    set: (key, value) => {
      values[key] = value;
    },
  };
}

/**
 * Runs one tool call with its attempt memo: heartbeats carry the memo, and a failure is preceded by one last beat
 * with it (Temporal hands the last heartbeat details to the next attempt), so what the attempt paid for is found
 * again by the retry.
 */
async function runWithMemo(run: (memo: AttemptMemo | undefined, signal: AbortSignal) => Promise<Observation>): Promise<Observation> {
  const ctx = currentActivity();
  const memo = attemptMemo(ctx);
  const details = () => (memo && Object.keys(memo.values).length ? { memo: memo.values } : undefined);
  try {
    return await withHeartbeat((signal) => run(memo ?? undefined, signal), details);
  } catch (err) {
    const d = details();
    if (d) ctx!.heartbeat(d);
    throw err;
  }
}

export function createToolActivities(deps: ToolDeps = {}) {
  return {
    async runTool(input: RunToolInput): Promise<Observation> {
      if (!MODE_TOOLS[input.mode]?.includes(input.tool_name)) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          nonRetryable: true,
          message: `tool ${input.tool_name} is not available in ${input.mode} mode (valid: ${MODE_TOOLS[input.mode]?.join(', ')})`,
        });
      }
      const run = () =>
        runWithMemo((memo, signal) =>
          executeTool(input.tool_name, input.parameters, {
            environment_kwargs: input.environment_kwargs,
            signal,
            ...(deps.llmClient ? { llm: { client: deps.llmClient, model: input.summary_model, endpoint: deps.endpoint } } : {}),
            ...(memo ? { attemptMemo: memo } : {}),
          }),
        );
      const cache = deps.cache;
      if (!cache || !input.cache || !CACHED_TOOLS.has(input.tool_name)) return run();
      const key = toolCacheKey({
        tool_name: input.tool_name,
        parameters: input.parameters,
        environment_kwargs: input.environment_kwargs,
        ...(input.tool_name === 'web_visit'
          ? { summary: { model: input.summary_model, endpoint: deps.endpointLabel ?? deps.llmClient?.().baseURL ?? '' } }
          : {}),
      });
      const hit = await cache.get(key, isObservation);
      // A hit paid nothing: its summary calls are still calls (as LLM cache hits are), with no requests or tokens.
      if (hit) return { ...hit, cache: 'hit', ...(hit.llm_usage ? { llm_usage: { ...hit.llm_usage, requests: 0, input_tokens: 0, output_tokens: 0 } } : {}) };
      const obs = await run();
      // Errors are never stored: the next run tries again.
      if (!obs.error) await cache.put(key, obs);
      return { ...obs, cache: 'miss' };
    },
  };
}

export type ToolActivities = ReturnType<typeof createToolActivities>;
