/**
 * `web_visit` (web mode): reads 1–5 pages and returns, per page, a summary of what it says about `goal`,
 * keeping each source URL (the original lost it).
 *
 * Per URL (at most 5 at once):
 * 1. fetch: directly with safeFetch (SSRF checks on every redirect hop; private hosts need
 *    `environment_kwargs.allow_private_hosts`), or through Jina Reader (`GET <jina>/<url>`, Bearer $JINA_API_KEY)
 *    when `web_visit_reader` is `jina`, or `auto` (default) and JINA_API_KEY is set;
 * 2. convert: HTML → charset decoding → linkedom → @mozilla/readability → turndown markdown (absolute links);
 *    text/plain and markdown as is; JSON pretty-printed; other types (images, PDF, binaries) are refused;
 * 3. truncate to `web_visit_max_chars` (default 50,000) and summarise against the goal with `ctx.llm`
 *    (temperature 0.3, max_tokens 1000). Without an LLM, or with `web_visit_summarize: false`, the first
 *    3,000 characters of the page stand in for the summary.
 *
 * Output `"1. <url>\n<summary>\n\n2. …"`, then `**Failed URLs:**\n- <url>: <reason>`. The observation is an error
 * only when every URL failed. LLM errors in the summary are classified (classifyLlmError) and thrown, so
 * retryable ones retry the activity.
 */
import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';
import { z } from 'zod';
import { classifyLlmError } from '../llm/errors';
import {
  allowPrivateHosts,
  booleanKwarg,
  classifyBackendError,
  invalidInput,
  mapLimit,
  missingKey,
  numberKwarg,
  stringKwarg,
} from './net/kwargs';
import { decodeBody, FetchError, FetchRefusedError, safeFetch, type SafeFetchResponse } from './net/safe-fetch';
import type { ToolContext, ToolDefinition } from './tool';

export const DEFAULT_MAX_CHARS = 50_000;
export const FALLBACK_SUMMARY_CHARS = 3_000;
export const MAX_SUMMARY_CHARS = 4_000;
const MAX_PARALLEL = 5;
const DEFAULT_JINA_URL = 'https://r.jina.ai';

export const webVisitSchema = z.object({
  urls: z
    .array(z.string().trim().min(1).max(2000).describe('An absolute http(s) URL, e.g. one returned by web_search'))
    .min(1)
    .max(5)
    .describe('1–5 page URLs to read'),
  goal: z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .describe('What you want to learn from these pages, e.g. "the year Ada Lovelace published her notes on the Analytical Engine"'),
});

export type WebVisitArgs = z.infer<typeof webVisitSchema>;

// ------------------------------------------------------------------------------------------- HTML → markdown

function turndownService(): TurndownService {
  const td = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-' });
  td.remove(['script', 'style', 'noscript', 'iframe', 'object', 'embed', 'template', 'svg' as 'script']);
  // Images: keep the alt text only (data: URIs and tracking pixels are noise for a text model).
  td.addRule('imageAlt', {
    filter: 'img',
    replacement: (_content, node) => {
      const alt = (node as unknown as { getAttribute(n: string): string | null }).getAttribute('alt')?.trim();
      return alt ? `[image: ${alt}]` : '';
    },
  });
  return td;
}

function tidyMarkdown(md: string): string {
  return md
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

interface MiniElement {
  getAttribute(n: string): string | null;
  setAttribute(n: string, v: string): void;
  remove(): void;
  closest(sel: string): MiniElement | null;
  innerHTML: string;
}
interface MiniDocument {
  title?: string;
  head?: { prepend(n: unknown): void } | null;
  body?: MiniElement | null;
  querySelector(s: string): MiniElement | null;
  querySelectorAll(s: string): ArrayLike<MiniElement>;
  createElement(t: string): MiniElement;
}

/** Page chrome removed before extraction; header/footer only outside the article. */
const CHROME = 'script, style, noscript, template, nav, aside, form, [role="navigation"], [role="banner"], [role="contentinfo"], [role="complementary"]';

/** Parses `html`, makes `baseUrl` the document base (or resolves an existing `<base>`) and removes page chrome. */
function prepareDocument(html: string, baseUrl: string): MiniDocument {
  const doc = parseHTML(html).document as unknown as MiniDocument;
  const base = doc.querySelector('base[href]');
  if (base) {
    try {
      base.setAttribute('href', new URL(base.getAttribute('href') ?? '', baseUrl).href);
    } catch {
      base.setAttribute('href', baseUrl);
    }
  } else if (doc.head) {
    const el = doc.createElement('base');
    el.setAttribute('href', baseUrl);
    doc.head.prepend(el);
  }
  const remove = (sel: string, keep?: (el: MiniElement) => boolean) => {
    const nodes = Array.from(doc.querySelectorAll(sel));
    for (const el of nodes) if (!keep?.(el)) el.remove();
  };
  remove(CHROME);
  remove('header, footer', (el) => el.closest('article, main, [role="main"]') !== null);
  return doc;
}

/**
 * Main content of an HTML page as markdown: page chrome (nav, aside, site header/footer, scripts) is removed,
 * Readability picks the article and turndown renders it with absolute links. Falls back to the whole cleaned
 * body when Readability finds no article.
 */
export function extractMainText(html: string, baseUrl: string): { title: string; markdown: string } {
  const doc = prepareDocument(html, baseUrl);
  const pageTitle = (doc.title ?? '').replace(/\s+/g, ' ').trim();
  const td = turndownService();
  let article: ReturnType<Readability['parse']> = null;
  try {
    article = new Readability(doc as never, { charThreshold: 200 }).parse();
  } catch {
    article = null;
  }
  const title = (article?.title ?? '').replace(/\s+/g, ' ').trim() || pageTitle;
  if (article?.content && (article.textContent ?? '').trim()) {
    return { title, markdown: tidyMarkdown(td.turndown(article.content)) };
  }
  // Fallback: the cleaned body (Readability mutates the document, so prepare it again); links resolved by hand.
  const body = prepareDocument(html, baseUrl).body;
  if (!body) return { title, markdown: '' };
  const fresh = body as unknown as { querySelectorAll(s: string): ArrayLike<MiniElement> };
  for (const a of Array.from(fresh.querySelectorAll('a[href]'))) {
    try {
      a.setAttribute('href', new URL(a.getAttribute('href') ?? '', baseUrl).href);
    } catch {
      /* keep as is */
    }
  }
  return { title, markdown: tidyMarkdown(td.turndown(body.innerHTML)) };
}

// ------------------------------------------------------------------------------------------- page reading

interface PageOk {
  url: string;
  ok: true;
  finalUrl: string;
  title: string;
  markdown: string;
  /** The body was cut at web_visit_max_bytes or the text at web_visit_max_chars. */
  truncated: boolean;
}
interface PageFailed {
  url: string;
  ok: false;
  reason: string;
}
type PageOutcome = PageOk | PageFailed;

const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const TEXT_TYPES = new Set(['text/plain', 'text/markdown', 'text/x-markdown', 'text/csv', 'text/xml', 'application/xml', 'text/x-rst']);

function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json';
}

function looksBinary(body: Buffer): boolean {
  const sample = body.subarray(0, 1024);
  return sample.includes(0);
}

/** Converts a fetched response to markdown, or returns a failure reason. */
export function responseToMarkdown(res: Pick<SafeFetchResponse, 'url' | 'contentType' | 'charset' | 'body'>): { title: string; markdown: string } | string {
  let type = res.contentType;
  if (!type) {
    // No Content-Type: sniff a little.
    if (looksBinary(res.body)) return 'unsupported content (binary data without a content type)';
    const head = res.body.subarray(0, 512).toString('latin1').trimStart().toLowerCase();
    type = head.startsWith('<!doctype html') || head.startsWith('<html') || /<(head|body|p|div)[\s>]/.test(head) ? 'text/html' : 'text/plain';
  }
  if (HTML_TYPES.has(type)) return extractMainText(decodeBody(res.body, res.charset), res.url);
  if (isJsonType(type)) {
    const text = decodeBody(res.body, res.charset);
    try {
      return { title: '', markdown: '```json\n' + JSON.stringify(JSON.parse(text), null, 2) + '\n```' };
    } catch {
      return { title: '', markdown: text };
    }
  }
  if (TEXT_TYPES.has(type) || (type.startsWith('text/') && !looksBinary(res.body))) {
    return { title: '', markdown: decodeBody(res.body, res.charset).replace(/\r\n/g, '\n').trim() };
  }
  return `unsupported content type ${type} (web_visit reads HTML, plain text, markdown and JSON pages)`;
}

interface VisitOptions {
  reader: 'direct' | 'jina';
  jinaKey?: string;
  jinaUrl: string;
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  maxChars: number;
  allow: string[];
}

function validatePageUrl(raw: string): URL | string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a valid absolute URL (expected http:// or https://…)';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol.replace(/:$/, '')} is not allowed (only http and https)`;
  if (u.username || u.password) return 'URLs with credentials (user:password@) are not allowed';
  return u;
}

const JINA = { service: 'Jina Reader', keyVar: 'JINA_API_KEY', urlKey: 'web_visit_jina_url' };

async function readPage(url: string, o: VisitOptions, ctx: ToolContext): Promise<PageOutcome> {
  const checked = validatePageUrl(url);
  if (typeof checked === 'string') return { url, ok: false, reason: `refused: ${checked}` };
  try {
    let res: SafeFetchResponse;
    let converted: { title: string; markdown: string } | string;
    if (o.reader === 'jina') {
      res = await safeFetch(`${o.jinaUrl}/${checked.href}`, {
        headers: { authorization: `Bearer ${o.jinaKey}`, accept: 'text/plain', 'x-return-format': 'markdown' },
        signal: ctx.signal,
        timeoutMs: o.timeoutMs,
        maxBytes: o.maxBytes,
        maxRedirects: o.maxRedirects,
        allowPrivate: o.allow,
      });
      const text = decodeBody(res.body, res.charset).trim();
      const title = text.match(/^Title:\s*(.+)$/m)?.[1]?.trim() ?? '';
      converted = { title, markdown: text };
    } else {
      res = await safeFetch(checked.href, {
        signal: ctx.signal,
        timeoutMs: o.timeoutMs,
        maxBytes: o.maxBytes,
        maxRedirects: o.maxRedirects,
        allowPrivate: o.allow,
        headers: { accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5' },
      });
      converted = responseToMarkdown(res);
    }
    if (typeof converted === 'string') return { url, ok: false, reason: converted };
    let markdown = converted.markdown;
    let truncated = res.truncated;
    if (markdown.length > o.maxChars) {
      markdown = markdown.slice(0, o.maxChars);
      truncated = true;
    }
    if (!markdown.trim()) return { url, ok: false, reason: 'the page has no readable text' };
    return { url, ok: true, finalUrl: o.reader === 'jina' ? checked.href : res.url, title: converted.title, markdown, truncated };
  } catch (err) {
    if (o.reader === 'jina' && err instanceof FetchError && err.kind === 'status' && [401, 403, 429].includes(err.status ?? 0)) {
      throw classifyBackendError(err, JINA)!;
    }
    if (err instanceof FetchRefusedError || err instanceof FetchError) return { url, ok: false, reason: err.message };
    throw err;
  }
}

// ------------------------------------------------------------------------------------------- summary

function excerpt(page: PageOk, max = FALLBACK_SUMMARY_CHARS): string {
  let text = page.markdown;
  if (page.title && !text.slice(0, 300).includes(page.title)) text = `# ${page.title}\n\n${text}`;
  return text.length > max ? `${text.slice(0, max)}\n[… page continues]` : text;
}

function summaryMessages(page: PageOk, goal: string): Array<{ role: 'system' | 'user'; content: string }> {
  return [
    {
      role: 'system',
      content:
        'You extract information from a web page for a research agent. Report only what the page itself says that is ' +
        'relevant to the goal, keeping exact facts, names, dates, numbers and quotes. Do not add outside knowledge. ' +
        'If the page has nothing relevant, say so in one sentence and state briefly what the page is about. ' +
        'Answer in plain text, at most about 300 words.',
    },
    {
      role: 'user',
      content:
        `Goal: ${goal}\n\nURL: ${page.finalUrl}\n${page.title ? `Title: ${page.title}\n` : ''}` +
        `${page.truncated ? '(The page was truncated.)\n' : ''}\nPage content:\n${page.markdown}`,
    },
  ];
}

async function summarize(page: PageOk, goal: string, ctx: ToolContext, useLlm: boolean): Promise<string> {
  if (!useLlm || !ctx.llm) return excerpt(page);
  const llm = ctx.llm;
  let content: string | null | undefined;
  try {
    const completion = await llm.client().chat.completions.create(
      { model: llm.model, temperature: 0.3, max_tokens: 1000, messages: summaryMessages(page, goal) },
      { signal: ctx.signal },
    );
    content = completion.choices?.[0]?.message?.content;
  } catch (err) {
    throw classifyLlmError(err, { model: llm.model });
  }
  const text = (content ?? '').trim();
  if (!text) return `(the summariser returned nothing; page excerpt follows)\n${excerpt(page, FALLBACK_SUMMARY_CHARS)}`;
  return text.length > MAX_SUMMARY_CHARS ? `${text.slice(0, MAX_SUMMARY_CHARS - 1)}…` : text;
}

// ------------------------------------------------------------------------------------------- tool

function visitOptions(kwargs: Record<string, unknown>): VisitOptions {
  const readerSetting = (stringKwarg(kwargs, 'web_visit_reader') ?? 'auto').toLowerCase();
  if (!['auto', 'direct', 'jina'].includes(readerSetting)) {
    throw invalidInput(`environment_kwargs.web_visit_reader: expected one of "auto", "direct", "jina", got ${JSON.stringify(readerSetting)}`);
  }
  const jinaKey = process.env.JINA_API_KEY?.trim() || undefined;
  if (readerSetting === 'jina' && !jinaKey) {
    throw missingKey('Jina Reader (environment_kwargs.web_visit_reader "jina")', 'JINA_API_KEY', ', or set web_visit_reader to "direct"');
  }
  const reader = readerSetting === 'direct' || (readerSetting === 'auto' && !jinaKey) ? 'direct' : 'jina';
  const jinaUrl = (stringKwarg(kwargs, 'web_visit_jina_url') ?? DEFAULT_JINA_URL).replace(/\/+$/, '');
  return {
    reader,
    jinaKey,
    jinaUrl,
    timeoutMs: numberKwarg(kwargs, 'web_visit_timeout_seconds', 15, 0.001) * 1000,
    maxBytes: Math.round(numberKwarg(kwargs, 'web_visit_max_bytes', 2 * 1024 * 1024, 1)),
    maxRedirects: Math.round(numberKwarg(kwargs, 'web_visit_max_redirects', 5, 0)),
    maxChars: Math.round(numberKwarg(kwargs, 'web_visit_max_chars', DEFAULT_MAX_CHARS, 1)),
    allow: allowPrivateHosts(kwargs),
  };
}

export const webVisitTool: ToolDefinition<WebVisitArgs> = {
  name: 'web_visit',
  description:
    'Read 1–5 web pages (e.g. URLs from web_search) and get, for each page, a summary of what it says about your ' +
    'goal: facts, names, dates and numbers, with the page URL. State a precise goal. Pages that cannot be read ' +
    '(errors, timeouts, non-text files) are listed as failed.',
  schema: webVisitSchema,
  async execute(args, ctx) {
    const kwargs = ctx.environment_kwargs ?? {};
    const o = visitOptions(kwargs);
    const useLlm = booleanKwarg(kwargs, 'web_visit_summarize', true);
    const urls = [...new Set(args.urls)];

    const pages = await mapLimit(urls, MAX_PARALLEL, (u) => readPage(u, o, ctx));
    const ok = pages.filter((p): p is PageOk => p.ok);
    const summaries = await mapLimit(ok, MAX_PARALLEL, (p) => summarize(p, args.goal, ctx, useLlm));

    const blocks = ok.map((p, i) => {
      const moved = p.finalUrl !== p.url ? ` (redirected to ${p.finalUrl})` : '';
      return `${i + 1}. ${p.url}${moved}\n${summaries[i]}`;
    });
    const failed = pages.filter((p): p is PageFailed => !p.ok);
    if (failed.length) blocks.push(['**Failed URLs:**', ...failed.map((p) => `- ${p.url}: ${p.reason}`)].join('\n'));
    const text = blocks.join('\n\n');
    if (ok.length === 0) return { text, error: true };
    return { text, sources: ok.map((p) => p.url) };
  },
};
