/**
 * `web_search` (web mode): runs 1–5 queries against a search provider and lists title, URL and snippet per result
 * (the original dropped titles).
 *
 * Provider: `environment_kwargs.search_provider` (default `serper`, the original's):
 * - `serper`  POST `${serper_url ?? https://google.serper.dev}/${web_search_type ?? search}`, `X-API-KEY: $SERPER_API_KEY`,
 *             body `{q, num}` → `organic[] {title, link, snippet}`;
 * - `tavily`  POST `${tavily_url ?? https://api.tavily.com}/search`, `Authorization: Bearer $TAVILY_API_KEY`,
 *             body `{query, max_results}` → `results[] {title, url, content}`;
 * - `searxng` GET `${searxng_url}/search?q=…&format=json` → `results[] {title, url, content}`;
 * - `local`   GET `${local_site_url}/search?q=…&k=…` → `results[] {title, url, snippet}` (the offline corpus site).
 *
 * Every request goes through safeFetch (SSRF checks; private endpoints need `environment_kwargs.allow_private_hosts`).
 * Queries run concurrently (`web_search_max_workers`, default 5). Provider failures are classified like LLM errors
 * (see net/kwargs.ts): when every query failed, the most serious failure is thrown (ToolAuth, ToolMisconfigured,
 * InvalidInput, RateLimited, ToolBackendUnavailable) so Temporal retries or stops; when some queries worked, the
 * failures are listed after the results. A provider that answers an HTML page or plain text where JSON is expected
 * (any status but 5xx/429), or a 401/403 from one that takes no key (SearXNG, local), is misconfigured:
 * ToolMisconfigured, non-retryable, naming the URL key, or for SearXNG how to enable its JSON API.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../shared/constants';
import {
  allowPrivateHosts,
  classifyBackendError,
  describeBodyKind,
  invalidInput,
  mapLimit,
  missingKey,
  notJsonApi,
  numberKwarg,
  stringKwarg,
  type BackendInfo,
} from './net/kwargs';
import { decodeBody, FetchError, FetchRefusedError, safeFetch } from './net/safe-fetch';
import type { ToolContext, ToolDefinition } from './tool';

export const SEARCH_PROVIDERS = ['serper', 'tavily', 'searxng', 'local'] as const;
export type SearchProvider = (typeof SEARCH_PROVIDERS)[number];

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 10;
const MAX_TITLE_CHARS = 200;
const MAX_SNIPPET_CHARS = 500;
const MAX_SEARCH_RESPONSE_BYTES = 2 * 1024 * 1024;
/** Longest failure reason listed per query (characters). */
const MAX_REASON_CHARS = 300;
/**
 * SearXNG answers `format=json` with HTTP 403 unless `json` is listed in `search.formats` of its settings.yml
 * (SearXNG documentation, "settings.yml → search → formats"; the default lists only `html`).
 */
export const SEARXNG_JSON_FIX = 'enable it by adding `json` to `search.formats` in its settings.yml, then restart SearXNG';

export const webSearchSchema = z.object({
  queries: z
    .array(z.string().trim().min(1).max(400).describe('One search query, e.g. "Ada Lovelace first computer program year"'))
    .min(1)
    .max(5)
    .describe('1–5 search queries, run in parallel; vary wording or ask about different facets of the same question'),
});

export type WebSearchArgs = z.infer<typeof webSearchSchema>;

export interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

/** A provider answer that is not the JSON shape expected: retryable (the backend is misbehaving). */
class ProviderResponseError extends Error {}

interface ProviderRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  parse: (json: unknown) => SearchHit[];
}

interface Provider {
  info: BackendInfo;
  request: (query: string, topK: number) => ProviderRequest;
}

function clean(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  const text = value.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function hitsFrom(json: unknown, listKey: string, urlKey: string, snippetKey: string, service: string): SearchHit[] {
  if (!json || typeof json !== 'object') throw new ProviderResponseError(`${service} answered with ${typeof json}, not a JSON object`);
  const list = (json as Record<string, unknown>)[listKey];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ProviderResponseError(`${service} answer has no "${listKey}" array`);
  const hits: SearchHit[] = [];
  for (const item of list) {
    if (!item || typeof item !== 'object') continue;
    const r = item as Record<string, unknown>;
    const url = typeof r[urlKey] === 'string' ? (r[urlKey] as string).trim() : '';
    if (!url) continue;
    hits.push({ title: clean(r.title, MAX_TITLE_CHARS) || url, url, snippet: clean(r[snippetKey], MAX_SNIPPET_CHARS) });
  }
  return hits;
}

function baseUrl(url: string, key: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw invalidInput(`environment_kwargs.${key}: expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, '');
}

/** The configured provider; throws ToolAuth (missing key) or InvalidInput (missing URL) before any request. */
export function resolveProvider(kwargs: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Provider {
  const name = (stringKwarg(kwargs, 'search_provider') ?? 'serper').toLowerCase();
  switch (name) {
    case 'serper': {
      const info: BackendInfo = { service: 'Serper search', keyVar: 'SERPER_API_KEY', urlKey: 'serper_url' };
      const key = env.SERPER_API_KEY?.trim();
      if (!key) throw missingKey(info.service, 'SERPER_API_KEY', ' (or choose another environment_kwargs.search_provider: tavily, searxng, local)');
      const root = baseUrl(stringKwarg(kwargs, 'serper_url') ?? 'https://google.serper.dev', 'serper_url');
      info.baseUrl = root;
      const type = stringKwarg(kwargs, 'web_search_type') ?? 'search';
      if (!/^[a-z]+$/i.test(type)) throw invalidInput(`environment_kwargs.web_search_type: expected a Serper search type such as "search" or "news", got ${JSON.stringify(type)}`);
      return {
        info,
        request: (q, k) => ({
          url: `${root}/${type}`,
          method: 'POST',
          headers: { 'X-API-KEY': key, 'content-type': 'application/json' },
          body: JSON.stringify({ q, num: k }),
          parse: (json) => hitsFrom(json, 'organic', 'link', 'snippet', info.service),
        }),
      };
    }
    case 'tavily': {
      const info: BackendInfo = { service: 'Tavily search', keyVar: 'TAVILY_API_KEY', urlKey: 'tavily_url' };
      const key = env.TAVILY_API_KEY?.trim();
      if (!key) throw missingKey(info.service, 'TAVILY_API_KEY', ' (or choose another environment_kwargs.search_provider: serper, searxng, local)');
      const root = baseUrl(stringKwarg(kwargs, 'tavily_url') ?? 'https://api.tavily.com', 'tavily_url');
      info.baseUrl = root;
      return {
        info,
        request: (q, k) => ({
          url: `${root}/search`,
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query: q, max_results: k }),
          parse: (json) => hitsFrom(json, 'results', 'url', 'content', info.service),
        }),
      };
    }
    case 'searxng':
    case 'local': {
      const urlKey = name === 'searxng' ? 'searxng_url' : 'local_site_url';
      const configured = stringKwarg(kwargs, urlKey);
      if (!configured) {
        throw invalidInput(`search_provider "${name}" needs environment_kwargs.${urlKey} (the ${name === 'searxng' ? 'SearXNG instance' : 'offline corpus site'} base URL, e.g. "http://127.0.0.1:8300")`);
      }
      const root = baseUrl(configured, urlKey);
      const info: BackendInfo = name === 'searxng'
        ? { service: 'SearXNG', urlKey, baseUrl: root, jsonApiFix: SEARXNG_JSON_FIX }
        : { service: 'Local site search', urlKey, baseUrl: root };
      return {
        info,
        request: (q, k) => {
          const params = new URLSearchParams({ q });
          if (name === 'searxng') params.set('format', 'json');
          else params.set('k', String(k));
          return {
            url: `${root}/search?${params.toString()}`,
            method: 'GET',
            headers: { accept: 'application/json' },
            parse: (json) => hitsFrom(json, 'results', 'url', name === 'searxng' ? 'content' : 'snippet', info.service).slice(0, k),
          };
        },
      };
    }
    default:
      throw invalidInput(`environment_kwargs.search_provider: expected one of ${SEARCH_PROVIDERS.join(', ')}, got ${JSON.stringify(name)}`);
  }
}

type QueryOutcome = { query: string; ok: true; hits: SearchHit[] } | { query: string; ok: false; error: unknown };

async function runQuery(provider: Provider, query: string, topK: number, ctx: ToolContext, timeoutMs: number, allow: string[]): Promise<QueryOutcome> {
  const req = provider.request(query, topK);
  try {
    const res = await safeFetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: ctx.signal,
      timeoutMs,
      maxBytes: MAX_SEARCH_RESPONSE_BYTES,
      maxRedirects: 3,
      allowPrivate: allow,
    });
    let json: unknown;
    const text = decodeBody(res.body, res.charset);
    try {
      json = JSON.parse(text);
    } catch {
      // An HTML page or plain text where JSON was expected: the URL points at a website, or the API is off.
      const kind = describeBodyKind(res.contentType, text.slice(0, 4096));
      if (kind === 'HTML page' || kind === 'plain text') {
        throw notJsonApi(provider.info, { url: res.url, status: res.status, contentType: res.contentType, snippet: text.slice(0, 4096) });
      }
      throw new ProviderResponseError(
        `${provider.info.service} answered with invalid JSON${res.truncated ? ' (response larger than 2 MB)' : ''} (content-type ${res.contentType || 'none'})`,
      );
    }
    return { query, ok: true, hits: req.parse(json).slice(0, topK) };
  } catch (error) {
    return { query, ok: false, error };
  }
}

function failureReason(err: unknown): string {
  const text = err instanceof ApplicationFailure || err instanceof FetchError || err instanceof FetchRefusedError || err instanceof Error
    ? err.message
    : String(err);
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

/** Rank of a failure when every query failed: the most actionable one is thrown. */
function severity(f: ApplicationFailure): number {
  switch (f.type) {
    case FailureType.ToolAuth:
    case FailureType.ToolMisconfigured:
      return 4;
    case FailureType.InvalidInput:
      return 3;
    case FailureType.RateLimited:
      return 2;
    default:
      return 1;
  }
}

export function formatSearchResults(outcomes: QueryOutcome[]): { text: string; sources: string[]; anyHits: boolean } {
  const blocks: string[] = [];
  const sources: string[] = [];
  for (const o of outcomes) {
    if (!o.ok) continue;
    const lines = [`### Search results for ${JSON.stringify(o.query)}`];
    if (o.hits.length === 0) lines.push('(no results)');
    o.hits.forEach((h, i) => {
      lines.push(`${i + 1}. ${h.title}`, `   URL: ${h.url}`);
      if (h.snippet) lines.push(`   ${h.snippet}`);
      if (!sources.includes(h.url)) sources.push(h.url);
    });
    blocks.push(lines.join('\n'));
  }
  const failed = outcomes.filter((o): o is Extract<QueryOutcome, { ok: false }> => !o.ok);
  if (failed.length) {
    blocks.push(['**Failed queries:**', ...failed.map((o) => `- ${JSON.stringify(o.query)}: ${failureReason(o.error)}`)].join('\n'));
  }
  return { text: blocks.join('\n\n'), sources, anyHits: sources.length > 0 };
}

export const webSearchTool: ToolDefinition<WebSearchArgs> = {
  name: 'web_search',
  description:
    'Search the web. Give 1–5 queries (run in parallel); for each query you get a numbered list of results with ' +
    'title, URL and a short snippet. Use it to discover pages about an entity or fact, then read the most promising ' +
    'URLs with web_visit (snippets are short and may be outdated or incomplete).',
  schema: webSearchSchema,
  async execute(args, ctx) {
    const kwargs = ctx.environment_kwargs ?? {};
    const provider = resolveProvider(kwargs);
    const topK = Math.min(MAX_TOP_K, Math.max(1, Math.round(numberKwarg(kwargs, 'web_search_top_k', DEFAULT_TOP_K, 1))));
    const workers = Math.max(1, Math.round(numberKwarg(kwargs, 'web_search_max_workers', 5, 1)));
    const timeoutMs = numberKwarg(kwargs, 'web_search_timeout_seconds', 10, 0.001) * 1000;
    const allow = allowPrivateHosts(kwargs);
    const queries = [...new Set(args.queries)];

    const outcomes = await mapLimit(queries, workers, (q) => runQuery(provider, q, topK, ctx, timeoutMs, allow));

    if (outcomes.every((o) => !o.ok)) {
      const classified = outcomes
        .map((o) => (o.ok ? null : o.error instanceof ProviderResponseError
          ? ApplicationFailure.create({ message: o.error.message, type: FailureType.ToolBackendUnavailable, nonRetryable: false })
          : classifyBackendError(o.error, provider.info)))
        .filter((f): f is ApplicationFailure => f !== null);
      if (classified.length) throw classified.sort((a, b) => severity(b) - severity(a))[0]!;
      return { text: formatSearchResults(outcomes).text, error: true };
    }
    const { text, sources, anyHits } = formatSearchResults(outcomes);
    if (!anyHits) {
      const failedPart = outcomes.some((o) => !o.ok) ? `\n\n${text.slice(text.indexOf('**Failed queries:**'))}` : '';
      return { text: `No results found for ${queries.map((q) => JSON.stringify(q)).join(', ')}. Try different or broader queries.${failedPart}` };
    }
    return { text, sources };
  },
};
