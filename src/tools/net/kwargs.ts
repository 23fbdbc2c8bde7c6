/**
 * Shared helpers of the web tools: reading `environment_kwargs` values with defaults, and turning fetch failures
 * of a tool backend (search provider, Jina Reader) into ApplicationFailures with stable types.
 */
import { ApplicationFailure } from '@temporalio/common';
import { parseRetryAfter, redactSecrets } from '../../llm/errors';
import { FailureType } from '../../shared/constants';
import { FetchError, FetchRefusedError } from './safe-fetch';

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

/** A number from environment_kwargs (numeric strings accepted), else `fallback`; non-numbers are InvalidInput. */
export function numberKwarg(kwargs: Record<string, unknown>, key: string, fallback: number, min = 0): number {
  const v = kwargs[key];
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min) {
    throw invalidInput(`environment_kwargs.${key}: expected a number ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function stringKwarg(kwargs: Record<string, unknown>, key: string): string | undefined {
  const v = kwargs[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalidInput(`environment_kwargs.${key}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function booleanKwarg(kwargs: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = kwargs[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalidInput(`environment_kwargs.${key}: expected true or false, got ${JSON.stringify(v)}`);
}

/** `environment_kwargs.allow_private_hosts`: a list of `ip`, `ip:port`, `host`, `host:port` (a single string accepted). */
export function allowPrivateHosts(kwargs: Record<string, unknown>): string[] {
  const v = kwargs.allow_private_hosts;
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalidInput(`environment_kwargs.allow_private_hosts: expected an array of strings like "127.0.0.1:8300", got ${JSON.stringify(v)}`);
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export interface BackendInfo {
  /** Human name: "Serper search", "Jina Reader". */
  service: string;
  /** Environment variable holding the key (named in auth messages), if any. A backend without one takes no key. */
  keyVar?: string;
  /** environment_kwargs key of the endpoint URL (named in configuration messages). */
  urlKey?: string;
  /** The configured endpoint base URL (named in configuration messages). */
  baseUrl?: string;
  /** How to fix a backend that refuses or does not speak its JSON API (replaces the generic "check <urlKey>"). */
  jsonApiFix?: string;
}

/** Longest failure detail taken from a server's answer (characters). */
const MAX_DETAIL_CHARS = 300;

/**
 * What a response body is, for messages: `HTML page`, `plain text`, `JSON`, `empty body`, or the media type.
 * `contentType` is the Content-Type header (parameters allowed); `snippet` the start of the body, if known.
 */
export function describeBodyKind(contentType: string | undefined, snippet: string | undefined): string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = (snippet ?? '').trimStart();
  if (type === 'text/html' || type === 'application/xhtml+xml' || /^<(!doctype html|html|head|body)[\s>]/i.test(text)) return 'HTML page';
  if (type === 'application/json' || type.endsWith('+json')) return 'JSON';
  if (snippet !== undefined && !text) return 'empty body';
  if (type === 'text/plain' || (!type && text)) return 'plain text';
  return type || 'no content type';
}

function withArticle(kind: string): string {
  if (kind === 'HTML page' || kind === 'empty body') return `an ${kind}`;
  if (kind === 'plain text' || kind === 'JSON') return kind;
  return `a ${kind} body`;
}

/** `title "403 Forbidden"` from an HTML snippet's <title>, or ''. */
function htmlTitle(snippet: string | undefined): string {
  const m = snippet?.match(/<title[^>]*>([^<]{1,200})/i);
  const title = m?.[1]?.replace(/\s+/g, ' ').trim();
  return title ? `, title ${JSON.stringify(title.slice(0, 100))}` : '';
}

/**
 * A backend that answered, but not as the JSON API qasynth was configured for: `ToolMisconfigured`,
 * non-retryable, naming the endpoint and the fix (`info.jsonApiFix`, else "check environment_kwargs.<urlKey>").
 * `refused` words it as a refusal (HTTP 401/403 from a backend that takes no key).
 */
export function notJsonApi(
  info: BackendInfo,
  answer: { url: string; status: number; contentType?: string; snippet?: string; refused?: boolean },
): ApplicationFailure {
  const where = info.baseUrl ?? answer.url;
  const kind = describeBodyKind(answer.contentType, answer.snippet);
  const what = `${kind}${kind === 'HTML page' ? htmlTitle(answer.snippet) : ''}`;
  const fix = info.jsonApiFix ??
    (info.urlKey
      ? `check environment_kwargs.${info.urlKey}: it must be the base URL of the ${info.service} API, not of a website or a proxy login page`
      : `check the ${info.service} endpoint configuration`);
  const head = answer.refused
    ? `${info.service} at ${where} refused the JSON API (HTTP ${answer.status}, ${what})`
    : `${info.service} at ${where} answered ${withArticle(kind)}${what.slice(kind.length)} (HTTP ${answer.status}) where its JSON API was expected`;
  return ApplicationFailure.create({
    message: `${head}: ${fix}`.slice(0, 1000),
    type: FailureType.ToolMisconfigured,
    nonRetryable: true,
    details: [{ status: answer.status, body: kind }],
  });
}

/**
 * A backend fetch failure as an ApplicationFailure, classified like LLM errors:
 * 429 → RateLimited (retryable, nextRetryDelay from Retry-After); 408/409/5xx/timeouts/network →
 * ToolBackendUnavailable (retryable); 401/403 from a keyed backend (`info.keyVar`) → ToolAuth (non-retryable, names
 * the key variable); 401/403 from a backend that takes no key, and other 4xx answered with an HTML page →
 * ToolMisconfigured (non-retryable, see notJsonApi); 404 and refusals (the endpoint is a private address not in
 * allow_private_hosts) → InvalidInput (non-retryable, names the URL key).
 * Other 4xx return null: the caller shows them to the agent as an error observation.
 * Server text in messages is cut to 300 characters and redacted.
 */
export function classifyBackendError(err: unknown, info: BackendInfo): ApplicationFailure | null {
  if (err instanceof ApplicationFailure) return err;
  const where = info.urlKey ? ` (environment_kwargs.${info.urlKey})` : '';
  if (err instanceof FetchRefusedError) {
    return invalidInput(`${info.service} endpoint${where} ${err.message.replace(/^Refused to fetch/, 'refused:')}`);
  }
  if (!(err instanceof FetchError)) return null;
  const detail = err.bodySnippet ? `: ${redactSecrets(err.bodySnippet.replace(/\s+/g, ' ').trim().slice(0, 4 * MAX_DETAIL_CHARS)).slice(0, MAX_DETAIL_CHARS)}` : '';
  if (err.kind === 'status' && err.status !== undefined) {
    const status = err.status;
    if (status === 429) {
      const delay = parseRetryAfter(err.headers ?? {});
      return ApplicationFailure.create({
        message: `${info.service} rate limited (HTTP 429)${detail}` +
          (delay !== undefined ? `; server asks to retry after ${delay} ms` : '; retrying with backoff'),
        type: FailureType.RateLimited,
        nonRetryable: false,
        nextRetryDelay: delay,
        details: [{ status, retry_after_ms: delay }],
      });
    }
    const answer = { url: err.url, status, contentType: err.headers?.['content-type'], snippet: err.bodySnippet };
    if ((status === 401 || status === 403) && !info.keyVar) return notJsonApi(info, { ...answer, refused: true });
    if (status === 401 || status === 403) {
      return ApplicationFailure.create({
        message: `${info.service} refused the credentials (HTTP ${status})${detail}. ` +
          (info.keyVar ? `Fix: set ${info.keyVar} in the worker's environment to a valid key` : 'Fix: check the endpoint configuration'),
        type: FailureType.ToolAuth,
        nonRetryable: true,
        details: [{ status }],
      });
    }
    if (status === 408 || status === 409 || status >= 500) {
      return ApplicationFailure.create({
        message: `${info.service} unavailable (HTTP ${status})${detail}`,
        type: FailureType.ToolBackendUnavailable,
        nonRetryable: false,
        details: [{ status }],
      });
    }
    if (status === 404) return invalidInput(`${info.service} endpoint not found (HTTP 404 from ${err.url}); check environment_kwargs${info.urlKey ? `.${info.urlKey}` : ''}`);
    if (describeBodyKind(answer.contentType, answer.snippet) === 'HTML page') return notJsonApi(info, answer);
    return null;
  }
  if (err.kind === 'aborted') {
    return ApplicationFailure.create({ message: `${info.service} request cancelled`, type: FailureType.ToolBackendUnavailable, nonRetryable: false });
  }
  if (err.kind === 'redirects' || err.kind === 'protocol') return null;
  // network, dns, timeout
  return ApplicationFailure.create({
    message: `${info.service} unavailable${where}: ${redactSecrets(err.message)}`,
    type: FailureType.ToolBackendUnavailable,
    nonRetryable: false,
    details: [{ kind: err.kind }],
  });
}

/** ToolAuth failure for a missing key, raised before any request. */
export function missingKey(service: string, keyVar: string, extra = ''): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${service} needs an API key: set ${keyVar} in the worker's environment${extra}`,
    type: FailureType.ToolAuth,
    nonRetryable: true,
  });
}
