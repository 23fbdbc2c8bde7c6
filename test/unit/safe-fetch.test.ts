import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBody,
  FetchError,
  FetchRefusedError,
  nonPublicReason,
  parseContentType,
  safeFetch,
  type SafeFetchOptions,
} from '../../src/tools/net/safe-fetch';
import { installConnectGuard, type ConnectGuard } from '../helpers/connect-guard';
import { startTestSite, type TestSite } from '../helpers/test-site';

let site: TestSite;
let guard: ConnectGuard;

/** Maps test hostnames to addresses; anything else fails (nothing resolves externally). */
const resolver = async (host: string): Promise<string[]> => {
  const table: Record<string, string[]> = {
    'evil.test': ['127.0.0.1'],
    'public.test': ['127.0.0.1'],
    'mixed.test': ['93.184.216.34', '10.1.2.3'],
    'meta.test': ['169.254.169.254'],
  };
  const answer = table[host];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answer;
};

function opts(extra: Partial<SafeFetchOptions> = {}): SafeFetchOptions {
  return { timeoutMs: 5000, maxBytes: 1024 * 1024, maxRedirects: 5, allowPrivate: [], resolver, ...extra };
}

function allowSite(extra: Partial<SafeFetchOptions> = {}): SafeFetchOptions {
  return opts({ allowPrivate: [site.hostPort], ...extra });
}

before(async () => {
  site = await startTestSite({ slowMs: 20_000 });
  guard = installConnectGuard();
});
after(async () => {
  guard.uninstall();
  await site.close();
});
beforeEach(() => guard.reset());

describe('nonPublicReason', () => {
  it('classifies loopback, private, link-local, CGNAT, multicast, unspecified and mapped forms', () => {
    const expectations: Array<[string, RegExp | null]> = [
      ['127.0.0.1', /loopback/],
      ['127.255.0.9', /loopback/],
      ['::1', /loopback/],
      ['10.0.0.1', /private/],
      ['172.16.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.168.1.1', /private/],
      ['169.254.169.254', /link-local/],
      ['100.64.0.1', /carrier-grade/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['224.0.0.251', /multicast/],
      ['ff02::1', /multicast/],
      ['fe80::1', /link-local/],
      ['fc00::1', /private/],
      ['fd12:3456::1', /private/],
      ['::ffff:127.0.0.1', /loopback.*IPv4-mapped/],
      ['::ffff:a00:1', /private.*IPv4-mapped/],
      ['64:ff9b::a9fe:a9fe', /link-local.*NAT64/],
      ['not-an-ip', /not a valid/],
      ['8.8.8.8', null],
      ['172.32.0.1', null],
      ['100.128.0.1', null],
      ['2606:4700:4700::1111', null],
      ['::ffff:8.8.8.8', null],
    ];
    for (const [ip, want] of expectations) {
      const got = nonPublicReason(ip);
      if (want === null) assert.equal(got, null, ip);
      else assert.match(got ?? '', want, ip);
    }
  });
});

describe('safeFetch: SSRF refusals (default: nothing private)', () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ['loopback IPv4', () => `http://127.0.0.1:${site.port}/article`, /127\.0\.0\.1 a loopback address; allow it with environment_kwargs\.allow_private_hosts/],
    ['loopback IPv6', () => `http://[::1]:${site.port}/article`, /::1 a loopback address/],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data', /169\.254\.169\.254 a link-local address/],
    ['private 10/8', () => 'http://10.0.0.1/', /10\.0\.0\.1 a private address/],
    ['hostname resolving to loopback', () => `http://evil.test:${site.port}/article`, /evil\.test resolves to 127\.0\.0\.1, a loopback address/],
    ['hostname resolving to metadata', () => 'http://meta.test/', /meta\.test resolves to 169\.254\.169\.254, a link-local/],
    ['any private address among several', () => 'http://mixed.test/', /mixed\.test resolves to 10\.1\.2\.3, a private address/],
    ['IPv4-mapped IPv6 loopback', () => 'http://[::ffff:127.0.0.1]/', /loopback address \(IPv4-mapped\)/],
    ['unspecified 0.0.0.0', () => 'http://0.0.0.0/', /0\.0\.0\.0 an unspecified/],
    ['numeric loopback spelling', () => `http://2130706433:${site.port}/`, /127\.0\.0\.1 a loopback address/],
    ['file scheme', () => 'file:///etc/passwd', /scheme file is not allowed/],
    ['credentials in URL', () => `http://user:pw@127.0.0.1:${site.port}/article`, /credentials/],
  ];
  for (const [name, url, reason] of cases) {
    it(`refuses ${name} before connecting`, async () => {
      const hitsBefore = site.hits.length;
      await assert.rejects(safeFetch(url(), opts()), (e: unknown) => {
        assert.ok(e instanceof FetchRefusedError, `expected FetchRefusedError, got ${String(e)}`);
        assert.match(e.message, reason);
        return true;
      });
      assert.deepEqual(guard.attempts, [], 'no connection was attempted');
      assert.equal(site.hits.length, hitsBefore);
    });
  }

  it('never puts URL credentials into the refusal message', async () => {
    await assert.rejects(safeFetch('http://user:s3cret@example.test/', opts()), (e: unknown) => e instanceof FetchRefusedError && !e.message.includes('s3cret'));
  });

  it('refuses a redirect from an allowed host to 10.0.0.1 or 169.254.169.254 without connecting to it', async () => {
    const allowed = opts({ allowPrivate: [`127.0.0.1:${site.port}`] });
    await assert.rejects(safeFetch(`http://public.test:${site.port}/to-private`, allowed), (e: unknown) => {
      assert.ok(e instanceof FetchRefusedError);
      assert.match(e.message, /http:\/\/10\.0\.0\.1\/: 10\.0\.0\.1 a private address/);
      return true;
    });
    await assert.rejects(safeFetch(`http://public.test:${site.port}/to-metadata`, allowed), (e: unknown) => {
      assert.ok(e instanceof FetchRefusedError);
      assert.match(e.message, /169\.254\.169\.254 a link-local address/);
      return true;
    });
    assert.ok(guard.attempts.every((a) => a.startsWith('127.0.0.1:')), guard.attempts.join(', '));
    assert.deepEqual(guard.blocked, []);
    assert.deepEqual(site.hits.slice(-2), ['/to-private', '/to-metadata']);
  });
});

describe('safeFetch: allowed fetches', () => {
  it('lets 127.0.0.1:<port> through when allow_private_hosts names it', async () => {
    const res = await safeFetch(`${site.url}/article`, allowSite());
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'text/html');
    assert.equal(res.charset, 'utf-8');
    assert.equal(res.truncated, false);
    assert.match(res.body.toString('utf8'), /The Analytical Engine/);
  });

  it('accepts ip, host and host:port entries, and a port mismatch is still refused', async () => {
    assert.equal((await safeFetch(`${site.url}/plain.txt`, opts({ allowPrivate: ['127.0.0.1'] }))).status, 200);
    assert.equal((await safeFetch(`http://public.test:${site.port}/plain.txt`, opts({ allowPrivate: ['public.test'] }))).status, 200);
    assert.equal((await safeFetch(`http://public.test:${site.port}/plain.txt`, opts({ allowPrivate: [`public.test:${site.port}`] }))).status, 200);
    await assert.rejects(safeFetch(`${site.url}/plain.txt`, opts({ allowPrivate: ['127.0.0.1:1'] })), FetchRefusedError);
    await assert.rejects(safeFetch(`http://evil.test:${site.port}/plain.txt`, opts({ allowPrivate: ['public.test'] })), FetchRefusedError);
  });

  it('connects to the vetted address (a name only the injected resolver knows) and keeps the URL', async () => {
    const res = await safeFetch(`http://public.test:${site.port}/article`, opts({ allowPrivate: [`127.0.0.1:${site.port}`] }));
    assert.equal(res.status, 200);
    assert.equal(res.url, `http://public.test:${site.port}/article`);
    assert.deepEqual(guard.attempts, [`127.0.0.1:${site.port}`]);
  });

  it('follows a 302 → 301 redirect chain and reports the final URL', async () => {
    const res = await safeFetch(`${site.url}/redirect/1`, allowSite());
    assert.equal(res.url, `${site.url}/article`);
    assert.match(res.body.toString('utf8'), /Analytical Engine/);
  });

  it('stops after maxRedirects', async () => {
    await assert.rejects(safeFetch(`${site.url}/redirect/1`, allowSite({ maxRedirects: 1 })), (e: unknown) => e instanceof FetchError && e.kind === 'redirects' && /Too many redirects/.test(e.message));
    await assert.rejects(safeFetch(`${site.url}/loop`, allowSite()), (e: unknown) => e instanceof FetchError && e.kind === 'redirects');
  });

  it('times out a slow page within the limit', async () => {
    const started = Date.now();
    await assert.rejects(safeFetch(`${site.url}/slow`, allowSite({ timeoutMs: 300 })), (e: unknown) => {
      assert.ok(e instanceof FetchError);
      assert.equal(e.kind, 'timeout');
      assert.match(e.message, /Timed out after 300 ms fetching http:\/\/127\.0\.0\.1:\d+\/slow/);
      return true;
    });
    assert.ok(Date.now() - started < 3000);
  });

  it('stops an external abort', async () => {
    const ac = new AbortController();
    const p = safeFetch(`${site.url}/slow`, allowSite({ signal: ac.signal }));
    setImmediate(() => ac.abort());
    await assert.rejects(p, (e: unknown) => e instanceof FetchError && e.kind === 'aborted');
  });

  it('caps a huge body at maxBytes', async () => {
    const res = await safeFetch(`${site.url}/huge`, allowSite({ maxBytes: 100_000 }));
    assert.equal(res.truncated, true);
    assert.equal(res.body.length, 100_000);
  });

  it('maxBytesByType replaces maxBytes for the named content type only', async () => {
    const byType = { 'application/pdf': 1024 * 1024 };
    const pdf = await safeFetch(`${site.url}/paper.pdf`, allowSite({ maxBytes: 1000, maxBytesByType: byType }));
    assert.equal(pdf.truncated, false);
    assert.equal(pdf.body.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok(pdf.body.length > 1000);
    const html = await safeFetch(`${site.url}/article`, allowSite({ maxBytes: 1000, maxBytesByType: byType }));
    assert.deepEqual([html.truncated, html.body.length], [true, 1000]);
    const pdfAsHtml = await safeFetch(`${site.url}/pdf-as-html`, allowSite({ maxBytes: 1000, maxBytesByType: byType }));
    assert.deepEqual([pdfAsHtml.truncated, pdfAsHtml.body.length], [true, 1000]);
  });

  it('decodes gzip bodies', async () => {
    const res = await safeFetch(`${site.url}/gzip-article`, allowSite());
    assert.match(res.body.toString('utf8'), /<h1>The Analytical Engine<\/h1>/);
  });

  it('sniffs <meta charset> and decodes windows-1252', async () => {
    const res = await safeFetch(`${site.url}/latin1`, allowSite());
    assert.equal(res.charset, 'windows-1252');
    const text = decodeBody(res.body, res.charset);
    assert.match(text, /Café Müller/);
    assert.match(text, /5 €/);
  });

  it('turns HTTP error statuses into FetchError with status', async () => {
    await assert.rejects(safeFetch(`${site.url}/missing`, allowSite()), (e: unknown) => e instanceof FetchError && e.kind === 'status' && e.status === 404 && /HTTP 404/.test(e.message));
  });

  it('reports DNS failures as FetchError', async () => {
    await assert.rejects(safeFetch('http://unknown.test/', opts()), (e: unknown) => e instanceof FetchError && e.kind === 'dns' && /Cannot resolve unknown\.test/.test(e.message));
  });
});

describe('content type helpers', () => {
  it('parses content types and decodes charsets with fallbacks', () => {
    assert.deepEqual(parseContentType('Text/HTML; Charset="ISO-8859-1"'), { type: 'text/html', charset: 'iso-8859-1' });
    assert.deepEqual(parseContentType(undefined), { type: '', charset: null });
    assert.equal(decodeBody(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'iso-8859-1'), 'café');
    assert.equal(decodeBody(Buffer.from([0x82, 0xa0]), 'shift_jis'), 'あ');
    assert.equal(decodeBody(Buffer.from('héllo', 'utf8'), 'no-such-charset'), 'héllo');
    assert.equal(decodeBody(Buffer.from('héllo', 'utf8'), null), 'héllo');
  });
});
