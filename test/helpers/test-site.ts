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
 * Messy answers (web_visit must isolate each):
 * - `/paper.pdf`          a real 2-page PDF (application/pdf); `/paper-octet` the same as application/octet-stream
 * - `/pdf-as-html`        the same PDF bytes served as text/html
 * - `/encrypted.pdf`, `/scanned.pdf`, `/corrupt.pdf`  PDFs that cannot be read (password, no text layer, broken)
 * - `/empty`, `/whitespace`  text/html with an empty / whitespace-only body
 * - `/binary-as-html`     random bytes (with NULs) as text/html; `/zip-as-html` a ZIP header as text/html
 * - `/text-as-html`       plain text (no markup) as text/html; `/fragment` an HTML fragment without <html>
 * - `/js-only`            HTML whose only content is a script
 * - `/utf16-mislabelled`  ASCII HTML declared `charset=utf-16`; `/latin1-undeclared` windows-1252 bytes, no charset
 * - `/nul-huge`           5 MB of NUL bytes as text/html
 * - `/jina/<url>`         a fake Jina Reader (checks `Authorization: Bearer <JINA_TEST_KEY>`)
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const PDF_DIR = join(__dirname, '..', 'fixtures', 'pdf');
/** The text PDF fixture (2 pages, Title "The Difference Engine No. 2"). */
export const PAPER_PDF = readFileSync(join(PDF_DIR, 'difference-engine.pdf'));
const ENCRYPTED_PDF = readFileSync(join(PDF_DIR, 'encrypted.pdf'));
const SCANNED_PDF = readFileSync(join(PDF_DIR, 'scanned.pdf'));
// A PDF header followed by nothing a PDF reader can use.
const CORRUPT_PDF = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\nthis is not a PDF any more\n', 'latin1');
// Deterministic "random" bytes with NULs (a xorshift generator, so the test data never changes).
const BINARY = (() => {
  const out = Buffer.alloc(4096);
  let x = 0x12345678;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = i % 97 === 0 ? 0 : x & 0xff;
  }
  return out;
})();

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
      case '/paper.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf' });
        return res.end(PAPER_PDF);
      case '/paper-octet':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(PAPER_PDF);
      case '/pdf-as-html':
        return html(PAPER_PDF);
      case '/encrypted.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf' });
        return res.end(ENCRYPTED_PDF);
      case '/scanned.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf' });
        return res.end(SCANNED_PDF);
      case '/corrupt.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf' });
        return res.end(CORRUPT_PDF);
      case '/empty':
        return html('');
      case '/whitespace':
        return html('  \n\t \n');
      case '/binary-as-html':
        return html(BINARY);
      case '/zip-as-html':
        return html(Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]), Buffer.from('word/document.xml')]));
      case '/text-as-html':
        return html('TEXT-AS-HTML: The Jacquard loom, patented in 1804, used punched cards.\nBabbage adopted them.\n');
      case '/fragment':
        return html('<p>FRAGMENT-TEXT: Menabrea published his paper on the engine in 1842.</p><p>Second paragraph.</p>');
      case '/js-only':
        return html('<!doctype html><html><head><title>App</title><script>document.write("x")</script></head><body><div id="root"></div><script src="/app.js"></script></body></html>');
      case '/utf16-mislabelled':
        return html('<html><body><p>UTF16-MISLABELLED: plain ASCII text declared as UTF-16.</p></body></html>', 200, { 'content-type': 'text/html; charset=utf-16' });
      case '/latin1-undeclared':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(Buffer.from('<html><body><p>LATIN1-UNDECLARED: Caf\xe9 M\xfcller, 5 \x80.</p></body></html>', 'latin1'));
      case '/nul-huge':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(Buffer.alloc(5 * 1024 * 1024));
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
