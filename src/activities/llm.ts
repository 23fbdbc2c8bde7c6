/**
 * LLM activities: one logical chat completion per call, through the worker's {@link ChatEndpoint} (capability
 * fallbacks, answer shapes, usage estimates), with no client-side retries — Temporal retries with the delays
 * `classifyLlmError` derives (429 Retry-After, 5xx backoff).
 *
 * Across retries of one activity (even on another worker) the attempt state travels in the heartbeat details:
 * how many HTTP requests were sent in all (reported as `requests`, so statistics can tell provider requests
 * from logical calls), and the last failure, so that the same request answered with the same failure
 * {@link SAME_FAILURE_LIMIT} times in a row is declared permanent instead of being retried as an outage.
 * A local activity (config `local_llm`) has no heartbeat details: its retries run in the same worker, which keeps
 * the state in memory (see LocalAttempts).
 *
 * chooseAction runs the chosen call of an in-call tool itself when its input lists the tool (`in_call_tools`, see
 * src/domain/routing.ts), and returns the observation with the action: one activity per tree node instead of two.
 *
 * With a call cache (deps.cache) and a `cache_place` in the input, a call first looks for its key
 * (src/cache/key.ts): a hit is answered without a request (requests 0, usage 0: nothing is paid); a miss is sent,
 * and a usable reply is stored. Failures, malformed answers and refusals (finish_reason `content_filter`, empty
 * replies) are never stored.
 */
import type OpenAI from 'openai';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  AnswerResult,
  BaselineAnswerInput,
  CacheOutcome,
  ChooseActionInput,
  ChooseActionResult,
  JudgeInput,
  JudgeResult,
  LlmCallAccounting,
  Observation,
  SolverStepInput,
  SolverStepResult,
  SynthesizeQaInput,
  SynthesizeQaResult,
  ToolAction,
} from '../shared/types';
import { buildBaselineMessages, buildJudgeMessages, buildSolverMessages, FINAL_ANSWER_SCHEMA } from '../domain/verification';
import { parseAnswerReply, parseJudgeReply, parseSolverReply } from '../domain/verification-replies';
import { buildActionMessages, buildQaMessages, QA_JSON_SCHEMA, withIntent } from '../domain/prompts';
import { parseActionReply, parseQaReply, ParseReason, type ModelReply } from '../domain/parse';
import { ChatEndpoint, type ChatRequestBody, type ChatResult } from '../llm/chat';
import { classifyLlmError, withProviderRequests } from '../llm/errors';
import { executeTool, toolSchemas } from '../tools/registry';
import { withHeartbeat } from './heartbeat';
import type { AdaptiveLimiter } from '../llm/adaptive-limiter';
import { FailureType } from '../shared/constants';
import type { CallCache } from '../cache/store';
import { llmCacheKey } from '../cache/key';
import type { TokenUsage } from '../shared/types';

export interface LlmDeps {
  /** Returns the OpenAI-compatible client (created lazily from the worker's environment). */
  client: () => OpenAI;
  /** This worker's adaptive admission control for LLM calls (shared by all its LLM activities). */
  limiter?: AdaptiveLimiter;
  /** The worker's chat endpoint; built from `client` and `limiter` when absent. */
  endpoint?: ChatEndpoint;
  /** The worker's call cache (src/cache/store.ts); null or absent = no caching. */
  cache?: CallCache | null;
  /**
   * Names the endpoint in cache keys (src/cache/key.ts); default: the client's base URL. The built-in simulator is
   * named by a fixed label, so runs that each start one on another port share its answers.
   */
  endpointLabel?: string;
}

/** What the cache keeps of a chat answer: enough to rebuild the activity's result. */
interface CachedChat {
  reply: ModelReply;
  /** The usage the call was paid with (for reference; a hit reports 0). */
  usage: TokenUsage;
  usage_estimated: boolean;
}

function isCachedChat(v: unknown): v is CachedChat {
  const c = v as CachedChat | null;
  const r = c?.reply;
  return (
    !!c && typeof c === 'object' && !!r && typeof r === 'object' &&
    typeof r.content === 'string' && typeof r.reasoning === 'string' && Array.isArray(r.tool_calls) &&
    (r.finish_reason === null || typeof r.finish_reason === 'string') &&
    !!c.usage && typeof c.usage.input_tokens === 'number' && typeof c.usage.output_tokens === 'number'
  );
}

/**
 * True for an answer the cache may keep: a well-formed reply with content or tool calls that is not a refusal
 * (finish_reason `content_filter`). Malformed and empty answers are re-sampled, not replayed.
 */
export function cacheableReply(r: Pick<ChatResult, 'reply' | 'malformed'>): r is { reply: ModelReply; malformed?: undefined } {
  if (!r.reply || r.malformed) return false;
  if (r.reply.finish_reason === 'content_filter') return false;
  return r.reply.content.trim() !== '' || r.reply.tool_calls.length > 0;
}

/**
 * How many times in a row the same request may get the same non-transient failure (an HTTP 500 with the same
 * body, a 200 that is not a chat completion) before it counts as permanent. Gateway statuses (502/503/504),
 * timeouts, connection errors and 429s never count: those are outages, retried for as long as the policy allows.
 */
export const SAME_FAILURE_LIMIT = 3;

/** What one activity remembers across its attempts (heartbeat details). */
interface AttemptState {
  requests: number;
  failure?: string;
  repeats: number;
}

/**
 * Attempt state of local activities, by workflow run and activity id, kept in memory between the retries the
 * worker runs itself. Bounded: an entry is dropped when its call ends, and the oldest beyond `max` (calls whose
 * workflow moved to another worker) are forgotten — their count then starts again, which only delays the
 * "same failure" verdict.
 */
export class LocalAttempts {
  private readonly states = new Map<string, AttemptState>();
  constructor(private readonly max = 10_000) {}
  /** The state of `key`, or a fresh one. */
  get(key: string): AttemptState {
    return this.states.get(key) ?? { requests: 0, repeats: 0 };
  }
  /** Keeps `state` for the next attempt of `key`. */
  set(key: string, state: AttemptState): void {
    this.states.delete(key);
    this.states.set(key, state);
    while (this.states.size > this.max) this.states.delete(this.states.keys().next().value!);
  }
  /** Forgets `key` (its call ended). */
  delete(key: string): void {
    this.states.delete(key);
  }
}

/** The key of a local activity's attempt state: its workflow run and activity id (unique within the run). */
function localKey(info: Context['info']): string {
  return `${info.workflowExecution?.runId ?? ''}/${info.activityId}`;
}

function readState(raw: unknown): AttemptState {
  const d = (raw && typeof raw === 'object' ? raw : {}) as Partial<AttemptState>;
  return {
    requests: typeof d.requests === 'number' ? d.requests : 0,
    failure: typeof d.failure === 'string' ? d.failure : undefined,
    repeats: typeof d.repeats === 'number' ? d.repeats : 0,
  };
}

/** The signature of a failure that may repeat deterministically, or null for outage-like failures. */
function repeatableSignature(f: ApplicationFailure): string | null {
  if (f.type !== FailureType.LlmUnavailable) return null;
  const d = (f.details?.[0] ?? {}) as { status?: unknown; kind?: unknown };
  if (d.status !== 500 && d.status !== 200) return null;
  return `${d.status} ${f.message.slice(0, 300)}`;
}

/**
 * The request of a call that must choose a tool: with `tool_calling: "native"` the tools as OpenAI function
 * definitions and `tool_choice: "required"`; with `"json"` a JSON-object answer (the tools are in the prompt).
 */
function toolCallBody(
  input: { model: string; temperature: number; sampling_seed?: number; max_tokens?: number | null; tool_calling: string },
  messages: ChatRequestBody['messages'],
  tools: { name: string; description: string; parameters: Record<string, unknown> }[],
): ChatRequestBody {
  const base = {
    model: input.model,
    messages,
    temperature: input.temperature,
    seed: input.sampling_seed,
    ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
  };
  return input.tool_calling === 'native'
    ? {
        ...base,
        tools: tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })),
        tool_choice: 'required',
      }
    : { ...base, response_format: { type: 'json_object' } };
}

export function createLlmActivities(deps: LlmDeps) {
  const endpoint = deps.endpoint ?? new ChatEndpoint({
    client: deps.client,
    limiter: deps.limiter,
    warn: (message, meta) => log.warn(message, meta),
  });

  const cache = deps.cache ?? null;
  const localAttempts = new LocalAttempts();
  let warnedNoCache = false;
  let label: string | null = deps.endpointLabel ?? null;
  const endpointLabel = () => (label ??= deps.client().baseURL);

  /** One logical call with attempt accounting and the call cache (see the module comment). */
  async function complete(body: ChatRequestBody, place?: string): Promise<ChatResult & { requests_total: number; cache?: CacheOutcome }> {
    const ctx = Context.current();
    const info = ctx.info;
    const started = Date.now();
    const state = info.isLocal ? localAttempts.get(localKey(info)) : readState(info.heartbeatDetails);
    if (info.isLocal && !cache && !warnedNoCache) {
      warnedNoCache = true;
      log.warn(
        'LLM calls run as local activities (config local_llm) on a worker without a call cache: if this worker dies, ' +
          'the calls its seeds made since their last workflow task are made and paid again. Fix: start workers with ' +
          '--cache-dir (a folder they share), or set local_llm: false in the config',
      );
    }
    const key = cache && place ? llmCacheKey({ endpoint: endpointLabel(), body, place }) : null;
    if (key) {
      const hit = await cache!.get(key, isCachedChat);
      if (hit) {
        return {
          reply: hit.reply,
          usage: { input_tokens: 0, output_tokens: 0 },
          usage_estimated: false,
          requests: 0,
          adjustments: [],
          requests_total: state.requests,
          cache: 'hit',
        };
      }
    }
    const result = await send(body, ctx, info, started, state);
    if (key && cacheableReply(result)) {
      // Awaited: the next call of this seed starts only once this answer is on disk, so a kill -9 repays at most
      // the call each seed has in flight (the crash test's limit).
      await cache!.put(key, { reply: result.reply, usage: result.usage, usage_estimated: result.usage_estimated } satisfies CachedChat);
    }
    return key ? { ...result, cache: 'miss' } : result;
  }

  /** Sends one logical call (retries of its attempt state in the heartbeat details). */
  async function send(
    body: ChatRequestBody,
    ctx: Context,
    info: Context['info'],
    started: number,
    state: AttemptState,
  ): Promise<ChatResult & { requests_total: number }> {
    return withHeartbeat(async (signal) => {
      // Never run (or wait in this worker's queue) longer than the activity may live: past its timeout the server
      // has given up on this attempt and a call made now would be paid twice. Hand the wait to Temporal instead.
      const remaining = () => Math.max(1000, (info.startToCloseTimeoutMs || 600_000) - (Date.now() - started) - 1000);
      try {
        const result = await endpoint.complete(body, {
          signal,
          timeoutMs: remaining(),
          maxWaitMs: Math.max(0, remaining() - 1000),
          // Counted in the heartbeat details, sent with the next beat or with the attempt's failure (a request of an
          // attempt whose worker died before either is not counted).
          onRequest: () => {
            state.requests += 1;
          },
        });
        if (info.isLocal) localAttempts.delete(localKey(info));
        return { ...result, requests_total: state.requests };
      } catch (err) {
        let failure = classifyLlmError(err, { model: body.model });
        const signature = repeatableSignature(failure);
        if (signature && signature === state.failure) state.repeats += 1;
        else {
          state.failure = signature ?? undefined;
          state.repeats = signature ? 1 : 0;
        }
        if (signature && state.repeats >= SAME_FAILURE_LIMIT) {
          failure = ApplicationFailure.create({
            type: FailureType.LlmEndpointMisconfigured,
            nonRetryable: true,
            message:
              `the LLM endpoint gave the same failure to the same request ${state.repeats} times in a row (${failure.message}). ` +
              'That is not an outage but a request this server cannot serve. Fix: look for this request in the server\'s log; ' +
              'check model_name, tool_calling ("native" or "json") and the server\'s chat template / tool-call parser',
            cause: failure,
            details: [{ provider_requests: state.requests }],
          });
        }
        if (!info.isLocal) ctx.heartbeat(state);
        else if (failure.nonRetryable) localAttempts.delete(localKey(info));
        else localAttempts.set(localKey(info), state);
        // The workflow learns from the failure how many requests this call cost in all (statistics).
        throw withProviderRequests(failure, state.requests);
      }
    }, () => state);
  }

  /**
   * `complete`, except that a prompt the server refuses as too long for its context window is an unusable
   * result (`context_overflow`, final for this prompt) rather than a failure of the whole seed: the branch is
   * given up and what the seed explored elsewhere is kept.
   */
  async function completeOrOverflow(body: ChatRequestBody, place?: string): Promise<Awaited<ReturnType<typeof complete>> | { overflow: { ok: false; reason: string; usage: { input_tokens: number; output_tokens: number }; requests: number; cache?: CacheOutcome } }> {
    try {
      return await complete(body, place);
    } catch (err) {
      const f = err as ApplicationFailure;
      const d = (f.details?.[0] ?? {}) as { kind?: unknown };
      const requests = (f.details ?? []).map((x) => (x as { provider_requests?: unknown } | null)?.provider_requests).find((n): n is number => typeof n === 'number') ?? 1;
      if (f instanceof ApplicationFailure && d.kind === 'context_overflow') {
        const outcome: CacheOutcome | undefined = cache && place ? 'miss' : undefined;
        return { overflow: { ok: false, reason: `${ParseReason.ContextOverflow}: ${f.message}`, usage: { input_tokens: 0, output_tokens: 0 }, requests, ...(outcome ? { cache: outcome } : {}) } };
      }
      throw err;
    }
  }

  /**
   * One call whose reply is read by `parse`: a context overflow or a reply without an answer becomes an unusable
   * result (`ok: false` with the reason), and every result carries the call's accounting. `place`: the call's
   * place in the run for the call cache (absent: not cached).
   */
  async function completeAndParse<T extends { ok: boolean }>(
    body: ChatRequestBody,
    parse: (reply: ModelReply) => T,
    place?: string,
  ): Promise<(T | { ok: false; reason: string }) & LlmCallAccounting> {
    const r = await completeOrOverflow(body, place);
    if ('overflow' in r) return r.overflow;
    const accounting = {
      usage: r.usage,
      requests: r.requests_total,
      ...(r.usage_estimated ? { usage_estimated: true } : {}),
      ...(r.cache ? { cache: r.cache } : {}),
    };
    if (!r.reply) return { ok: false, reason: r.malformed ?? 'empty_output', ...accounting };
    return { ...parse(r.reply), ...accounting };
  }

  /**
   * The result of a call that chose `result.action`, with the observation of that action when its tool is one of
   * `inCallTools` (src/domain/routing.ts IN_CALL_TOOLS: pure, in-process) and it ran here as its own activity
   * would; without one when it throws (a configuration problem), which leaves the call to that activity.
   */
  async function withInCallObservation<R extends { action: ToolAction }>(result: R, inCallTools: string[] | undefined): Promise<R & { observation?: Observation }> {
    if (!inCallTools?.includes(result.action.tool_name)) return result;
    try {
      return { ...result, observation: await executeTool(result.action.tool_name, result.action.parameters, { environment_kwargs: {} }) };
    } catch (err) {
      log.debug('in-call tool failed; its own activity will run it', { tool: result.action.tool_name, error: String(err) });
      return result;
    }
  }

  return {
    /** Asks the model for the next exploration step: one tool and its arguments, with an intent. */
    async chooseAction(input: ChooseActionInput): Promise<ChooseActionResult> {
      const tools = toolSchemas(input.tools);
      const messages = buildActionMessages(input, tools);
      const body = toolCallBody(input, messages, tools.map((t) => ({ ...t, parameters: withIntent(t.parameters) })));
      const result: ChooseActionResult = await completeAndParse(body, (reply) => {
        const parsed = parseActionReply(reply, tools);
        if (!parsed.ok) log.debug('no usable action in the reply', { reason: parsed.reason });
        return parsed;
      }, input.cache_place);
      return result.ok ? withInCallObservation(result, input.in_call_tools) : result;
    },

    /** Turns one selected path into a QA pair (structured JSON output). */
    async synthesizeQa(input: SynthesizeQaInput): Promise<SynthesizeQaResult> {
      return completeAndParse({
        model: input.model,
        messages: buildQaMessages(input),
        temperature: input.temperature,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'qa_synthesis', strict: true, schema: QA_JSON_SCHEMA },
        },
      }, parseQaReply, input.cache_place);
    },

    /** Verification: the no-tool baseline answers the question from the model's own knowledge (one attempt). */
    async answerBaseline(input: BaselineAnswerInput): Promise<AnswerResult> {
      return completeAndParse({
        model: input.model,
        messages: buildBaselineMessages(input.question),
        temperature: input.temperature,
        seed: input.sampling_seed,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
        response_format: { type: 'json_object' },
      }, parseAnswerReply, input.cache_place);
    },

    /**
     * Verification: one step of the solver agent — a call of one of the tools, or a final answer (the pseudo-tool
     * `final_answer`, offered alone when `must_answer`). The workflow runs the tool and calls this again.
     */
    async solverStep(input: SolverStepInput): Promise<SolverStepResult> {
      const tools = input.must_answer ? [FINAL_ANSWER_SCHEMA] : [...toolSchemas(input.tools), FINAL_ANSWER_SCHEMA];
      const result: SolverStepResult = await completeAndParse(toolCallBody(input, buildSolverMessages(input, tools), tools), (reply) => parseSolverReply(reply, tools), input.cache_place);
      return result.ok && result.kind === 'tool' ? withInCallObservation(result, input.in_call_tools) : result;
    },

    /** Verification: the LLM judge compares one answer with the reference (for answers the normalised match left open). */
    async judgeAnswer(input: JudgeInput): Promise<JudgeResult> {
      return completeAndParse({
        model: input.model,
        messages: buildJudgeMessages(input.question, input.reference, input.candidate),
        temperature: 0,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
        response_format: { type: 'json_object' },
      }, parseJudgeReply, input.cache_place);
    },
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
