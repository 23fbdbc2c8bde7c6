/**
 * HTTP(S) fetching for tools whose URLs come from a model or a web page (web_visit) or from config (web_search
 * providers), with SSRF protection:
 *
 * - only `http:` / `https:`; URLs with credentials (`user:pw@`) are refused;
 * - the host is resolved first (injectable `resolver`; default `dns.promises.lookup(host, {all: true})`) and the
 *   request is refused when ANY resolved address is loopback, private, link-local (incl. cloud metadata
 *   169.254.169.254), unspecified, CGNAT, multicast, reserved, or an IPv4-mapped/-compatible/NAT64 IPv6 form of
 *   those — unless `allowPrivate` names it (`ip`, `ip:port`, `host` or `host:port`);
 * - the socket connects to the vetted IP itself (Host header and TLS SNI keep the hostname), so a DNS answer that
 *   changes between the check and the connection (rebinding) cannot redirect the request;
 * - redirects are followed by hand, each hop validated the same way before any connection to it;
 * - one deadline covers the whole exchange (all hops and the body); the body is decompressed (gzip, deflate, br)
 *   and capped at `maxBytes` (the rest is not read: `truncated: true`).
 *
 * Refusals are `FetchRefusedError`; network problems, timeouts, redirect loops and HTTP error statuses are
 * `FetchError` (with `status` and `headers` for the latter).
 */
import { promises as dns } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';

export interface SafeFetchOptions {
  signal?: AbortSignal;
  /** Deadline for the whole request: every redirect hop and the body. */
  timeoutMs: number;
  /** Largest (decoded) body kept; reading stops there and `truncated` is set. */
  maxBytes: number;
  /**
   * Per media type (lower-case, without parameters, e.g. `application/pdf`), a cap that replaces `maxBytes` when
   * the response's Content-Type is that type (formats that cannot be read when cut short).
   */
  maxBytesByType?: Readonly<Record<string, number>>;
  maxRedirects: number;
  /** Private/loopback destinations allowed anyway: `ip`, `ip:port`, `host` or `host:port` (IPv6 may be bracketed). */
  allowPrivate: string[];
  headers?: Record<string, string>;
  method?: 'GET' | 'POST';
  body?: string;
  /** Resolves a hostname to IP addresses (tests inject one so nothing resolves externally). */
  resolver?: (host: string) => Promise<string[]>;
}

export interface SafeFetchResponse {
  /** Final URL after redirects. */
  url: string;
  status: number;
  /** Response headers, lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Media type without parameters, lower-cased (`text/html`); `''` when absent. */
  contentType: string;
  /** Charset from the Content-Type header or, for HTML, a `<meta charset>` in the first bytes; null if none. */
  charset: string | null;
  body: Buffer;
  truncated: boolean;
}

/** The request was refused before connecting (scheme, credentials, or a non-public destination). */
export class FetchRefusedError extends Error {
  override name = 'FetchRefusedError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Refused to fetch ${url}: ${reason}`);
  }
}

export type FetchErrorKind = 'network' | 'dns' | 'timeout' | 'aborted' | 'redirects' | 'status' | 'protocol';

/** The request was made (or attempted) and failed. */
export class FetchError extends Error {
  override name = 'FetchError';
  constructor(
    readonly url: string,
    readonly kind: FetchErrorKind,
    message: string,
    readonly status?: number,
    readonly headers?: Record<string, string>,
    /** The start of the error response body (HTTP status errors), as text. */
    readonly bodySnippet?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ALLOW_HINT = 'allow it with environment_kwargs.allow_private_hosts';
/** Headers dropped when a redirect leaves the original origin. */
const SENSITIVE_HEADERS = ['authorization', 'cookie', 'x-api-key', 'proxy-authorization'];

// --------------------------------------------------------------------------------------- address classification

function parseIPv4(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** 16 bytes of an IPv6 address (with optional embedded dotted IPv4 and zone id), or null. */
function parseIPv6(ip: string): number[] | null {
  let s = ip.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [(v4 >>> 24) & 255, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255];
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 255);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes.length === 16 ? bytes : null;
}

const V4_RANGES: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT (shared) address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'a reserved (IETF protocol) address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a reserved (benchmarking) address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

function v4Reason(n: number): string | null {
  for (const [base, bits, reason] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === ((parseIPv4(base)! & mask) >>> 0)) return reason;
  }
  return null;
}

/**
 * Why `ip` is not a public unicast address (`"a loopback address"`, …), or null when it is public.
 * Unparseable input counts as non-public.
 */
export function nonPublicReason(ip: string): string | null {
  const v4 = parseIPv4(ip);
  if (v4 !== null) return v4Reason(v4);
  const b = parseIPv6(ip);
  if (!b) return 'not a valid IP address';
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  const embedded = () => ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
  if (zeroUpTo(16)) return 'an unspecified address';
  if (zeroUpTo(15) && b[15] === 1) return 'a loopback address';
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) {
    const r = v4Reason(embedded());
    return r ? `${r} (IPv4-mapped)` : null;
  }
  if (zeroUpTo(12)) return 'an IPv4-compatible IPv6 address (deprecated)';
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) {
    const r = v4Reason(embedded());
    return r ? `${r} (NAT64)` : null;
  }
  if ((b[0]! & 0xfe) === 0xfc) return 'a private (unique local) address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'a link-local address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'a site-local address (deprecated)';
  if (b[0] === 0xff) return 'a multicast address';
  return null;
}

// ------------------------------------------------------------------------------------------------ helpers

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** True when an allow_private_hosts entry covers this host/IP and port. */
function isAllowed(allow: readonly string[], host: string, ip: string, port: number): boolean {
  const candidates = new Set<string>();
  for (const name of [bare(host), bare(ip)]) {
    candidates.add(name);
    candidates.add(`${name}:${port}`);
    if (name.includes(':')) {
      candidates.add(`[${name}]`);
      candidates.add(`[${name}]:${port}`);
    }
  }
  return allow.some((entry) => candidates.has(entry.trim().toLowerCase()));
}

async function defaultResolver(host: string): Promise<string[]> {
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

function flattenHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/** `text/html; charset=UTF-8` → `{type: 'text/html', charset: 'utf-8'}`. */
export function parseContentType(value: string | undefined): { type: string; charset: string | null } {
  if (!value) return { type: '', charset: null };
  const [type, ...params] = value.split(';');
  let charset: string | null = null;
  for (const p of params) {
    const m = p.trim().match(/^charset\s*=\s*"?([^";\s]+)"?/i);
    if (m) charset = m[1]!.toLowerCase();
  }
  return { type: type!.trim().toLowerCase(), charset };
}

/** Charset declared by `<meta charset>` or `<meta http-equiv="Content-Type" content="…; charset=…">` near the start. */
export function sniffHtmlCharset(body: Buffer): string | null {
  const head = body.subarray(0, 4096).toString('latin1');
  const direct = head.match(/<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)/i);
  return direct ? direct[1]!.toLowerCase() : null;
}

/** WHATWG labels that all mean windows-1252 (the Encoding Standard maps ISO-8859-1 and ASCII to it). */
const WINDOWS_1252_LABELS = new Set([
  'windows-1252', 'cp1252', 'x-cp1252', 'iso-8859-1', 'iso8859-1', 'iso_8859-1', 'iso_8859-1:1987', 'iso88591', 'latin1',
  'l1', 'ibm819', 'cp819', 'csisolatin1', 'iso-ir-100', 'us-ascii', 'ascii', 'ansi_x3.4-1968', 'iso-8859-1:1987',
]);
/** windows-1252 code points for bytes 0x80–0x9F (undefined bytes map to the C1 control of the same value). */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
];

/** Node's TextDecoder decodes windows-1252 as plain ISO-8859-1 (0x80 → U+0080, not €): decode it by table. */
function decodeWindows1252(body: Buffer): string {
  const parts: string[] = [];
  for (let start = 0; start < body.length; start += 8192) {
    const slice = body.subarray(start, start + 8192);
    const codes = new Array<number>(slice.length);
    for (let i = 0; i < slice.length; i++) {
      const b = slice[i]!;
      codes[i] = b >= 0x80 && b <= 0x9f ? CP1252_HIGH[b - 0x80]! : b;
    }
    parts.push(String.fromCharCode(...codes));
  }
  return parts.join('');
}

/** Decodes bytes with a WHATWG charset label (windows-1252, iso-8859-1, shift_jis, …); UTF-8 when unknown. */
export function decodeBody(body: Buffer, charset: string | null | undefined): string {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    return new TextDecoder('utf-8').decode(body);
  }
  if (body.length >= 2 && ((body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff))) {
    return new TextDecoder(body[0] === 0xff ? 'utf-16le' : 'utf-16be').decode(body);
  }
  const label = charset?.trim().toLowerCase();
  if (label && WINDOWS_1252_LABELS.has(label)) return decodeWindows1252(body);
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset?.trim() || 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(body);
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

// ------------------------------------------------------------------------------------------------ vetting

interface Target {
  url: URL;
  host: string;
  ip: string;
  family: 4 | 6;
  port: number;
}

async function vet(raw: string | URL, opts: SafeFetchOptions): Promise<Target> {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    throw new FetchRefusedError(String(raw), 'not a valid absolute URL');
  }
  const shown = url.href;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchRefusedError(shown, `scheme ${url.protocol.replace(/:$/, '')} is not allowed (only http and https)`);
  }
  if (url.username || url.password) {
    throw new FetchRefusedError(url.origin + url.pathname, 'URLs with credentials (user:password@) are not allowed');
  }
  const host = bare(url.hostname);
  if (!host) throw new FetchRefusedError(shown, 'no host');
  const port = effectivePort(url);

  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (opts.resolver ?? defaultResolver)(host);
    } catch (err) {
      throw new FetchError(shown, 'dns', `Cannot resolve ${host} (${shown}): ${describeNetworkError(err)}`, undefined, undefined, undefined, { cause: err });
    }
    if (addresses.length === 0) throw new FetchError(shown, 'dns', `Cannot resolve ${host} (${shown}): no addresses`);
  }
  for (const ip of addresses) {
    const reason = nonPublicReason(ip);
    if (reason && !isAllowed(opts.allowPrivate, host, ip, port)) {
      const who = bare(ip) === host ? ip : `${host} resolves to ${ip},`;
      const entry = bare(ip) === host ? (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`) : `${host}:${port}`;
      throw new FetchRefusedError(shown, `${who} ${reason}; ${ALLOW_HINT} (e.g. "${entry}")`);
    }
  }
  const ip = addresses[0]!;
  return { url, host, ip, family: isIP(ip) === 6 ? 6 : 4, port };
}

// ------------------------------------------------------------------------------------------------ request

interface HopResult {
  status: number;
  headers: Record<string, string>;
  res: http.IncomingMessage;
}

function requestOnce(
  t: Target,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<HopResult> {
  return new Promise((resolve, reject) => {
    const isHttps = t.url.protocol === 'https:';
    const reqHeaders: Record<string, string> = {
      'user-agent': 'Mozilla/5.0 (compatible; qasynth/0.1)',
      accept: '*/*',
      'accept-encoding': 'gzip, deflate, br',
      ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
      host: t.url.host,
    };
    if (body !== undefined) reqHeaders['content-length'] = String(Buffer.byteLength(body));
    const options: https.RequestOptions = {
      method,
      // Connect to the vetted address itself; a second DNS lookup could answer differently (rebinding).
      host: t.ip,
      family: t.family,
      port: t.port,
      path: `${t.url.pathname}${t.url.search}`,
      headers: reqHeaders,
      agent: false,
      signal,
    };
    if (isHttps && !isIP(t.host)) options.servername = t.host;
    const req = (isHttps ? https : http).request(options, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), res });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function decoderFor(encoding: string | undefined, first: Buffer): Transform | null {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.createGunzip();
  if (enc === 'br') return zlib.createBrotliDecompress();
  if (enc === 'deflate') {
    // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
    return first.length > 0 && (first[0]! & 0x0f) === 8 ? zlib.createInflate() : zlib.createInflateRaw();
  }
  return null;
}

/** Reads (and decodes) a response body up to `maxBytes`; resolves early with `truncated` when the cap is hit. */
function readBody(res: http.IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let decoder: Transform | null | undefined;
    const finish = (err: unknown, truncated = false) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (truncated || err) {
        res.destroy();
        decoder?.destroy();
      }
      if (err) reject(err);
      else resolve({ body: Buffer.concat(chunks, size), truncated });
    };
    const onAbort = () => finish(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const take = (chunk: Buffer) => {
      if (done) return;
      const room = maxBytes - size;
      if (chunk.length > room) {
        // More data than the cap allows: keep what fits and stop reading (a body of exactly maxBytes is complete).
        chunks.push(chunk.subarray(0, room));
        size += room;
        finish(null, true);
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    };
    const wireDecoder = (d: Transform) => {
      d.on('data', take);
      d.on('end', () => finish(null));
      d.on('error', (err: Error) => finish(new FetchError('', 'protocol', `cannot decode the ${res.headers['content-encoding']} body: ${err.message}`)));
    };
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      if (decoder === undefined) {
        decoder = decoderFor(res.headers['content-encoding'], chunk);
        if (decoder) wireDecoder(decoder);
      }
      if (decoder) decoder.write(chunk);
      else take(chunk);
    });
    res.on('end', () => {
      if (decoder) decoder.end();
      else finish(null);
    });
    res.on('error', (err) => finish(err));
    res.on('aborted', () => finish(new Error('connection closed before the body was complete')));
  });
}

/**
 * Fetches `url` with SSRF checks on every hop, a whole-request deadline and a body cap.
 * Throws `FetchRefusedError` before connecting to a refused destination, `FetchError` for everything else,
 * including HTTP statuses ≥ 400 (with `status`, `headers` and the start of the body).
 */
export async function safeFetch(url: string, opts: SafeFetchOptions): Promise<SafeFetchResponse> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error('timeout')), opts.timeoutMs);
  const signals = [deadline.signal, ...(opts.signal ? [opts.signal] : [])];
  const signal = AbortSignal.any(signals);
  let current = url;
  const fail = (err: unknown): never => {
    if (err instanceof FetchError || err instanceof FetchRefusedError) {
      if (err instanceof FetchError && !err.url) throw new FetchError(current, err.kind, `${err.message} (${current})`, err.status, err.headers);
      throw err;
    }
    if (deadline.signal.aborted) {
      throw new FetchError(current, 'timeout', `Timed out after ${opts.timeoutMs} ms fetching ${current}`, undefined, undefined, undefined, { cause: err });
    }
    if (opts.signal?.aborted) throw new FetchError(current, 'aborted', `Fetch of ${current} was cancelled`, undefined, undefined, undefined, { cause: err });
    throw new FetchError(current, 'network', `Cannot fetch ${current}: ${describeNetworkError(err)}`, undefined, undefined, undefined, { cause: err });
  };
  try {
    if (opts.signal?.aborted) throw new FetchError(url, 'aborted', `Fetch of ${url} was cancelled`);
    let method: string = opts.method ?? 'GET';
    let body = opts.body;
    let headers = { ...(opts.headers ?? {}) };
    let origin: string | null = null;
    for (let hop = 0; ; hop++) {
      const target = await vet(current, opts);
      current = target.url.href;
      if (origin !== null && target.url.origin !== origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !SENSITIVE_HEADERS.includes(k.toLowerCase())));
      }
      origin = target.url.origin;
      if (signal.aborted) throw signal.reason;
      const { status, headers: resHeaders, res } = await requestOnce(target, method, headers, body, signal);
      if (REDIRECT_STATUSES.has(status) && resHeaders.location) {
        res.resume();
        res.destroy();
        if (hop >= opts.maxRedirects) {
          throw new FetchError(current, 'redirects', `Too many redirects (more than ${opts.maxRedirects}) fetching ${url}; last hop ${current}`, status, resHeaders);
        }
        let next: URL;
        try {
          next = new URL(resHeaders.location, target.url);
        } catch {
          throw new FetchError(current, 'protocol', `Invalid redirect location ${JSON.stringify(resHeaders.location)} from ${current}`, status, resHeaders);
        }
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-type'));
        }
        current = next.href;
        continue;
      }
      const { type, charset: headerCharset } = parseContentType(resHeaders['content-type']);
      const typeCap = opts.maxBytesByType?.[type] ?? opts.maxBytes;
      const cap = status >= 400 ? Math.min(opts.maxBytes, 4096) : typeCap;
      const read = await readBody(res, cap, signal);
      if (status >= 400) {
        const snippet = decodeBody(read.body, headerCharset).slice(0, 500);
        throw new FetchError(current, 'status', `HTTP ${status} from ${current}`, status, resHeaders, snippet);
      }
      const isHtml = type === 'text/html' || type === 'application/xhtml+xml';
      const charset = headerCharset ?? (isHtml ? sniffHtmlCharset(read.body) : null);
      return { url: current, status, headers: resHeaders, contentType: type, charset, body: read.body, truncated: read.truncated };
    }
  } catch (err) {
    return fail(err);
  } finally {
    clearTimeout(timer);
  }
}
