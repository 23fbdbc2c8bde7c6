/**
 * LLM activities: one logical chat completion per call, through the worker's {@link ChatEndpoint} (capability
 * fallbacks, answer shapes, usage estimates), with no client-side retries — Temporal retries with the delays
 * `classifyLlmError` derives (429 Retry-After, 5xx backoff).
 *
 * Across retries of one activity (even on another worker) the attempt state travels in the heartbeat details:
 * how many HTTP requests were sent in all (reported as `requests`, so statistics can tell provider requests
 * from logical calls), and the last failure, so that the same request answered with the same failure
 * {@link SAME_FAILURE_LIMIT} times in a row is declared permanent instead of being retried as an outage.
 */
import type OpenAI from 'openai';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  AnswerResult,
  BaselineAnswerInput,
  ChooseActionInput,
  ChooseActionResult,
  JudgeInput,
  JudgeResult,
  LlmCallAccounting,
  SolverStepInput,
  SolverStepResult,
  SynthesizeQaInput,
  SynthesizeQaResult,
} from '../shared/types';
import { buildBaselineMessages, buildJudgeMessages, buildSolverMessages, FINAL_ANSWER_SCHEMA } from '../domain/verification';
import { parseAnswerReply, parseJudgeReply, parseSolverReply } from '../domain/verification-replies';
import { buildActionMessages, buildQaMessages, QA_JSON_SCHEMA, withIntent } from '../domain/prompts';
import { parseActionReply, parseQaReply, ParseReason, type ModelReply } from '../domain/parse';
import { ChatEndpoint, type ChatRequestBody, type ChatResult } from '../llm/chat';
import { classifyLlmError } from '../llm/errors';
import { toolSchemas } from '../tools/registry';
import { withHeartbeat } from './heartbeat';
import type { AdaptiveLimiter } from '../llm/adaptive-limiter';
import { FailureType } from '../shared/constants';

export interface LlmDeps {
  /** Returns the OpenAI-compatible client (created lazily from the worker's environment). */
  client: () => OpenAI;
  /** This worker's adaptive admission control for LLM calls (shared by all its LLM activities). */
  limiter?: AdaptiveLimiter;
  /** The worker's chat endpoint; built from `client` and `limiter` when absent. */
  endpoint?: ChatEndpoint;
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

export function createLlmActivities(deps: LlmDeps) {
  const endpoint = deps.endpoint ?? new ChatEndpoint({
    client: deps.client,
    limiter: deps.limiter,
    warn: (message, meta) => log.warn(message, meta),
  });

  /** One logical call with attempt accounting (see the module comment). */
  async function complete(body: ChatRequestBody): Promise<ChatResult & { requests_total: number }> {
    const ctx = Context.current();
    const info = ctx.info;
    const started = Date.now();
    const state = readState(info.heartbeatDetails);
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
        ctx.heartbeat(state);
        // The workflow learns from the failure how many requests this call cost in all (statistics).
        const details = (failure.details ?? []).filter((d) => !(d && typeof d === 'object' && 'provider_requests' in d));
        (failure as { details: unknown[] }).details = [...details, { provider_requests: state.requests }];
        throw failure;
      }
    }, () => state);
  }

  /**
   * `complete`, except that a prompt the server refuses as too long for its context window is an unusable
   * result (`context_overflow`, final for this prompt) rather than a failure of the whole seed: the branch is
   * given up and what the seed explored elsewhere is kept.
   */
  async function completeOrOverflow(body: ChatRequestBody): Promise<Awaited<ReturnType<typeof complete>> | { overflow: { ok: false; reason: string; usage: { input_tokens: number; output_tokens: number }; requests: number } }> {
    try {
      return await complete(body);
    } catch (err) {
      const f = err as ApplicationFailure;
      const d = (f.details?.[0] ?? {}) as { kind?: unknown };
      const requests = (f.details ?? []).map((x) => (x as { provider_requests?: unknown } | null)?.provider_requests).find((n): n is number => typeof n === 'number') ?? 1;
      if (f instanceof ApplicationFailure && d.kind === 'context_overflow') {
        return { overflow: { ok: false, reason: `${ParseReason.ContextOverflow}: ${f.message}`, usage: { input_tokens: 0, output_tokens: 0 }, requests } };
      }
      throw err;
    }
  }

  /**
   * One call whose reply is read by `parse`: a context overflow or a reply without an answer becomes an unusable
   * result (`ok: false` with the reason), and every result carries the call's accounting.
   */
  async function completeAndParse<T extends { ok: boolean }>(
    body: ChatRequestBody,
    parse: (reply: ModelReply) => T,
  ): Promise<(T | { ok: false; reason: string }) & LlmCallAccounting> {
    const r = await completeOrOverflow(body);
    if ('overflow' in r) return r.overflow;
    const accounting = { usage: r.usage, requests: r.requests_total, ...(r.usage_estimated ? { usage_estimated: true } : {}) };
    if (!r.reply) return { ok: false, reason: r.malformed ?? 'empty_output', ...accounting };
    return { ...parse(r.reply), ...accounting };
  }

  return {
    /** Asks the model for the next exploration step: one tool and its arguments, with an intent. */
    async chooseAction(input: ChooseActionInput): Promise<ChooseActionResult> {
      const tools = toolSchemas(input.tools);
      const messages = buildActionMessages(input, tools);
      const base = {
        model: input.model,
        messages,
        temperature: input.temperature,
        seed: input.sampling_seed,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
      };
      const body: ChatRequestBody =
        input.tool_calling === 'native'
          ? {
              ...base,
              tools: tools.map((t) => ({
                type: 'function' as const,
                function: { name: t.name, description: t.description, parameters: withIntent(t.parameters) },
              })),
              tool_choice: 'required',
            }
          : { ...base, response_format: { type: 'json_object' } };
      return completeAndParse(body, (reply) => {
        const parsed = parseActionReply(reply, tools);
        if (!parsed.ok) log.debug('no usable action in the reply', { reason: parsed.reason });
        return parsed;
      });
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
      }, parseQaReply);
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
      }, parseAnswerReply);
    },

    /**
     * Verification: one step of the solver agent — a call of one of the tools, or a final answer (the pseudo-tool
     * `final_answer`, offered alone when `must_answer`). The workflow runs the tool and calls this again.
     */
    async solverStep(input: SolverStepInput): Promise<SolverStepResult> {
      const tools = input.must_answer ? [FINAL_ANSWER_SCHEMA] : [...toolSchemas(input.tools), FINAL_ANSWER_SCHEMA];
      const base = {
        model: input.model,
        messages: buildSolverMessages(input, tools),
        temperature: input.temperature,
        seed: input.sampling_seed,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
      };
      const body: ChatRequestBody =
        input.tool_calling === 'native'
          ? {
              ...base,
              tools: tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })),
              tool_choice: 'required',
            }
          : { ...base, response_format: { type: 'json_object' } };
      return completeAndParse(body, (reply) => parseSolverReply(reply, tools));
    },

    /** Verification: the LLM judge compares one answer with the reference (for answers the normalised match left open). */
    async judgeAnswer(input: JudgeInput): Promise<JudgeResult> {
      return completeAndParse({
        model: input.model,
        messages: buildJudgeMessages(input.question, input.reference, input.candidate),
        temperature: 0,
        ...(input.max_tokens ? { max_tokens: input.max_tokens } : {}),
        response_format: { type: 'json_object' },
      }, parseJudgeReply);
    },
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
