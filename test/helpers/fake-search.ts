/**
 * A fake search backend on 127.0.0.1 speaking four provider dialects under distinct prefixes:
 * - Serper  `POST /serper/search` (and `/serper/news`), `X-API-KEY` checked, body `{q, num}` → `{organic: [{title, link, snippet}]}`
 * - Tavily  `POST /tavily/search`, `Authorization: Bearer` checked, body `{query, max_results}` → `{results: [{title, url, content}]}`
 * - SearXNG `GET /searxng/search?q=…&format=json` → `{results: [{title, url, content}]}` (always 12 results)
 * - local   `GET /local/search?q=…&k=…` → `{results: [{title, url, snippet}]}`
 *
 * Results are built from the query (`Result <i> for <q>`, `https://example.test/<slug>/<i>`); the query `nothing`
 * yields no results. `script()` injects faults (status + headers, delays) per prefix and/or query.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export const SERPER_KEY = 'test-serper-key-0123456789';
export const TAVILY_KEY = 'tvly-test-key-0123456789';

export interface SearchFault {
  /** Path prefix the fault applies to (`/serper`, `/tavily`, …); all when absent. */
  prefix?: string;
  /** Only requests whose query contains this text. */
  query?: string;
  /** How many times the fault fires (default: unlimited). */
  times?: number;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many ms (timer cleared on close). */
  delayMs?: number;
}

export interface SearchRequestLog {
  method: string;
  path: string;
  query: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakeSearch {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** `127.0.0.1:<port>`, for environment_kwargs.allow_private_hosts. */
  hostPort: string;
  requests: SearchRequestLog[];
  script(faults: SearchFault[]): void;
  close(): Promise<void>;
}

function slug(q: string): string {
  return q.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'q';
}

function hits(q: string, n: number): Array<{ title: string; url: string; snippet: string }> {
  if (q.includes('nothing')) return [];
  return Array.from({ length: Math.max(0, n) }, (_, i) => ({
    title: `Result ${i + 1} for ${q}`,
    url: `https://example.test/${slug(q)}/${i + 1}`,
    snippet: `Snippet ${i + 1} about ${q}.`,
  }));
}

export async function startFakeSearch(): Promise<FakeSearch> {
  const requests: SearchRequestLog[] = [];
  let faults: Array<SearchFault & { fired: number }> = [];
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        return send(res, 400, { error: 'invalid JSON body' });
      }
      const prefix = `/${url.pathname.split('/')[1] ?? ''}`;
      const q = String(body.q ?? body.query ?? url.searchParams.get('q') ?? '');
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, query: q, headers: req.headers, body });

      const answer = () => {
        const fault = faults.find(
          (f) => (!f.prefix || f.prefix === prefix) && (!f.query || q.includes(f.query)) && (f.times === undefined || f.fired < f.times),
        );
        if (fault) {
          fault.fired++;
          if (fault.status) return send(res, fault.status, fault.body ?? { error: `scripted ${fault.status}` }, fault.headers);
        }
        switch (url.pathname) {
          case '/serper/search':
          case '/serper/news': {
            if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
            if (req.headers['x-api-key'] !== SERPER_KEY) return send(res, 401, { message: 'Unauthorized.', statusCode: 401 });
            const n = Math.min(Number(body.num ?? 10), 20);
            return send(res, 200, { searchParameters: { q }, organic: hits(q, n).map((h) => ({ title: h.title, link: h.url, snippet: h.snippet })) });
          }
          case '/tavily/search': {
            if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
            if (req.headers.authorization !== `Bearer ${TAVILY_KEY}`) return send(res, 401, { detail: { error: 'Unauthorized: missing or invalid API key.' } });
            const n = Math.min(Number(body.max_results ?? 5), 20);
            return send(res, 200, { query: q, results: hits(q, n).map((h) => ({ title: h.title, url: h.url, content: h.snippet, score: 0.9 })) });
          }
          case '/searxng/search': {
            if (url.searchParams.get('format') !== 'json') return send(res, 403, 'format not allowed', { 'content-type': 'text/plain' });
            return send(res, 200, { query: q, results: hits(q, 12).map((h) => ({ title: h.title, url: h.url, content: h.snippet, engine: 'fake' })) });
          }
          case '/local/search': {
            const k = Number(url.searchParams.get('k') ?? 5);
            return send(res, 200, { results: hits(q, k) });
          }
          default:
            return send(res, 404, { error: 'not found' });
        }
      };
      const delay = faults.find((f) => f.delayMs && (!f.prefix || f.prefix === prefix) && (!f.query || q.includes(f.query)))?.delayMs;
      if (delay) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) answer();
        }, delay);
        timers.add(t);
      } else {
        answer();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hostPort: `127.0.0.1:${port}`,
    requests,
    script(next) {
      faults = next.map((f) => ({ ...f, fired: 0 }));
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
