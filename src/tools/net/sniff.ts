/**
 * What a response body really is, whatever its Content-Type says: servers send PDFs, images and archives as
 * `text/html`, empty bodies with `200 OK`, and text in a charset other than the one declared.
 *
 * - `sniffBody()` looks at the first bytes: signatures ("magic numbers") of PDF and common binary formats, then
 *   binary data bytes (NUL and other C0 controls that text never contains).
 * - `decodeText()` decodes text robustly: a UTF-16 label on 8-bit text is ignored, and undeclared or
 *   mis-declared UTF-8 that does not decode falls back to windows-1252 (what browsers do).
 * - `looksLikeHtml()` / `looksLikeJson()` tell markup and JSON from plain text.
 *
 * Sources: signatures from the WHATWG MIME Sniffing Standard §6 ("matching a MIME type pattern": images,
 * audio/video, archives) and the file formats' own specifications; "binary data byte" (0x00–0x08, 0x0B,
 * 0x0E–0x1A, 0x1C–0x1F) from the same standard §7.1; the PDF header is searched in the first 1,024 bytes
 * because PDF readers accept it anywhere there (PDF Reference 1.7, Appendix H, implementation note 13).
 */
import { decodeBody } from './safe-fetch';

/** Bytes looked at by the sniffers. */
export const SNIFF_BYTES = 1024;

export type SniffedBody =
  | { kind: 'empty' }
  | { kind: 'pdf' }
  /** `what` names the format for a reader: "a PNG image", "a ZIP archive (or .docx/.xlsx/.epub)", "binary data". */
  | { kind: 'binary'; what: string }
  | { kind: 'text' };

interface Signature {
  at: number;
  bytes: number[] | string;
  what: string;
  /** Extra bytes that must match further on (RIFF containers name their format at offset 8). */
  also?: { at: number; bytes: string };
}

const SIGNATURES: Signature[] = [
  { at: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], what: 'a PNG image' },
  { at: 0, bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { at: 0, bytes: 'GIF87a', what: 'a GIF image' },
  { at: 0, bytes: 'GIF89a', what: 'a GIF image' },
  { at: 0, bytes: 'RIFF', also: { at: 8, bytes: 'WEBP' }, what: 'a WebP image' },
  { at: 0, bytes: 'RIFF', also: { at: 8, bytes: 'WAVE' }, what: 'a WAV audio file' },
  { at: 0, bytes: 'RIFF', also: { at: 8, bytes: 'AVI ' }, what: 'an AVI video' },
  { at: 4, bytes: 'ftyp', what: 'an MP4/QuickTime media file' },
  { at: 0, bytes: [0x1a, 0x45, 0xdf, 0xa3], what: 'a WebM/Matroska media file' },
  { at: 0, bytes: 'OggS', what: 'an Ogg media file' },
  { at: 0, bytes: 'ID3', what: 'an MP3 audio file' },
  { at: 0, bytes: 'fLaC', what: 'a FLAC audio file' },
  { at: 0, bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a ZIP archive (or .docx/.xlsx/.epub)' },
  { at: 0, bytes: [0x1f, 0x8b, 0x08], what: 'gzip-compressed data' },
  { at: 0, bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: 'a 7-Zip archive' },
  { at: 0, bytes: 'Rar!\x1a\x07', what: 'a RAR archive' },
  { at: 0, bytes: [0x7f, 0x45, 0x4c, 0x46], what: 'an ELF executable' },
  { at: 0, bytes: [0x00, 0x61, 0x73, 0x6d], what: 'a WebAssembly module' },
  { at: 0, bytes: 'SQLite format 3\0', what: 'an SQLite database' },
  { at: 0, bytes: 'wOFF', what: 'a web font' },
  { at: 0, bytes: 'wOF2', what: 'a web font' },
];

function matchesAt(body: Buffer, at: number, bytes: number[] | string): boolean {
  const want = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  return body.length >= at + want.length && body.subarray(at, at + want.length).equals(want);
}

function hasUtf16Bom(body: Buffer): boolean {
  return body.length >= 2 && ((body[0] === 0xff && body[1] === 0xfe) || (body[0] === 0xfe && body[1] === 0xff));
}

function isUtf16Label(charset: string | null | undefined): boolean {
  return !!charset && /^(utf-?16|utf-?32|ucs-?2|unicode)/i.test(charset.trim());
}

/** WHATWG MIME Sniffing §7.1 "binary data byte". */
function isBinaryDataByte(b: number): boolean {
  return b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f);
}

/** Share of binary data bytes above which a body without NUL bytes still counts as binary. */
const BINARY_BYTE_RATIO = 0.02;

/**
 * What `body` is, from its first SNIFF_BYTES bytes: `empty` (0 bytes), `pdf` (`%PDF-` in the first 1,024 bytes, with no `<` before it),
 * `binary` (a known binary signature, a NUL byte, or more than 2% other binary data bytes; a UTF-16 BOM or a
 * UTF-16/32 `charset` exempts NULs), else `text`. The declared Content-Type is deliberately not consulted.
 */
export function sniffBody(body: Buffer, charset?: string | null): SniffedBody {
  if (body.length === 0) return { kind: 'empty' };
  const head = body.subarray(0, SNIFF_BYTES);
  const pdfAt = head.indexOf('%PDF-', 0, 'latin1');
  // Junk before the header is allowed, but not markup: an HTML page may quote "%PDF-1.7" near its top.
  if (pdfAt === 0 || (pdfAt > 0 && !head.subarray(0, pdfAt).includes(0x3c))) return { kind: 'pdf' };
  for (const s of SIGNATURES) {
    if (matchesAt(head, s.at, s.bytes) && (!s.also || matchesAt(head, s.also.at, s.also.bytes))) return { kind: 'binary', what: s.what };
  }
  const wide = hasUtf16Bom(head) || isUtf16Label(charset);
  if (!wide) {
    if (head.includes(0)) return { kind: 'binary', what: 'binary data' };
    let binary = 0;
    for (const b of head) if (isBinaryDataByte(b)) binary++;
    if (binary > head.length * BINARY_BYTE_RATIO) return { kind: 'binary', what: 'binary data' };
  }
  return { kind: 'text' };
}

/** Share of U+FFFD (undecodable bytes) above which a UTF-8 decoding is redone as windows-1252. */
const BAD_UTF8_RATIO = 0.01;

function replacementShare(text: string): number {
  const sample = text.slice(0, 20_000);
  if (!sample.length) return 0;
  let bad = 0;
  for (let i = 0; i < sample.length; i++) if (sample.charCodeAt(i) === 0xfffd) bad++;
  return bad / sample.length;
}

/**
 * Decodes a text body (after sniffBody said `text`). `charset` is the declared one (header or `<meta>`), or
 * null. A UTF-16/32 label on a body without BOM and without NUL bytes is ignored (8-bit text mislabelled).
 * When the charset is UTF-8 or undeclared (or unknown to the decoder) and more than 1% of the decoded characters
 * are U+FFFD, the body is decoded as windows-1252 instead: browsers' fallback for legacy pages, and it never fails.
 * Returns the text and the charset actually used.
 */
export function decodeText(body: Buffer, charset: string | null | undefined): { text: string; charset: string } {
  let label = charset?.trim().toLowerCase() || null;
  if (label && isUtf16Label(label) && !hasUtf16Bom(body) && !body.subarray(0, SNIFF_BYTES).includes(0)) label = null;
  let known = true;
  if (label) {
    try {
      new TextDecoder(label);
    } catch {
      known = label === 'windows-1252' || label === 'latin1' || label === 'iso-8859-1';
    }
  }
  const text = decodeBody(body, known ? label : null);
  const utf8 = !label || !known || label === 'utf-8' || label === 'utf8' || label === 'unicode-1-1-utf-8';
  if (utf8 && !hasUtf16Bom(body) && replacementShare(text) > BAD_UTF8_RATIO) {
    return { text: decodeBody(body, 'windows-1252'), charset: 'windows-1252' };
  }
  return { text, charset: known && label ? label : 'utf-8' };
}

const MARKUP = /<(!doctype\s+html|html|head|body|title|meta|p|div|span|a|br|h[1-6]|table|ul|ol|li|article|main|section|header|footer|nav|script|style|link|img|pre|form)[\s>/]/i;

/** True when `text` contains HTML markup (a doctype or a common element tag) in its first 64 KB. */
export function looksLikeHtml(text: string): boolean {
  return MARKUP.test(text.slice(0, 65_536));
}

/** True when `text` (trimmed) starts with `{` or `[` and parses as JSON. */
export function looksLikeJson(text: string): boolean {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}
