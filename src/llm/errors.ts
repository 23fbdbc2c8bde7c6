/**
 * Classification of LLM HTTP errors at the activity edge (design.md "Errors").
 *
 * The OpenAI client runs with `maxRetries: 0`; every failure is turned into an `ApplicationFailure` with a stable
 * `type` so Temporal's RetryPolicy (not the SDK) decides what happens next:
 * - 429 → `RateLimited`, retryable, `nextRetryDelay` from `retry-after-ms` / `retry-after` when present;
 * - 408, 409, 5xx, connection errors, timeouts, aborts → `LlmUnavailable`, retryable (policy backoff);
 * - 401, 403 → `LlmAuth`, non-retryable;
 * - 400, 404, 422 and any other 4xx → `LlmRequestRejected`, non-retryable, with a fix hint.
 */
import { ApplicationFailure } from '@temporalio/common';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { FailureType } from '../shared/constants';
import type { ToolLlmUsage } from '../shared/types';

/** Server messages that mean "this model/server cannot do tool calling" (Ollama, vLLM without a parser, LM Studio). */
const TOOLS_UNSUPPORTED_RE = /does not support tools|tools? (are|is) not supported|tool[_ ]choice[^.]*not supported|function calling is not (enabled|supported)|"auto" tool choice requires|enable-auto-tool-choice/i;

/** Server messages that mean "the prompt is longer than the context window" (llama.cpp, vLLM, OpenAI). */
const CONTEXT_OVERFLOW_RE = /exceeds? the (available )?context|maximum context length|context (length|window) (exceeded|is)|too many tokens|prompt is too long|requested tokens .* exceed/i;

/** Upper bound for a server-requested retry delay: a longer wait is better expressed by the retry policy. */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/** Longest server error message copied into a failure message. */
export const MAX_SERVER_MESSAGE_CHARS = 500;

export interface LlmErrorContext {
  /** Model of the failed request, named in messages when known. */
  model?: string;
  /** Endpoint base URL (never a key), named in auth/404 messages when known. */
  baseURL?: string;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined | null> | null | undefined;

function getHeader(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') {
    const v = (headers as Headers).get(name);
    return v === null ? undefined : v;
  }
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() !== want || v === undefined || v === null) continue;
    return Array.isArray(v) ? String(v[0]) : String(v);
  }
  return undefined;
}

function clampDelay(ms: number): number {
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}

/**
 * Delay (ms) a server asked for: `retry-after-ms` (milliseconds) first, then `retry-after` (seconds or an HTTP
 * date). Clamped to [0, 10 min]. `undefined` when there is no usable header.
 */
export function parseRetryAfter(headers: HeaderSource, nowMs: number = Date.now()): number | undefined {
  const ms = getHeader(headers, 'retry-after-ms')?.trim();
  if (ms && /^[+]?\d+(\.\d+)?$/.test(ms)) {
    const n = Number(ms);
    if (Number.isFinite(n)) return clampDelay(n);
  }
  const ra = getHeader(headers, 'retry-after')?.trim();
  if (!ra) return undefined;
  if (/^[+-]?\d+(\.\d+)?$/.test(ra)) {
    const seconds = Number(ra);
    return Number.isFinite(seconds) ? clampDelay(seconds * 1000) : undefined;
  }
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return clampDelay(date - nowMs);
}

/** Removes anything that looks like an API key from text copied out of a server response. */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_*-]{6,}/g, '$1-***')
    .replace(/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***');
}

function truncate(text: string, max = MAX_SERVER_MESSAGE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** The server's own error message from an APIError body (`{error: {message}}` already unwrapped by the SDK). */
function serverMessage(err: APIError): string {
  const body = err.error as unknown;
  let msg: string | undefined;
  if (body && typeof body === 'object') {
    const m = (body as Record<string, unknown>).message;
    if (typeof m === 'string') msg = m;
    else if (m !== undefined) msg = JSON.stringify(m);
    else msg = JSON.stringify(body);
  } else if (typeof body === 'string') {
    msg = body;
  }
  if (!msg) msg = err.message.replace(/^\d{3}\s+/, '');
  return truncate(redactSecrets(msg.trim()));
}

function isApiErrorLike(err: unknown): err is APIError {
  if (err instanceof APIError) return true;
  if (!(err instanceof Error)) return false;
  const e = err as unknown as Record<string, unknown>;
  return typeof e.status === 'number' && e.headers !== undefined && 'error' in e;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** True for fetch/socket-level failures, aborts and timeouts (looking through `cause` chains). */
function isNetworkLike(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.name === 'ConnectTimeoutError') return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TypeError' && typeof e.message === 'string' && /fetch failed|network|terminated/i.test(e.message)) {
    return true;
  }
  return isNetworkLike(e.cause, depth + 1);
}

function causeSummary(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const e = cur as { message?: unknown; code?: unknown; cause?: unknown };
    const m = typeof e.message === 'string' ? e.message : '';
    const code = typeof e.code === 'string' ? ` (${e.code})` : '';
    if (m && !parts.includes(m + code)) parts.push(m + code);
    cur = e.cause;
  }
  return truncate(redactSecrets(parts.join(': ') || String(err)));
}

function forModel(ctx: LlmErrorContext): string {
  return ctx.model ? ` for model "${ctx.model}"` : '';
}

function endpoint(ctx: LlmErrorContext): string {
  return ctx.baseURL ? ` (currently ${ctx.baseURL})` : '';
}

function rejectHint(status: number, ctx: LlmErrorContext): string {
  switch (status) {
    case 404:
      return `check model_name in the config and OPENAI_BASE_URL${endpoint(ctx)}: the endpoint does not serve this model or path`;
    case 400:
      return 'check the request options the endpoint supports (model_name, tool_calling "native" vs "json", response_format)';
    case 413:
      return 'the prompt is too large for the endpoint: lower max_depth or use a model with a larger context';
    case 422:
      return 'the endpoint could not process the request body: check model_name and tool_calling for this endpoint';
    default:
      return 'check model_name, OPENAI_BASE_URL and the endpoint documentation';
  }
}

/**
 * The error to keep as a failure's cause: its name and a bounded, redacted message (a server's error body can be
 * megabytes; failures are stored in workflow history, whose payloads are limited to 2 MB).
 */
export function boundedCause(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const copy = new Error(truncate(redactSecrets(err.message), 1000));
  copy.name = err.name;
  return copy;
}

function unavailable(message: string, cause: unknown, details: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type: FailureType.LlmUnavailable,
    nonRetryable: false,
    cause: boundedCause(cause),
    details: [details],
  });
}

/**
 * Sets how many HTTP requests a failed LLM call sent in all — `{provider_requests: n}` in the failure's details,
 * replacing one already there — the form the seed workflow reads them from for its statistics
 * (src/domain/failure-accounting.ts). A call that was paid for some answers before it failed (web_visit: the page
 * summaries it got before another page's summary failed) also names them, `paid_usage` (calls, tokens, their
 * model; its `requests` = n), so the seed charges what the provider billed though the call failed.
 * Anything but an ApplicationFailure is returned as is.
 */
export function withProviderRequests<E>(err: E, n: number, paid?: Omit<ToolLlmUsage, 'requests'>): E {
  if (!(err instanceof ApplicationFailure)) return err;
  const details = (err.details ?? []).filter((d) => !(d && typeof d === 'object' && 'provider_requests' in d));
  (err as { details: unknown[] }).details = [...details, { provider_requests: n, ...(paid ? { paid_usage: { ...paid, requests: n } } : {}) }];
  return err;
}

/**
 * Turns anything thrown by an OpenAI-compatible call into an `ApplicationFailure` with a stable type.
 * An `ApplicationFailure` passes through unchanged; an unknown non-HTTP error keeps its name as type and stays
 * retryable (Temporal's default for unclassified errors).
 */
export function classifyLlmError(err: unknown, ctx: LlmErrorContext = {}): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;

  if (err instanceof APIConnectionTimeoutError) {
    return unavailable(`LLM request timed out${forModel(ctx)}; the endpoint may be overloaded (if calls are legitimately slow, raise llm_timeout_seconds in the config; if the server handles fewer requests at once than it is sent, lower max_workers or the worker's --llm-concurrency)`, err, { kind: 'timeout', model: ctx.model });
  }
  if (err instanceof APIUserAbortError) {
    return unavailable(`LLM request aborted${forModel(ctx)}`, err, { kind: 'aborted', model: ctx.model });
  }
  if (err instanceof APIConnectionError) {
    return unavailable(`Cannot reach the LLM endpoint${endpoint(ctx)}: ${causeSummary(err.cause ?? err)}`, err, { kind: 'connection', model: ctx.model });
  }

  if (isApiErrorLike(err)) {
    const status = err.status as number;
    const msg = serverMessage(err) || '(the server gave no error message)';
    const details = { status, model: ctx.model, request_id: err.requestID ?? undefined };
    if (status !== 429 && TOOLS_UNSUPPORTED_RE.test(msg)) {
      return ApplicationFailure.create({
        message: `the LLM endpoint does not support native tool calling${forModel(ctx)} (HTTP ${status}: ${msg}). ` +
          'Fix: set "tool_calling": "json" in the config, or enable the server\'s tool-call parser ' +
          '(vLLM: --enable-auto-tool-choice --tool-call-parser <name>; llama.cpp server: --jinja; Ollama: a model with tool support)',
        type: FailureType.LlmEndpointMisconfigured,
        nonRetryable: true,
        cause: boundedCause(err),
        details: [details],
      });
    }
    if ((status === 400 || status === 413 || status === 422 || status === 500) && CONTEXT_OVERFLOW_RE.test(msg)) {
      return ApplicationFailure.create({
        message: `the prompt does not fit the model's context window${forModel(ctx)} (HTTP ${status}: ${msg}). ` +
          'Fix: serve the model with a larger context (llama.cpp: --ctx-size / n_ctx; vLLM: --max-model-len), or make ' +
          'prompts shorter: lower max_depth, environment_kwargs.web_visit_max_chars, or use fewer qa_examples',
        type: FailureType.LlmRequestRejected,
        nonRetryable: true,
        cause: boundedCause(err),
        details: [{ ...details, kind: 'context_overflow' }],
      });
    }
    if (status === 429 && /insufficient_quota|exceeded your current quota|billing/i.test(`${msg} ${JSON.stringify(err.error ?? '')}`)) {
      // Not a rate limit: the account has no quota (credits) left. Waiting will not help; paying will.
      return ApplicationFailure.create({
        message: `the LLM account has no quota left (HTTP 429, insufficient_quota)${forModel(ctx)}: ${msg}. ` +
          'Fix: add credits or raise the spending limit for this key, then resume the run',
        type: FailureType.LlmAuth,
        nonRetryable: true,
        cause: boundedCause(err),
        details: [details],
      });
    }
    if (status === 429) {
      const delay = parseRetryAfter(err.headers as HeaderSource);
      return ApplicationFailure.create({
        message: `LLM rate limited (HTTP 429)${forModel(ctx)}: ${msg}` +
          (delay !== undefined ? `; server asks to retry after ${delay} ms` : '; retrying with backoff'),
        type: FailureType.RateLimited,
        nonRetryable: false,
        nextRetryDelay: delay,
        cause: boundedCause(err),
        details: [{ ...details, retry_after_ms: delay }],
      });
    }
    if (status === 408 || status === 409 || status >= 500) {
      return unavailable(`LLM endpoint unavailable (HTTP ${status})${forModel(ctx)}: ${msg}`, err, details);
    }
    if (status === 401 || status === 403) {
      return ApplicationFailure.create({
        message: `LLM endpoint refused the credentials (HTTP ${status})${forModel(ctx)}: ${msg}. ` +
          `Fix: check OPENAI_API_KEY and OPENAI_BASE_URL${endpoint(ctx)}`,
        type: FailureType.LlmAuth,
        nonRetryable: true,
        cause: boundedCause(err),
        details: [details],
      });
    }
    if (status >= 400 && status < 500) {
      return ApplicationFailure.create({
        message: `LLM request rejected (HTTP ${status})${forModel(ctx)}: ${msg}. Fix: ${rejectHint(status, ctx)}`,
        type: FailureType.LlmRequestRejected,
        nonRetryable: true,
        cause: boundedCause(err),
        details: [details],
      });
    }
    // 1xx/2xx/3xx surfaced as errors: treat as a transient endpoint problem.
    return unavailable(`Unexpected LLM response (HTTP ${status})${forModel(ctx)}: ${msg}`, err, details);
  }

  if (err instanceof APIError) {
    // An APIError without status that is none of the connection classes above.
    return unavailable(`LLM call failed${forModel(ctx)}: ${causeSummary(err)}`, err, { kind: 'unknown', model: ctx.model });
  }

  if (isNetworkLike(err)) {
    return unavailable(`Cannot reach the LLM endpoint${endpoint(ctx)}: ${causeSummary(err)}`, err, { kind: 'network', model: ctx.model });
  }

  const e = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({
    message: truncate(redactSecrets(e.message), 2000),
    type: e.name || 'Error',
    nonRetryable: false,
    cause: boundedCause(e.cause),
  });
}
