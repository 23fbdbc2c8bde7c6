/**
 * The one place that reads what an OpenAI-compatible server answered with HTTP 2xx and turns it into a
 * {@link ModelReply}, a malformed-output reason, or a typed failure. (Non-2xx answers and transport errors are
 * classified by `classifyLlmError` in errors.ts.)
 *
 * Shapes accepted, each seen from a real server:
 * - a chat completion (`choices[0].message`), `content` as a string or as content parts;
 * - `reasoning_content` (vLLM, DeepSeek) or `reasoning` (OpenRouter, Ollama) beside or instead of `content`;
 * - `tool_calls[].function.arguments` as a JSON string or an object (llama.cpp), the legacy `function_call`;
 * - a server-sent-event stream (`data: {chunk}` … `data: [DONE]`) sent although `stream` was false (proxies);
 * - `usage` with OpenAI's or Anthropic-style field names, or none (then estimated by the caller).
 * Refused, with the reason:
 * - an HTML page (a base URL that points at a web UI): non-retryable `LlmEndpointMisconfigured`;
 * - a JSON body with only an `error` object (OpenRouter / LiteLLM put upstream errors in a 200): classified by
 *   the error's code like the HTTP status it stands for;
 * - no choices, or a body that is not JSON: retryable `LlmUnavailable` (the activity declares it permanent when
 *   the same request gets the same answer again and again, see src/activities/llm.ts);
 * - an answer larger than MAX_REPLY_CHARS: malformed output (`output_too_large`), re-sampled like bad JSON.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/constants';
import type { ModelReply, RawToolCall } from '../domain/parse';
import { ParseReason } from '../domain/parse';
import { redactSecrets } from './errors';

/**
 * Largest answer (content, or the arguments of one tool call) qasynth keeps, in characters: ~25k tokens, far
 * beyond any real action or QA, and far below Temporal's 2 MB payload limit for the activity result.
 */
export const MAX_REPLY_CHARS = 100_000;

/**
 * Largest response body read, in bytes. Reasoning models may think at length before answering; past this the
 * reading stops and the answer counts as malformed (`output_too_large`).
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Token counts a server reported. */
export interface ReportedUsage {
  input_tokens: number;
  output_tokens: number;
}

/** What a 2xx answer turned out to be. */
export type InterpretedResponse =
  | { kind: 'reply'; reply: ModelReply; usage: ReportedUsage | null }
  | { kind: 'malformed'; reason: string; usage: ReportedUsage | null };

/** A 2xx HTTP answer as read off the wire. */
export interface RawHttpAnswer {
  status: number;
  contentType: string;
  /** The body as text (at most MAX_RESPONSE_BYTES). */
  text: string;
  /** True when the body was longer than MAX_RESPONSE_BYTES and reading stopped. */
  truncated: boolean;
}

export interface InterpretContext {
  model: string;
  /** Endpoint base URL (named in misconfiguration messages; never a key). */
  baseURL: string;
}

function snippet(text: string, max = 200): string {
  const one = redactSecrets(text.replace(/\s+/g, ' ').trim());
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}

function usageOf(body: Record<string, unknown>): ReportedUsage | null {
  const u = body.usage;
  if (!isObject(u)) return null;
  const input = num(u.prompt_tokens) ?? num(u.input_tokens);
  const output = num(u.completion_tokens) ?? num(u.output_tokens);
  if (input === null && output === null) return null;
  return { input_tokens: input ?? 0, output_tokens: output ?? 0 };
}

/** `content` as text: a string, or the text of its content parts (`[{type: "text", text}]`), joined. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (typeof p === 'string' ? p : isObject(p) && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function toolCallsOf(message: Record<string, unknown>): RawToolCall[] {
  const out: RawToolCall[] = [];
  const list = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  for (const c of list) {
    if (!isObject(c)) continue;
    const fn = isObject(c.function) ? c.function : c;
    if (typeof fn.name !== 'string' || !fn.name.trim()) continue;
    out.push({ name: fn.name.trim(), arguments: fn.arguments ?? fn.parameters ?? '' });
  }
  if (!out.length && isObject(message.function_call) && typeof message.function_call.name === 'string') {
    out.push({ name: message.function_call.name, arguments: message.function_call.arguments ?? '' });
  }
  return out;
}

/** Reassembles a chat completion from server-sent-event chunks (`choices[0].delta`), as a non-streamed body. */
export function assembleEventStream(text: string): Record<string, unknown> | null {
  let content = '';
  let reasoning = '';
  let finish: unknown = null;
  let usage: unknown;
  let error: unknown;
  let sawChunk = false;
  const calls = new Map<number, { name: string; arguments: string }>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^data:\s?(.*)$/.exec(line);
    if (!m) continue;
    const data = m[1]!.trim();
    if (!data || data === '[DONE]') continue;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      continue;
    }
    if (!isObject(chunk)) continue;
    sawChunk = true;
    if (chunk.error !== undefined) error = chunk.error;
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null;
    if (!choice) continue;
    if (choice.finish_reason) finish = choice.finish_reason;
    const delta = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : {};
    content += contentText(delta.content);
    if (typeof delta.reasoning_content === 'string') reasoning += delta.reasoning_content;
    else if (typeof delta.reasoning === 'string') reasoning += delta.reasoning;
    if (Array.isArray(delta.tool_calls)) {
      for (const [pos, tc] of delta.tool_calls.entries()) {
        if (!isObject(tc)) continue;
        const index = typeof tc.index === 'number' ? tc.index : pos;
        const cur = calls.get(index) ?? { name: '', arguments: '' };
        const fn = isObject(tc.function) ? tc.function : {};
        if (typeof fn.name === 'string') cur.name += fn.name;
        if (typeof fn.arguments === 'string') cur.arguments += fn.arguments;
        else if (isObject(fn.arguments)) cur.arguments += JSON.stringify(fn.arguments);
        calls.set(index, cur);
      }
    }
  }
  if (!sawChunk) return null;
  const message: Record<string, unknown> = { role: 'assistant', content };
  if (reasoning) message.reasoning_content = reasoning;
  if (calls.size) {
    message.tool_calls = [...calls.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, c]) => ({ id: `call_${i}`, type: 'function', function: c }));
  }
  const body: Record<string, unknown> = { choices: [{ index: 0, message, finish_reason: finish }] };
  if (usage !== undefined) body.usage = usage;
  if (error !== undefined && !content && !calls.size) body.error = error;
  return body;
}

function misconfigured(message: string, details: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.LlmEndpointMisconfigured, nonRetryable: true, message, details: [details] });
}

function unavailable(message: string, details: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.LlmUnavailable, nonRetryable: false, message, details: [details] });
}

/** An `{error: {...}}` body inside a 2xx: classified by its numeric code (or status) like that HTTP status. */
function errorInBody(error: unknown, ctx: InterpretContext): ApplicationFailure {
  const e = isObject(error) ? error : { message: error };
  const message = typeof e.message === 'string' && e.message.trim() ? snippet(e.message, 400) : snippet(JSON.stringify(error), 400);
  const codeRaw = e.code ?? e.status ?? (isObject(e.metadata) ? e.metadata.status : undefined);
  const code = typeof codeRaw === 'number' ? codeRaw : typeof codeRaw === 'string' && /^\d{3}$/.test(codeRaw) ? Number(codeRaw) : null;
  const text = `the LLM endpoint answered HTTP 200 with an error instead of a completion for model "${ctx.model}"` +
    `${code !== null ? ` (code ${code})` : ''}: ${message}`;
  const details = { status: 200, error_code: codeRaw ?? null, model: ctx.model };
  if (code === 429 || /rate.?limit/i.test(String(codeRaw ?? '')) || /rate.?limit/i.test(message)) {
    return ApplicationFailure.create({ type: FailureType.RateLimited, nonRetryable: false, message: text, details: [details] });
  }
  if (code === 401 || code === 403) {
    return ApplicationFailure.create({
      type: FailureType.LlmAuth,
      nonRetryable: true,
      message: `${text}. Fix: check OPENAI_API_KEY and OPENAI_BASE_URL (currently ${ctx.baseURL})`,
      details: [details],
    });
  }
  if (code !== null && code >= 400 && code < 500 && code !== 408 && code !== 409) {
    return ApplicationFailure.create({
      type: FailureType.LlmRequestRejected,
      nonRetryable: true,
      message: `${text}. Fix: check model_name and the request options this endpoint supports`,
      details: [details],
    });
  }
  return unavailable(text, details);
}

/**
 * Interprets a 2xx answer. Returns the reply (or a malformed-output reason, re-sampled by the caller);
 * throws an ApplicationFailure when the answer is not a chat completion at all (see the module comment).
 */
export function interpretChatResponse(raw: RawHttpAnswer, ctx: InterpretContext): InterpretedResponse {
  if (raw.truncated) {
    return { kind: 'malformed', reason: `${ParseReason.OutputTooLarge}: the answer was larger than ${MAX_RESPONSE_BYTES} bytes`, usage: null };
  }
  const text = raw.text.replace(/^\uFEFF/, '');
  const trimmed = text.trimStart();
  const type = raw.contentType.toLowerCase();
  let body: unknown;
  if (type.includes('text/event-stream') || /^data:/.test(trimmed)) {
    body = assembleEventStream(text);
    if (body === null) {
      throw unavailable(`the LLM endpoint answered an event stream with no readable chunk for model "${ctx.model}": ${snippet(text)}`, { status: raw.status });
    }
  } else if (type.includes('html') || /^<(!doctype|html|head|body)\b/i.test(trimmed)) {
    throw misconfigured(
      `the LLM endpoint answered HTTP ${raw.status} with an HTML page, not a chat completion: OPENAI_BASE_URL ` +
        `(${ctx.baseURL}) probably points at a web page or chat UI. Fix: set it to the OpenAI-compatible API root, ` +
        `usually ending in /v1 (e.g. http://host:8000/v1)`,
      { status: raw.status, content_type: raw.contentType, body: snippet(text, 120) },
    );
  } else {
    try {
      body = JSON.parse(text);
    } catch {
      throw unavailable(
        `the LLM endpoint answered HTTP ${raw.status} with a body that is not JSON for model "${ctx.model}": ` +
          `${snippet(text) || '(empty body)'}`,
        { status: raw.status, content_type: raw.contentType },
      );
    }
  }
  if (!isObject(body)) {
    throw unavailable(`the LLM endpoint answered with JSON that is not a chat completion object for model "${ctx.model}": ${snippet(text)}`, { status: raw.status });
  }
  const usage = usageOf(body);
  const choices = Array.isArray(body.choices) ? body.choices : null;
  if (body.error !== undefined && body.error !== null && (!choices || choices.length === 0)) throw errorInBody(body.error, ctx);
  const choice = choices?.find(isObject);
  if (!choice) {
    throw unavailable(`the LLM endpoint answered with no choices for model "${ctx.model}": ${snippet(text)}`, { status: raw.status });
  }
  const message = isObject(choice.message) ? choice.message : isObject(choice.delta) ? choice.delta : null;
  const reply: ModelReply = {
    content: message ? contentText(message.content) : typeof choice.text === 'string' ? choice.text : '',
    reasoning: message
      ? typeof message.reasoning_content === 'string'
        ? message.reasoning_content
        : typeof message.reasoning === 'string'
          ? message.reasoning
          : ''
      : '',
    tool_calls: message ? toolCallsOf(message) : [],
    finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
  };
  if (!message && typeof choice.text !== 'string') {
    throw unavailable(`the LLM endpoint answered a choice without a message for model "${ctx.model}": ${snippet(text)}`, { status: raw.status });
  }
  const biggest = Math.max(
    reply.content.length,
    ...reply.tool_calls.map((c) => (typeof c.arguments === 'string' ? c.arguments.length : JSON.stringify(c.arguments ?? '').length)),
  );
  if (biggest > MAX_REPLY_CHARS) {
    return {
      kind: 'malformed',
      reason: `${ParseReason.OutputTooLarge}: the answer has ${biggest} characters (qasynth keeps at most ${MAX_REPLY_CHARS})`,
      usage,
    };
  }
  // Reasoning is only read when the answer is missing from content; keep what is stored bounded.
  if (reply.reasoning.length > MAX_REPLY_CHARS) reply.reasoning = reply.reasoning.slice(-MAX_REPLY_CHARS);
  return { kind: 'reply', reply, usage };
}
