/**
 * `web_visit` (web mode): reads 1–5 pages and returns, per page, a summary of what it says about `goal`,
 * keeping each source URL (the original lost it).
 *
 * Per URL (at most 5 at once):
 * 1. fetch: directly with safeFetch (SSRF checks on every redirect hop; private hosts need
 *    `environment_kwargs.allow_private_hosts`), or through Jina Reader (`GET <jina>/<url>`, Bearer $JINA_API_KEY)
 *    when `web_visit_reader` is `jina`, or `auto` (default) and JINA_API_KEY is set;
 * 2. convert (responseToMarkdown): the body is sniffed, not only its Content-Type (net/sniff.ts). HTML → charset
 *    decoding → linkedom → @mozilla/readability → turndown markdown (absolute links); text/plain and markdown as
 *    is; JSON pretty-printed; PDF (by its `%PDF-` header, whatever the declared type; up to 10 MB) → its text
 *    with unpdf (pdf-text.ts). Refused with a reason: declared images/audio/video/fonts/archives, binary bodies
 *    under a text type, empty bodies, HTML without readable text, PDFs that cannot be read (encrypted, corrupt,
 *    cut short, scanned images only);
 * 3. truncate to `web_visit_max_chars` (default 50,000) and summarise against the goal with `ctx.llm`
 *    (temperature 0.3, max_tokens 1000). Without an LLM, or with `web_visit_summarize: false`, the first
 *    3,000 characters of the page stand in for the summary. What the summaries cost (calls, requests, tokens)
 *    comes back as the observation's `llm_usage`, which the workflow charges to the seed.
 *
 * Each URL is isolated: whatever fails while fetching or converting it (including a parser exception) becomes
 * that URL's entry in `**Failed URLs:**\n- <url>: <reason>` (reason ≤ 300 characters), listed after
 * `"1. <url>\n<summary>\n\n2. …"`. The observation is an error only when every URL failed. Thrown instead: a Jina
 * Reader 401/403/429 (ToolAuth / RateLimited), and LLM errors in the summary, classified (classifyLlmError) so
 * retryable ones retry the activity — once every other summary of the call has ended: each summary is kept in the
 * attempt memo (ToolContext.attemptMemo), so the retry pays only for the pages not yet summarised; the requests of
 * the summaries that failed are counted there too, and reported with the retry's `llm_usage.requests`.
 */
import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';
import { z } from 'zod';
import { ChatEndpoint } from '../llm/chat';
import { withProviderRequests } from '../llm/errors';
import { callUsage, recordPaid, recordUnanswered, rememberedSummary, type Summary } from './web-visit-usage';
import { splitThinking } from '../domain/parse';
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
import { FetchError, FetchRefusedError, safeFetch, sniffHtmlCharset, type SafeFetchResponse } from './net/safe-fetch';
import { decodeText, looksLikeHtml, looksLikeJson, sniffBody } from './net/sniff';
import { PDF_MAX_BYTES, PdfReadError, pdfToText } from './pdf-text';
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

/**
 * Parses `html` into a whole document. linkedom needs an `<html>` root: without one, a fragment (`<p>…</p>`)
 * becomes a document whose root is the `<p>` and whose body is empty, and text without any tag a document
 * without root, on which `doc.head`/`doc.body` throw. So fragments are wrapped: `<head>`/`<body>` pairs in
 * `<html>`, anything else in `<html><head>[its <title>]</head><body>…</body></html>`.
 */
function parseDocument(html: string): MiniDocument {
  const parse = (src: string) => parseHTML(src).document as unknown as MiniDocument & { documentElement?: { tagName?: string } | null };
  let doc: ReturnType<typeof parse> | null = null;
  if (/<html[\s>]/i.test(html)) {
    doc = parse(html);
    if (doc.documentElement?.tagName?.toUpperCase() !== 'HTML') doc = null;
  }
  if (!doc && /<head[\s>]/i.test(html) && /<body[\s>]/i.test(html)) {
    doc = parse(`<!DOCTYPE html><html>${html}</html>`);
  }
  if (!doc || !doc.documentElement) {
    const title = html.match(/<title[^>]*>[^<]*<\/title>/i)?.[0] ?? '';
    const body = title ? html.replace(title, '') : html;
    doc = parse(`<!DOCTYPE html><html><head>${title}</head><body>${body}</body></html>`);
  }
  if (!doc.documentElement || !doc.body) throw new Error('the HTML could not be parsed into a document');
  return doc;
}

/** Parses `html`, makes `baseUrl` the document base (or resolves an existing `<base>`) and removes page chrome. */
function prepareDocument(html: string, baseUrl: string): MiniDocument {
  const doc = parseDocument(html);
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
  /** The body was cut at web_visit_max_bytes, the text at web_visit_max_chars, or a PDF's pages at PDF_MAX_PAGES. */
  truncated: boolean;
}
interface PageFailed {
  url: string;
  ok: false;
  reason: string;
}
type PageOutcome = PageOk | PageFailed;

/** Longest failure reason listed per URL (characters); longer ones (a server's long redirect URL) are cut. */
export const MAX_REASON_CHARS = 300;

const READS = 'web_visit reads HTML, plain text, markdown, JSON and PDF';
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const PDF_TYPES = new Set(['application/pdf', 'application/x-pdf']);
/** Content types that say nothing about the body: it is sniffed. */
const UNSPECIFIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json';
}

function isXmlType(type: string): boolean {
  return type === 'application/xml' || (type.endsWith('+xml') && !type.startsWith('image/'));
}

/** Declared types whose body is examined; anything else (images, audio, video, fonts, archives) is refused unread. */
function isReadableType(type: string): boolean {
  return UNSPECIFIC_TYPES.has(type) || HTML_TYPES.has(type) || PDF_TYPES.has(type) || type.startsWith('text/') || isJsonType(type) || isXmlType(type);
}

/** Text of a page, and whether it was shortened on the way. */
export interface PageContent {
  title: string;
  markdown: string;
  /** A PDF's pages or characters were capped. */
  truncated?: boolean;
}

export interface ConvertOptions {
  /** Characters kept (PDF reading stops there; other text is cut by the caller). Default DEFAULT_MAX_CHARS. */
  maxChars?: number;
  /** The body was cut at this many bytes (named when a cut PDF cannot be parsed). */
  cutAtBytes?: number;
  signal?: AbortSignal;
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').trim() || (err instanceof Error ? err.name : 'unknown error');
}

/**
 * Converts a fetched response to markdown, or returns why it cannot be read. The body is sniffed, not only the
 * Content-Type: a declared image/audio/video/font/archive type is refused unread ("unsupported content type …");
 * otherwise an empty body, PDF bytes (read with unpdf, whatever the declared type) and binary data (NUL bytes, or
 * the signature of a PNG, ZIP, …) are recognised first. Text is decoded (declared or `<meta>` charset, with a
 * windows-1252 fallback for bytes that are not UTF-8) and read as HTML (Readability → markdown) when declared
 * HTML and it contains markup, as JSON (pretty-printed) when declared JSON, as HTML or JSON when the type is
 * missing or unspecific and the text looks like one, else as plain text. May throw (an HTML parser failure):
 * the caller turns that into this URL's failure.
 */
export async function responseToMarkdown(
  res: Pick<SafeFetchResponse, 'url' | 'contentType' | 'charset' | 'body'>,
  opts: ConvertOptions = {},
): Promise<PageContent | string> {
  const type = res.contentType;
  if (!isReadableType(type)) return `unsupported content type ${type} (${READS} pages)`;
  const sniffed = sniffBody(res.body, res.charset);
  if (sniffed.kind === 'empty') return `the server sent an empty body (${type || 'no content type'})`;
  if (sniffed.kind === 'pdf') {
    try {
      const pdf = await pdfToText(res.body, { maxChars: opts.maxChars ?? DEFAULT_MAX_CHARS, cutAtBytes: opts.cutAtBytes, signal: opts.signal });
      return { title: pdf.title, markdown: pdf.text, truncated: pdf.truncated };
    } catch (err) {
      if (err instanceof PdfReadError) return err.message;
      return `PDF could not be read: ${oneLine(err)}`;
    }
  }
  if (sniffed.kind === 'binary') return `unsupported content: ${sniffed.what}${type ? ` sent as ${type}` : ''} (${READS})`;

  const { text } = decodeText(res.body, res.charset ?? sniffHtmlCharset(res.body));
  if (!text.trim()) return `the server sent only whitespace (${type || 'no content type'})`;
  const unspecific = UNSPECIFIC_TYPES.has(type) || PDF_TYPES.has(type);
  const asJson = () => {
    try {
      return { title: '', markdown: '```json\n' + JSON.stringify(JSON.parse(text), null, 2) + '\n```' };
    } catch {
      return { title: '', markdown: text.trim() };
    }
  };
  if (isJsonType(type) || (unspecific && looksLikeJson(text))) return asJson();
  if ((HTML_TYPES.has(type) || unspecific) && looksLikeHtml(text)) {
    const page = extractMainText(text, res.url);
    if (!page.markdown.trim()) return 'the HTML page has no readable text (it may need JavaScript to render)';
    return page;
  }
  return { title: '', markdown: text.replace(/\r\n?/g, '\n').trim() };
}

/** Jina Reader's answer (markdown as text/plain, first line `Title: …`), or why it has no text. */
function jinaContent(res: SafeFetchResponse): PageContent | string {
  const sniffed = sniffBody(res.body, res.charset);
  if (sniffed.kind === 'empty') return 'Jina Reader returned an empty body for this page';
  if (sniffed.kind !== 'text') return `Jina Reader returned ${sniffed.kind === 'pdf' ? 'PDF bytes' : sniffed.what} instead of text`;
  const text = decodeText(res.body, res.charset).text.trim();
  const title = text.match(/^Title:\s*(.+)$/m)?.[1]?.trim() ?? '';
  return { title, markdown: text };
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

function failed(url: string, reason: string): PageFailed {
  const short = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason;
  return { url, ok: false, reason: short };
}

/**
 * Fetches and converts one URL. Whatever goes wrong with this URL (refusal, network, HTTP status, a body that
 * cannot be read, a parser exception) becomes its failure entry; only a Jina Reader 401/403/429 (a problem of
 * the whole tool, not of this page) is thrown.
 */
async function readPage(url: string, o: VisitOptions, ctx: ToolContext): Promise<PageOutcome> {
  const checked = validatePageUrl(url);
  if (typeof checked === 'string') return failed(url, `refused: ${checked}`);
  const pdfCap = Math.max(o.maxBytes, PDF_MAX_BYTES);
  let res: SafeFetchResponse;
  try {
    if (o.reader === 'jina') {
      res = await safeFetch(`${o.jinaUrl}/${checked.href}`, {
        headers: { authorization: `Bearer ${o.jinaKey}`, accept: 'text/plain', 'x-return-format': 'markdown' },
        signal: ctx.signal,
        timeoutMs: o.timeoutMs,
        maxBytes: o.maxBytes,
        maxRedirects: o.maxRedirects,
        allowPrivate: o.allow,
      });
    } else {
      res = await safeFetch(checked.href, {
        signal: ctx.signal,
        timeoutMs: o.timeoutMs,
        maxBytes: o.maxBytes,
        maxBytesByType: Object.fromEntries([...PDF_TYPES].map((t) => [t, pdfCap])),
        maxRedirects: o.maxRedirects,
        allowPrivate: o.allow,
        headers: { accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,application/pdf;q=0.7,*/*;q=0.5' },
      });
    }
  } catch (err) {
    if (o.reader === 'jina' && err instanceof FetchError && err.kind === 'status' && [401, 403, 429].includes(err.status ?? 0)) {
      throw classifyBackendError(err, JINA)!;
    }
    if (err instanceof FetchRefusedError || err instanceof FetchError) return failed(url, err.message);
    return failed(url, `could not be fetched: ${oneLine(err)}`);
  }

  let converted: PageContent | string;
  try {
    converted = o.reader === 'jina'
      ? jinaContent(res)
      : await responseToMarkdown(res, {
          maxChars: o.maxChars,
          signal: ctx.signal,
          cutAtBytes: res.truncated ? (PDF_TYPES.has(res.contentType) ? pdfCap : o.maxBytes) : undefined,
        });
  } catch (err) {
    return failed(url, `could not be read (${res.contentType || 'no content type'}): ${oneLine(err)}`);
  }
  if (typeof converted === 'string') return failed(url, converted);
  let markdown = converted.markdown;
  let truncated = res.truncated || converted.truncated === true;
  if (markdown.length > o.maxChars) {
    markdown = markdown.slice(0, o.maxChars);
    truncated = true;
  }
  if (!markdown.trim()) return failed(url, 'the page has no readable text');
  return { url, ok: true, finalUrl: o.reader === 'jina' ? checked.href : res.url, title: converted.title, markdown, truncated };
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

/** Endpoints built for tool contexts that brought only a client (tests, scripts), one per client factory. */
const endpoints = new WeakMap<() => unknown, ChatEndpoint>();

/** Longest a page summary may take, in ms (the activity's own timeout and cancellation still apply). */
const SUMMARY_TIMEOUT_MS = 120_000;

async function summarize(page: PageOk, goal: string, ctx: ToolContext, useLlm: boolean): Promise<Summary> {
  if (!useLlm || !ctx.llm) return { text: excerpt(page) };
  const llm = ctx.llm;
  // Paid in an earlier attempt of this activity that failed afterwards (another page's summary hit a 429): reused,
  // and its cost is reported now, with this attempt's result.
  const memoKey = `web_visit/summary\n${llm.model}\n${page.url}\n${goal}`;
  const remembered = rememberedSummary(ctx.attemptMemo?.get(memoKey));
  if (remembered) return remembered;
  let sent = 0;
  let summary: Summary;
  try {
    summary = await summarizeNow(page, goal, ctx, llm, () => {
      sent += 1;
    });
  } catch (err) {
    recordUnanswered(ctx, sent);
    throw err;
  }
  ctx.attemptMemo?.set(memoKey, summary);
  recordPaid(ctx, summary);
  return summary;
}

async function summarizeNow(page: PageOk, goal: string, ctx: ToolContext, llm: NonNullable<ToolContext['llm']>, onRequest: () => void): Promise<Summary> {
  let endpoint = llm.endpoint ?? endpoints.get(llm.client);
  if (!endpoint) {
    endpoint = new ChatEndpoint({ client: llm.client });
    endpoints.set(llm.client, endpoint);
  }
  // Errors come classified (429 → retry later, 5xx → retry, auth → stop), so the activity retries or stops.
  const r = await endpoint.complete(
    { model: llm.model, temperature: 0.3, max_tokens: 1000, messages: summaryMessages(page, goal) },
    { signal: ctx.signal, timeoutMs: SUMMARY_TIMEOUT_MS, onRequest },
  );
  // A reasoning model may answer in its reasoning field, or after a <think> block.
  const content = r.reply ? splitThinking(r.reply.content).answer || r.reply.reasoning : '';
  const text = (content ?? '').trim();
  const cost = { requests: r.requests, input_tokens: r.usage.input_tokens, output_tokens: r.usage.output_tokens, usage_estimated: r.usage_estimated };
  if (!text) return { text: `(the summariser returned nothing; page excerpt follows)\n${excerpt(page, FALLBACK_SUMMARY_CHARS)}`, cost };
  return { text: text.length > MAX_SUMMARY_CHARS ? `${text.slice(0, MAX_SUMMARY_CHARS - 1)}…` : text, cost };
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
    'goal: facts, names, dates and numbers, with the page URL. Reads HTML, text, JSON and PDF. State a precise goal. ' +
    'Pages that cannot be read (errors, timeouts, images and other non-text files) are listed as failed.',
  schema: webVisitSchema,
  async execute(args, ctx) {
    const kwargs = ctx.environment_kwargs ?? {};
    const o = visitOptions(kwargs);
    const useLlm = booleanKwarg(kwargs, 'web_visit_summarize', true);
    const urls = [...new Set(args.urls)];

    const pages = await mapLimit(urls, MAX_PARALLEL, (u) => readPage(u, o, ctx));
    const ok = pages.filter((p): p is PageOk => p.ok);
    // Every summary ends before a failure is thrown, so each one paid is in the attempt memo for the retry.
    const settled = await mapLimit(ok, MAX_PARALLEL, (p) =>
      summarize(p, args.goal, ctx, useLlm).then(
        (summary) => ({ summary }),
        (error: unknown) => ({ error }),
      ),
    );
    const failure = settled.find((x): x is { error: unknown } => 'error' in x);
    if (failure) {
      // Should this be the last attempt, the seed learns from the failure how many requests the call sent in all
      // (as from an LLM activity's): the refused ones and those of the summaries it got, in every attempt — and
      // what those summaries cost, which the provider billed though no observation came of them.
      const usage = callUsage(ctx, settled.flatMap((x) => ('summary' in x ? [x.summary] : [])));
      throw withProviderRequests(failure.error, usage?.requests ?? 0, usage && usage.calls > 0 ? usage : undefined);
    }
    const summaries = settled.map((x) => (x as { summary: Summary }).summary);

    const blocks = ok.map((p, i) => {
      const moved = p.finalUrl !== p.url ? ` (redirected to ${p.finalUrl})` : '';
      return `${i + 1}. ${p.url}${moved}\n${summaries[i]!.text}`;
    });
    const failed = pages.filter((p): p is PageFailed => !p.ok);
    if (failed.length) blocks.push(['**Failed URLs:**', ...failed.map((p) => `- ${p.url}: ${p.reason}`)].join('\n'));
    const text = blocks.join('\n\n');
    const llmUsage = callUsage(ctx, summaries);
    if (ok.length === 0) return { text, error: true, ...(llmUsage ? { llm_usage: llmUsage } : {}) };
    return { text, sources: ok.map((p) => p.url), ...(llmUsage ? { llm_usage: llmUsage } : {}) };
  },
};
