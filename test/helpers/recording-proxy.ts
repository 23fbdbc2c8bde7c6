/**
 * A recording reverse proxy on 127.0.0.1 (node:http only): every request is forwarded unchanged to `upstream`
 * and recorded — method, path, parsed JSON body, status, response headers and body, timings, and whether the
 * client went away before the answer came. Used between qasynth and a real OpenAI-compatible server so a test
 * can count (and inspect) the requests actually sent, which the server itself does not tell.
 */
import * as http from 'node:http';
import { listen } from '../../src/server/listen';

/** One proxied exchange. Times are `Date.now()` milliseconds. */
export interface ProxiedExchange {
  /** 1-based arrival order. */
  n: number;
  method: string;
  /** Path and query as the client sent them, e.g. `/v1/chat/completions`. */
  path: string;
  /** The request body parsed as JSON, or the raw text when it is not JSON (`null` when empty). */
  body: unknown;
  startedAt: number;
  /** When the upstream answer was fully relayed (`null` while in flight or when it never finished). */
  finishedAt: number | null;
  /** Upstream HTTP status (`null` while in flight or when the upstream could not be reached). */
  status: number | null;
  responseHeaders: http.IncomingHttpHeaders;
  /** The upstream response body as text (kept in full: these are small chat completions). */
  responseText: string;
  /** True when the client closed its connection before the answer was relayed. */
  clientAborted: boolean;
  /** The error text when the upstream could not be reached or broke mid-answer. */
  upstreamError: string | null;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>` (append `/v1` for an OpenAI base URL). */
  url: string;
  port: number;
  /** Every exchange so far, in arrival order (live objects: in-flight ones update as they finish). */
  exchanges: ProxiedExchange[];
  /** Exchanges whose path starts with `/v1/chat/completions`. */
  chatCompletions(): ProxiedExchange[];
  /** Called on each new request (after it is recorded, before it is forwarded). */
  onRequest(listener: (ex: ProxiedExchange) => void): void;
  close(): Promise<void>;
}

/**
 * Starts the proxy. `upstream` is an origin such as `http://127.0.0.1:8000` (any path in it is ignored; the
 * client's path is forwarded as is). When the client disconnects, the upstream request is aborted too, the way
 * a direct connection would have been closed.
 */
export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const exchanges: ProxiedExchange[] = [];
  const listeners: ((ex: ProxiedExchange) => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      const ex: ProxiedExchange = {
        n: exchanges.length + 1,
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        body,
        startedAt: Date.now(),
        finishedAt: null,
        status: null,
        responseHeaders: {},
        responseText: '',
        clientAborted: false,
        upstreamError: null,
      };
      exchanges.push(ex);
      for (const l of listeners) l(ex);
      const headers = { ...req.headers, host: target.host, 'content-length': String(raw.length) };
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (upRes) => {
          ex.status = upRes.statusCode ?? null;
          ex.responseHeaders = upRes.headers;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.on('data', (c: Buffer) => {
            ex.responseText += c.toString('utf8');
            res.write(c);
          });
          upRes.on('end', () => {
            ex.finishedAt = Date.now();
            res.end();
          });
          upRes.on('error', (e) => {
            ex.upstreamError = e.message;
            res.destroy();
          });
        },
      );
      up.on('error', (e) => {
        if (ex.clientAborted) return;
        ex.upstreamError = e.message;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `recording proxy: upstream ${upstream} unreachable: ${e.message}` } }));
        } else res.destroy();
      });
      // The client went away before the answer was relayed: close the upstream request as well.
      res.on('close', () => {
        if (ex.finishedAt === null) {
          ex.clientAborted = true;
          up.destroy();
        }
      });
      up.end(raw);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    exchanges,
    chatCompletions: () => exchanges.filter((e) => e.path.startsWith('/v1/chat/completions')),
    onRequest: (l) => listeners.push(l),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
