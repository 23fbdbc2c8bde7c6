/**
 * A small, flaky web on 127.0.0.1 for the tool-failure scenario: a `local`-dialect search endpoint and the
 * pages its results point at, both failing on purpose.
 *
 * - `GET /search?q=…&k=…` → `{results: [{title, url, snippet}]}`, URLs `http://127.0.0.1:<port>/page/<slug>-<i>`
 *   (what web_search's `local` provider reads);
 * - `GET /page/<id>` → an HTML article about the page's topic (what web_visit reads).
 *
 * Request n (1-based, per server) fails according to a seeded PRNG draw: with `failShare` it answers 500, with
 * `hangShare` it hangs for `hangMs` and then answers normally (if the client is still there). `forcedFirst` pins
 * the faults of the first requests of a path prefix, so every run sees each kind at least once. Every request is logged.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChaosPrng } from './harness';

export type WebFault = 'fail500' | 'hang' | null;

export interface FlakyWebLog {
  n: number;
  path: string;
  fault: WebFault;
}

export interface FlakyWeb {
  url: string;
  /** `127.0.0.1:<port>` for environment_kwargs.allow_private_hosts. */
  hostPort: string;
  log: FlakyWebLog[];
  close(): Promise<void>;
}

export interface FlakyWebOptions {
  salt: string;
  failShare: number;
  hangShare: number;
  hangMs: number;
  /** Faults of the first requests per path prefix, e.g. {'/search': ['hang', 'fail500']}: each kind seen at least once. */
  forcedFirst?: Record<string, WebFault[]>;
}

function slug(q: string): string {
  return q.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'q';
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export async function startFlakyWeb(opts: FlakyWebOptions): Promise<FlakyWeb> {
  const log: FlakyWebLog[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let count = 0;
  let port = 0;

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    if (url.pathname === '/search') {
      const q = url.searchParams.get('q') ?? '';
      const k = Math.min(10, Math.max(1, Number(url.searchParams.get('k') ?? 5) || 5));
      const results = Array.from({ length: k }, (_, i) => ({
        title: `${q} — part ${i + 1}`,
        url: `http://127.0.0.1:${port}/page/${slug(q)}-${i + 1}`,
        snippet: `Part ${i + 1} of what the flaky web knows about ${q}.`,
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ results }));
    }
    if (url.pathname.startsWith('/page/')) {
      const id = decodeURIComponent(url.pathname.slice('/page/'.length));
      const topic = id.replace(/-\d+$/, '').replace(/-/g, ' ');
      const t = escapeHtml(topic);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(
        `<!doctype html><html><head><title>${t} | Flaky Encyclopedia</title></head><body>` +
          `<nav><a href="/">Home</a></nav><main><article><h1>${t}</h1>` +
          `<p>The article on ${t} was first written in 1921 by the Flaky Encyclopedia society in Geneva, ` +
          `which catalogued 4,217 related entries over the following decades.</p>` +
          `<p>Scholars connect ${t} with the Analytical Engine designed by Charles Babbage in 1837 and with the ` +
          `notes Ada Lovelace published in 1843; see <a href="/page/${escapeHtml(slug(topic))}-9">related work</a>.</p>` +
          `</article></main><footer>Flaky Encyclopedia</footer></body></html>`,
      );
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  };

  const server = http.createServer((req, res) => {
    req.resume();
    const n = ++count;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const draw = new ChaosPrng(`${opts.salt}:${n}`).next();
    const prefix = Object.keys(opts.forcedFirst ?? {}).find((p) => url.pathname.startsWith(p));
    const seen = prefix ? log.filter((r) => r.path.startsWith(prefix)).length : 0;
    const fault: WebFault =
      prefix && seen < opts.forcedFirst![prefix]!.length ? opts.forcedFirst![prefix]![seen]!
        : draw < opts.failShare ? 'fail500'
          : draw < opts.failShare + opts.hangShare ? 'hang'
            : null;
    log.push({ n, path: url.pathname + url.search, fault });
    if (fault === 'fail500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'flaky web: scripted HTTP 500' }));
    }
    if (fault === 'hang') {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!res.destroyed) answer(req, res, url);
      }, opts.hangMs);
      timers.add(t);
      res.on('close', () => {
        clearTimeout(t);
        timers.delete(t);
      });
      return;
    }
    answer(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    log,
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
