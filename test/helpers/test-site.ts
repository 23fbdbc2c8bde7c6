/**
 * A small website on 127.0.0.1 for web_visit / safeFetch tests:
 * - `/article`            HTML with nav, header, aside, footer, script and an article (headings, paragraphs, links)
 * - `/redirect/1`         302 → `/redirect/2` 301 → `/article`
 * - `/loop`               redirects to itself
 * - `/to-private`         302 → `http://10.0.0.1/`
 * - `/to-metadata`        302 → `http://169.254.169.254/latest/meta-data`
 * - `/slow`               answers after `slowMs` (default 30 s; the timer is cleared on close)
 * - `/huge`               5 MB of HTML streamed (stops when the client goes away)
 * - `/image.png`          a PNG
 * - `/latin1`             windows-1252 bytes (é, ü, €) declared only by `<meta charset="windows-1252">`
 * - `/plain.txt`          text/plain
 * - `/data.json`          application/json (compact)
 * - `/gzip-article`       the article, gzip-encoded
 * - `/no-article`         a short page Readability finds no article in
 * - `/missing`            404
 * - `/jina/<url>`         a fake Jina Reader (checks `Authorization: Bearer <JINA_TEST_KEY>`)
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export const JINA_TEST_KEY = 'jina_test_key_0123456789';

export const ARTICLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The Analytical Engine | Example Encyclopedia</title>
<script>window.tracking = "TRACKING-SCRIPT-TEXT";</script><style>.x{color:red}</style></head>
<body>
<header><div class="logo">SITE-HEADER-LOGO</div></header>
<nav><ul><li><a href="/">NAV-HOME</a></li><li><a href="/about">NAV-ABOUT</a></li><li><a href="/contact">NAV-CONTACT</a></li></ul></nav>
<aside class="sidebar"><h3>Related</h3><p>SIDEBAR-AD-TEXT buy now</p></aside>
<main><article>
<h1>The Analytical Engine</h1>
<p>The Analytical Engine was a proposed mechanical general-purpose computer designed by the English mathematician
Charles Babbage. It was first described in 1837 as the successor to Babbage's Difference Engine.</p>
<h2>Design</h2>
<p>The engine incorporated an arithmetic logic unit, control flow in the form of conditional branching and loops,
and integrated memory. Its store could hold 1,000 numbers of 40 decimal digits each.</p>
<p>Ada Lovelace wrote the first published algorithm for the engine in 1843; see <a href="/people/ada-lovelace">Ada Lovelace</a>
and the <a href="https://example.org/notes">translated notes</a>.</p>
<h2>Legacy</h2>
<p>Although the engine was never built, its design anticipated many features of modern computers. Historians
consider it a milestone in the history of computing, and a partial model is on display at the Science Museum in London.</p>
</article></main>
<footer><p>SITE-FOOTER-COPYRIGHT 2024</p></footer>
<script>console.log("FOOTER-SCRIPT-TEXT")</script>
</body></html>`;

// "Café Müller – 5 €" etc. in windows-1252.
const LATIN1_HTML = Buffer.concat([
  Buffer.from('<!doctype html><html><head><meta charset="windows-1252"><title>Caf', 'latin1'),
  Buffer.from([0xe9]),
  Buffer.from(' M', 'latin1'),
  Buffer.from([0xfc]),
  Buffer.from('ller</title></head><body><article><h1>Caf', 'latin1'),
  Buffer.from([0xe9]),
  Buffer.from(' M', 'latin1'),
  Buffer.from([0xfc]),
  Buffer.from(
    'ller</h1><p>The Caf\xe9 M\xfcller in Z\xfcrich sells coffee for 5 \x80. It opened in 1921 and is famous for its ' +
      'cr\xe8me br\xfbl\xe9e, which visitors from all over the world come to taste in the old town every summer.</p>' +
      '<p>The owner, J\xfcrgen M\xfcller, says the recipe has not changed since his grandmother ran the caf\xe9.</p>' +
      '</article></body></html>',
    'latin1',
  ),
]);

// 1x1 transparent PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4f50000000049454e44ae426082',
  'hex',
);

export interface TestSite {
  url: string;
  port: number;
  /** `127.0.0.1:<port>` for allow_private_hosts. */
  hostPort: string;
  /** Paths requested so far (in order). */
  hits: string[];
  close(): Promise<void>;
}

export async function startTestSite(opts: { slowMs?: number } = {}): Promise<TestSite> {
  const slowMs = opts.slowMs ?? 30_000;
  const timers = new Set<NodeJS.Timeout>();
  const hits: string[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    hits.push(req.url ?? '/');
    const html = (body: string | Buffer, status = 200, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...extra });
      res.end(body);
    };
    const redirect = (status: number, location: string) => {
      res.writeHead(status, { location });
      res.end();
    };

    if (path.startsWith('/jina/')) {
      if (req.headers.authorization !== `Bearer ${JINA_TEST_KEY}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ code: 401, message: 'Invalid API key' }));
      }
      const target = (req.url ?? '').slice('/jina/'.length);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`Title: Jina view of ${target}\n\nURL Source: ${target}\n\nMarkdown Content:\nJINA-READER-CONTENT about the Analytical Engine, described in 1837.`);
    }

    switch (path) {
      case '/article':
        return html(ARTICLE_HTML);
      case '/gzip-article':
        return html(gzipSync(Buffer.from(ARTICLE_HTML)), 200, { 'content-encoding': 'gzip' });
      case '/redirect/1':
        return redirect(302, '/redirect/2');
      case '/redirect/2':
        return redirect(301, `http://127.0.0.1:${port}/article`);
      case '/loop':
        return redirect(302, '/loop');
      case '/to-private':
        return redirect(302, 'http://10.0.0.1/');
      case '/to-metadata':
        return redirect(302, 'http://169.254.169.254/latest/meta-data');
      case '/slow': {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) html('<p>finally</p>');
        }, slowMs);
        timers.add(t);
        res.on('close', () => {
          clearTimeout(t);
          timers.delete(t);
        });
        return;
      }
      case '/huge': {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        const total = 5 * 1024 * 1024;
        const para = Buffer.from(`<p>${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(16)}</p>\n`);
        let sent = 0;
        res.write('<!doctype html><html><head><title>Huge page</title></head><body><article><h1>Huge page</h1>\n');
        const pump = () => {
          while (sent < total && !res.destroyed) {
            sent += para.length;
            if (!res.write(para)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end('</article></body></html>');
        };
        return pump();
      }
      case '/image.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(PNG.length) });
        return res.end(PNG);
      case '/latin1':
        return html(LATIN1_HTML, 200, { 'content-type': 'text/html' });
      case '/plain.txt':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        return res.end('PLAIN-TEXT line one.\nThe Difference Engine was designed in 1822.\n');
      case '/data.json':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ name: 'Analytical Engine', year: 1837, designer: 'Charles Babbage' }));
      case '/no-article':
        return html('<html><head><title>Tiny</title></head><body><nav>NAV-ONLY</nav><div>TINY-BODY-TEXT 42</div><footer>FOOT</footer></body></html>');
      default:
        return html('<h1>Not found</h1>', 404);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hostPort: `127.0.0.1:${port}`,
    hits,
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
