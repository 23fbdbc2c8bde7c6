/**
 * `ChatEndpoint`: every chat completion qasynth makes goes through here (action choice, QA synthesis, web_visit
 * summaries). One call = one logical LLM call, which may take more than one HTTP request:
 *
 * 1. **Admission**: the worker's adaptive limiter (429s and timeouts slow the whole worker down).
 * 2. **Capability fallback**: servers that reject a request feature qasynth can do without answer 400/422/500
 *    to it; the same request is then sent once more without that feature, and when that works the feature is
 *    remembered as unsupported for this endpoint and model (logged once per worker) so later calls skip it:
 *    `tool_choice: "required"` → `"auto"` (llama-cpp-python's chatml-function-calling answers "required" with
 *    HTTP 500), `response_format` `json_schema` → `json_object` → none.
 * 3. **Reading the answer**: src/llm/response.ts (shapes, sizes, HTML, errors in a 200).
 * 4. **Usage**: what the server reported, else an estimate (src/llm/usage.ts), flagged as such.
 * Failures are thrown as classified ApplicationFailures (src/llm/errors.ts); a malformed 2xx answer is not a
 * failure but a result with `malformed` set, which callers re-sample like any unusable model output.
 */
import type OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { APIConnectionTimeoutError, APIError } from 'openai';
import type { ModelReply } from '../domain/parse';
import type { TokenUsage } from '../shared/types';
import { FailureType } from '../shared/constants';
import { LimiterBusyError, type AdaptiveLimiter } from './adaptive-limiter';
import { classifyLlmError } from './errors';
import { interpretChatResponse, MAX_RESPONSE_BYTES, type RawHttpAnswer } from './response';
import { estimateUsage } from './usage';

/** The chat-completion request body qasynth sends (a subset of OpenAI's). */
export interface ChatRequestBody {
  model: string;
  messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[];
  temperature?: number;
  seed?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  tools?: OpenAI.Chat.Completions.ChatCompletionTool[];
  tool_choice?: OpenAI.Chat.Completions.ChatCompletionToolChoiceOption;
  response_format?: { type: 'json_object' } | { type: 'json_schema'; json_schema: Record<string, unknown> } | { type: 'text' };
}

/** The outcome of one logical call. */
export interface ChatResult {
  /** The answer, or null when it was malformed (see `malformed`). */
  reply: ModelReply | null;
  /** Why the 2xx answer is unusable (`output_too_large: …`); the caller re-samples. */
  malformed?: string;
  usage: TokenUsage;
  /** True when `usage` was estimated because the server reported none. */
  usage_estimated: boolean;
  /** HTTP requests this call sent (≥ 1; more when a capability fallback was needed). */
  requests: number;
  /** Capability fallbacks applied to this call, e.g. `tool_choice:auto`. */
  adjustments: string[];
}

export interface ChatCallOptions {
  signal?: AbortSignal;
  /** Longest the HTTP request may take, in ms (keep it below the activity's start-to-close timeout). */
  timeoutMs: number;
  /** Longest the call may wait for this worker's limiter before handing the wait to Temporal, in ms. */
  maxWaitMs?: number;
  /** Called just before each HTTP request is sent (request accounting). */
  onRequest?: () => void;
}

interface Fallback {
  id: string;
  /** What the fallback does, for the one-time log line. */
  describe: string;
  applies(body: ChatRequestBody): boolean;
  apply(body: ChatRequestBody): ChatRequestBody;
}

/** Request features qasynth can do without, in the order they are given up. */
export const FALLBACKS: readonly Fallback[] = [
  {
    id: 'tool_choice:auto',
    describe: 'tool_choice "required" is refused; sending tool_choice "auto" (answers without a tool call are parsed from the text or re-sampled)',
    applies: (b) => b.tool_choice === 'required',
    apply: (b) => ({ ...b, tool_choice: 'auto' }),
  },
  {
    id: 'response_format:json_object',
    describe: 'response_format "json_schema" is refused; sending "json_object" (the schema stays in the prompt)',
    applies: (b) => b.response_format?.type === 'json_schema',
    apply: (b) => ({ ...b, response_format: { type: 'json_object' } }),
  },
  {
    id: 'response_format:none',
    describe: 'response_format "json_object" is refused; sending no response_format (the JSON is parsed from the text)',
    applies: (b) => b.response_format?.type === 'json_object',
    apply: (b) => {
      const { response_format: _dropped, ...rest } = b;
      return rest;
    },
  },
  {
    id: 'max_completion_tokens',
    describe: 'max_tokens is refused (a reasoning model); sending the same limit as max_completion_tokens',
    applies: (b) => b.max_tokens !== undefined,
    apply: (b) => {
      const { max_tokens, ...rest } = b;
      return { ...rest, max_completion_tokens: max_tokens };
    },
  },
];

/** A 2xx reply with no text, no reasoning and no tool call. */
function isEmptyReply(reply: ModelReply | null): boolean {
  return !!reply && !reply.content.trim() && !reply.reasoning.trim() && reply.tool_calls.length === 0;
}

/** True when an error reads like a refusal of `f`'s feature: no message at all, or one that names it. */
function refusesFeature(err: APIError, f: Fallback): boolean {
  const text = `${err.message.replace(/^\d{3}\s*/, '')} ${typeof err.error === 'object' && err.error ? JSON.stringify(err.error) : String(err.error ?? '')}`;
  const meaningful = text.replace(/status code|\(no body\)|internal server error|"(message|type|code|param)"\s*:\s*("[^"]*"|null)|[{}",:\s]|undefined|null/gi, '');
  // max_tokens is only given up when the server names it: a silent refusal is about another feature.
  if (!meaningful) return f.id !== 'max_completion_tokens';
  const words = f.id.startsWith('tool_choice')
    ? /tool_choice|required/i
    : f.id === 'max_completion_tokens'
      ? /max_tokens|max_completion_tokens/i
      : /response_format|json_schema|json_object|schema/i;
  return words.test(text);
}

/** Statuses with which servers refuse a request feature they do not implement (llama-cpp-python uses 500). */
const FEATURE_REFUSAL_STATUSES = new Set([400, 422, 500]);

/** Reads a fetch Response body up to `max` bytes. */
async function readCapped(res: Response, max: number): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: await res.text(), truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

export interface ChatEndpointOptions {
  /** The OpenAI-compatible client (base URL and key from the worker's environment). */
  client: () => OpenAI;
  /** This worker's admission control for LLM calls. */
  limiter?: AdaptiveLimiter;
  /** Where one-time notices go (capability fallbacks); default: stderr. */
  warn?: (message: string, meta: Record<string, unknown>) => void;
}

export class ChatEndpoint {
  /** `<baseURL> <model>` → fallback ids known to be needed. */
  private readonly unsupported = new Map<string, Set<string>>();

  constructor(private readonly opts: ChatEndpointOptions) {}

  /** Fallbacks learnt for this endpoint and model (for tests and status output). */
  knownFallbacks(model: string): string[] {
    return [...(this.unsupported.get(this.key(model)) ?? [])];
  }

  private key(model: string): string {
    return `${this.opts.client().baseURL} ${model}`;
  }

  /**
   * One logical chat completion (see the module comment). Throws a classified ApplicationFailure for
   * transport errors, rate limits, refusals and answers that are not chat completions.
   */
  async complete(body: ChatRequestBody, opts: ChatCallOptions): Promise<ChatResult> {
    const limiter = this.opts.limiter;
    let release: () => void = () => {};
    if (limiter) {
      try {
        release = await limiter.acquire(opts.signal, opts.maxWaitMs ?? Number.POSITIVE_INFINITY);
      } catch (err) {
        if (!(err instanceof LimiterBusyError)) throw err;
        throw ApplicationFailure.create({ type: FailureType.RateLimited, message: err.message, nextRetryDelay: err.retryAfterMs });
      }
    }
    try {
      const { headers, ...result } = await this.withFallbacks(body, opts);
      limiter?.onSuccess(headers);
      return result;
    } catch (err) {
      const failure = err instanceof ApplicationFailure ? err : classifyLlmError(err, { model: body.model, baseURL: this.opts.client().baseURL });
      if (failure.type === FailureType.RateLimited) {
        const delay = failure.nextRetryDelay;
        limiter?.onRateLimited(typeof delay === 'number' ? delay : undefined, err instanceof APIError ? err.headers : undefined);
      } else if (err instanceof APIConnectionTimeoutError) {
        // The endpoint serves fewer calls at once than this worker sends (a one-slot llama.cpp server):
        // send fewer, so calls queue here (unpaid) rather than on the server past their timeout.
        limiter?.onOverloaded();
      }
      throw failure;
    } finally {
      release();
    }
  }

  private async withFallbacks(original: ChatRequestBody, opts: ChatCallOptions): Promise<ChatResult & { headers: Headers }> {
    const known = this.unsupported.get(this.key(original.model)) ?? new Set<string>();
    let body = original;
    const adjustments: string[] = [];
    for (const f of FALLBACKS) {
      if (known.has(f.id) && f.applies(body)) {
        body = f.apply(body);
        adjustments.push(f.id);
      }
    }
    let requests = 0;
    let firstError: unknown = null;
    const tried = new Set<string>();
    for (;;) {
      requests += 1;
      try {
        const result = await this.send(body, opts);
        // LM Studio answers an unsupported tool_choice "required" with a 200 that says nothing at all.
        const next = FALLBACKS.find((f) => !tried.has(f.id) && f.applies(body));
        if (next?.id === 'tool_choice:auto' && isEmptyReply(result.reply)) {
          firstError ??= new Error('HTTP 200 with no content and no tool call');
          tried.add(next.id);
          body = next.apply(body);
          adjustments.push(next.id);
          continue;
        }
        // A fallback that worked: remember it for this endpoint and model, and say so once.
        for (const id of isEmptyReply(result.reply) ? [] : adjustments) {
          if (known.has(id)) continue;
          known.add(id);
          this.unsupported.set(this.key(original.model), known);
          const f = FALLBACKS.find((x) => x.id === id)!;
          (this.opts.warn ?? defaultWarn)(`LLM endpoint capability: ${f.describe}`, {
            model: original.model,
            baseURL: this.opts.client().baseURL,
            refused_with: firstError ? errorLine(firstError) : undefined,
          });
        }
        return { ...result, requests, adjustments };
      } catch (err) {
        // The fallback changed nothing: the feature was not the problem, and the first error explains it.
        if (firstError && sameError(firstError, err)) throw firstError;
        const status = err instanceof APIError ? err.status : undefined;
        // A refusal of a feature is silent (llama-cpp-python answers an unsupported tool_choice with an empty 500)
        // or names it; anything else (an outage, a bad prompt) must not cost a second request, nor the worker a
        // feature for good.
        if (status === undefined || !FEATURE_REFUSAL_STATUSES.has(status) || isContextOverflow(err)) throw err;
        const next = FALLBACKS.find((f) => !tried.has(f.id) && f.applies(body) && refusesFeature(err as APIError, f));
        if (!next) throw err;
        firstError ??= err;
        tried.add(next.id);
        body = next.apply(body);
        adjustments.push(next.id);
      }
    }
  }

  private async send(body: ChatRequestBody, opts: ChatCallOptions): Promise<Omit<ChatResult, 'requests' | 'adjustments'> & { headers: Headers }> {
    const client = this.opts.client();
    opts.onRequest?.();
    const res = await client.chat.completions
      .create(body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming, {
        signal: opts.signal,
        timeout: Math.max(1, Math.round(Math.min(opts.timeoutMs, client.timeout))),
      })
      .asResponse();
    const { text, truncated } = await readCapped(res, MAX_RESPONSE_BYTES);
    const raw: RawHttpAnswer = { status: res.status, contentType: res.headers.get('content-type') ?? '', text, truncated };
    const interpreted = interpretChatResponse(raw, { model: body.model, baseURL: client.baseURL });
    const reply = interpreted.kind === 'reply' ? interpreted.reply : null;
    const usage = interpreted.usage ?? estimateUsage(body, reply);
    return {
      reply,
      ...(interpreted.kind === 'malformed' ? { malformed: interpreted.reason } : {}),
      usage,
      usage_estimated: interpreted.usage === null,
      headers: res.headers,
    };
  }
}

const CONTEXT_OVERFLOW_RE = /exceeds? the (available )?context|maximum context length|context (length|window) (exceeded|is)|too many tokens|prompt is too long|requested tokens .* exceed/i;

/** True for a refusal because the prompt does not fit the model's context window. */
export function isContextOverflow(err: unknown): boolean {
  if (!(err instanceof APIError)) return false;
  return CONTEXT_OVERFLOW_RE.test(`${err.message} ${JSON.stringify(err.error ?? '')}`);
}

function errorLine(err: unknown): string {
  if (err instanceof APIError) return `HTTP ${err.status}: ${err.message || '(empty message)'}`.slice(0, 300);
  return err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300);
}

function sameError(a: unknown, b: unknown): boolean {
  return a instanceof APIError && b instanceof APIError && a.status === b.status && a.message === b.message;
}

function defaultWarn(message: string, meta: Record<string, unknown>): void {
  process.stderr.write(`${new Date().toISOString()} [WARN] ${message} ${JSON.stringify(meta)}\n`);
}
