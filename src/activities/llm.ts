/**
 * LLM activities (task queue `<base>-llm`): one chat completion per call, no client-side retries —
 * Temporal retries with the delays `classifyLlmError` derives (429 Retry-After, 5xx backoff).
 */
import type OpenAI from 'openai';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  ChooseActionInput,
  ChooseActionResult,
  SynthesizeQaInput,
  SynthesizeQaResult,
  TokenUsage,
} from '../shared/types';
import { buildActionMessages, buildQaMessages, QA_JSON_SCHEMA, withIntent } from '../domain/prompts';
import { parseActionJson, parseQaJson, parseToolCall } from '../domain/parse';
import { classifyLlmError } from '../llm/errors';
import { toolSchemas } from '../tools/registry';
import { withHeartbeat } from './heartbeat';
import { LimiterBusyError, type AdaptiveLimiter } from '../llm/adaptive-limiter';
import { FailureType } from '../shared/constants';

export interface LlmDeps {
  /** Returns the OpenAI-compatible client (created lazily from the worker's environment). */
  client: () => OpenAI;
  /** This worker's adaptive admission control for LLM calls (shared by all its LLM activities). */
  limiter?: AdaptiveLimiter;
}

function usageOf(resp: { usage?: { prompt_tokens?: number; completion_tokens?: number } | null }): TokenUsage {
  return { input_tokens: resp.usage?.prompt_tokens ?? 0, output_tokens: resp.usage?.completion_tokens ?? 0 };
}

export function createLlmActivities(deps: LlmDeps) {
  async function complete(
    body: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
  ): Promise<OpenAI.Chat.Completions.ChatCompletion> {
    const info = Context.current().info;
    const started = Date.now();
    return withHeartbeat(async (signal) => {
      // Never wait in this worker's queue longer than the activity may live: past its timeout the server has
      // given up on this attempt and a call made now would be paid twice. Hand the wait to Temporal instead.
      const maxWait = Math.max(0, (info.startToCloseTimeoutMs || Infinity) - (Date.now() - started) - 1000);
      let release: () => void = () => {};
      if (deps.limiter) {
        try {
          release = await deps.limiter.acquire(signal, maxWait);
        } catch (err) {
          if (!(err instanceof LimiterBusyError)) throw err;
          throw ApplicationFailure.create({
            type: FailureType.RateLimited,
            message: err.message,
            nextRetryDelay: err.retryAfterMs,
          });
        }
      }
      try {
        const resp = await deps.client().chat.completions.create(body, { signal });
        deps.limiter?.onSuccess();
        return resp;
      } catch (err) {
        const failure = classifyLlmError(err, { model: body.model });
        if (failure.type === FailureType.RateLimited) {
          const delay = failure.nextRetryDelay;
          deps.limiter?.onRateLimited(typeof delay === 'number' ? delay : undefined);
        }
        throw failure;
      } finally {
        release();
      }
    });
  }

  return {
    /** Asks the model for the next exploration step: one tool and its arguments, with an intent. */
    async chooseAction(input: ChooseActionInput): Promise<ChooseActionResult> {
      const tools = toolSchemas(input.tools);
      const messages = buildActionMessages(input, tools);
      const base = { model: input.model, messages, temperature: input.temperature, seed: input.sampling_seed };
      if (input.tool_calling === 'native') {
        const resp = await complete({
          ...base,
          tools: tools.map((t) => ({
            type: 'function' as const,
            function: { name: t.name, description: t.description, parameters: withIntent(t.parameters) },
          })),
          tool_choice: 'required',
        });
        const usage = usageOf(resp);
        const call = resp.choices[0]?.message?.tool_calls?.find((c) => c.type === 'function');
        if (!call || call.type !== 'function') {
          // Some models answer in JSON text despite tools; accept that as the original did.
          const text = resp.choices[0]?.message?.content ?? '';
          const fallback = text ? parseActionJson(text, tools) : { ok: false as const, reason: 'no_tool_call' };
          if (!fallback.ok) log.debug('no usable tool call', { reason: fallback.reason });
          return { ...fallback, usage };
        }
        return { ...parseToolCall(call.function.name, call.function.arguments, tools), usage };
      }
      const resp = await complete({ ...base, response_format: { type: 'json_object' } });
      return { ...parseActionJson(resp.choices[0]?.message?.content ?? '', tools), usage: usageOf(resp) };
    },

    /** Turns one selected path into a QA pair (structured JSON output). */
    async synthesizeQa(input: SynthesizeQaInput): Promise<SynthesizeQaResult> {
      const resp = await complete({
        model: input.model,
        messages: buildQaMessages(input),
        temperature: input.temperature,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'qa_synthesis', strict: true, schema: QA_JSON_SCHEMA },
        },
      });
      return { ...parseQaJson(resp.choices[0]?.message?.content ?? ''), usage: usageOf(resp) };
    },
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
