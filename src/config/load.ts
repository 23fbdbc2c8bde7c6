/**
 * Reading config and seed files (the only file I/O in src/config). Validation lives in schema.ts / domain/ids.ts;
 * these functions return raw values and throw ConfigError for unreadable or malformed files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import type { SynthesisConfig } from '../shared/types';
import { parseConfig } from './schema';

/** A config, seed or input problem the user must fix. `issues` are `path: expected X, got Y` lines. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** A read error as the problem a user can fix: `<file>: seed file not found`, `… got a directory`, `cannot read …`. */
export function fileProblem(file: string, what: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${file}: ${what} file not found`;
  if (code === 'EISDIR') return `${file}: expected a ${what} file, got a directory`;
  return `${file}: cannot read ${what} file (${(e as Error).message})`;
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError([fileProblem(file, what, e)]);
  }
}

/** Byte offset where the first invalid UTF-8 sequence starts (strict, as TextDecoder: no overlongs, surrogates or > U+10FFFF), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i; // an incomplete sequence starts here
    }
    i += n + 1;
  }
  return -1;
}

/**
 * The text of a file's bytes: strict UTF-8 (a UTF-8 byte order mark is dropped); UTF-16 or invalid bytes are a ConfigError
 * naming the byte offset and line.
 */
export function decodeUtf8(file: string, bytes: Buffer): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    const bom = bytes[0] === 0xff ? 'FF FE' : 'FE FF';
    throw new ConfigError([`${file}: expected UTF-8 text, got UTF-16 text (byte order mark ${bom}); re-save the file as UTF-8`]);
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    const at = firstInvalidUtf8(bytes);
    const lineNo = at < 0 ? 0 : bytes.subarray(0, at).reduce((n, c) => (c === 0x0a ? n + 1 : n), 1);
    const where = at < 0 ? '' : ` (0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')} at byte offset ${at}, line ${lineNo})`;
    throw new ConfigError([`${file}: expected UTF-8 text, got a byte that is not valid UTF-8${where}; re-save the file as UTF-8`]);
  }
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return { line, col: pos - before.lastIndexOf('\n') };
}

/**
 * Offset of the first JSON syntax error in `text` (which JSON.parse rejected), or null. V8 gives no position for
 * some errors ("Unexpected token ',', "…" is not valid JSON"), so this small scanner finds it.
 */
export function jsonErrorOffset(text: string): number | null {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const str = () => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else fail();
      } else i++;
    }
    fail();
  };
  const num = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          str();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') return str();
    num.lastIndex = i;
    if (num.test(text)) {
      i = num.lastIndex;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    fail();
  };
  try {
    value();
    ws();
    return i < n ? i : null;
  } catch (e) {
    return e instanceof JsonStop ? e.at : null; // RangeError: nested too deeply to scan
  }
}

class JsonStop {
  constructor(readonly at: number) {}
}

/** A JSON.parse error as `file:line:col: invalid JSON (…)`; `lineOffset` is the 0-based line of `text` in the file. */
export function jsonError(file: string, text: string, e: unknown, lineOffset = 0): string {
  // V8 sometimes quotes the source ("Unexpected token ',', "…" is not valid JSON"): keep one line, no content.
  const msg = (e as Error).message.replace(/, ".*" is not valid JSON$/s, '').replace(/\s+/g, ' ');
  const m = /position (\d+)/.exec(msg);
  const reason = msg.replace(/(?: in JSON)? at position \d+.*$/, ''); // the position is given as line:col
  // A position in trailing whitespace is shown at the last character that is there.
  const end = text.trimEnd().length;
  const found = m ? Number(m[1]) : /end of JSON input/.test(msg) ? end : jsonErrorOffset(text);
  const pos = found === null ? null : Math.min(found, end);
  let where = file;
  if (pos !== null) {
    const { line, col } = lineCol(text, pos);
    where = `${file}:${line + lineOffset}:${col}`;
  } else if (lineOffset) {
    where = `${file}:${lineOffset + 1}`;
  }
  return `${where}: invalid JSON (${reason})`;
}

/** JSON.parse with a `file:line:col: invalid JSON (…)` error. */
function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError([jsonError(file, text, e)]);
  }
}

/** YAML.parse with `file:line:col: invalid YAML (…)` errors (a ConfigError). */
export function parseYaml(file: string, text: string): unknown {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        return `${pos ? `${file}:${pos.line}:${pos.col}` : file}: invalid YAML (${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')})`;
      }),
    );
  }
  try {
    return doc.toJS();
  } catch (e) {
    // e.g. "Excessive alias count indicates a resource exhaustion attack" (a billion-laughs document).
    throw new ConfigError([`${file}: invalid YAML (${(e as Error).message.split('\n')[0]})`]);
  }
}

/** Reads a config file as JSON (.json) or YAML (.yaml/.yml). Returns the raw value; see parseConfig. */
export function loadConfigFile(file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  const bytes = readFile(file, 'config'); // first, so a missing file or a directory is named as such
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new ConfigError([`${file}: expected a .json, .yaml or .yml config file, got "${ext || 'no extension'}"`]);
  }
  const text = decodeUtf8(file, bytes);
  if (!text.trim()) throw new ConfigError([`${file}: expected a config object, got an empty file`]);
  return ext === '.json' ? parseJson(file, text) : parseYaml(file, text);
}

/** Reads and validates a config file; throws ConfigError with `<file>: path: …` issues. */
export function loadConfig(file: string): SynthesisConfig {
  const parsed = parseConfig(loadConfigFile(file));
  if (!parsed.ok) throw new ConfigError(parsed.issues.map((i) => `${file}: ${i}`));
  return parsed.config;
}

/** At most this many invalid JSONL lines are listed one by one; the rest are counted in one more line. */
const MAX_LINE_ISSUES = 20;

function parseJsonLines(file: string, text: string): unknown[] {
  const out: unknown[] = [];
  const bad: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      bad.push(jsonError(file, line, e, i));
    }
  });
  if (bad.length > MAX_LINE_ISSUES) {
    const more = bad.length - MAX_LINE_ISSUES;
    throw new ConfigError([...bad.slice(0, MAX_LINE_ISSUES), `${file}: ${more} more invalid JSON line${more === 1 ? '' : 's'}`]);
  }
  if (bad.length) throw new ConfigError(bad);
  return out;
}

/** True when the text's first non-blank line is a JSON value by itself (so the file is JSONL, not one document). */
function looksLikeJsonLines(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim());
  if (!first || first.trim().startsWith('[')) return false; // a (pretty-printed) JSON array
  try {
    JSON.parse(first);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a seed file and returns the raw seeds (validate with normalizeSeeds, which also rejects an empty list):
 * - a JSON array of strings or `{text, id?, metadata?}` objects (the original's format);
 * - `{"entities": [...]}` (the oldest original);
 * - a single JSON string (as HEAD accepted);
 * - JSONL: one string or object per line (`.jsonl`, or any file whose first line is a JSON value by itself).
 * Reads the whole file into memory: the CLI and the activities use the streaming `readSeedsFile`
 * (src/config/seeds-stream.ts), which accepts the same files of any size; this one stays as the reference its
 * tests compare it with.
 */
export function loadSeedsFile(file: string): unknown[] {
  const text = decodeUtf8(file, readFile(file, 'seed'));
  if (!text.trim()) throw new ConfigError([`${file}: expected seeds, got an empty file`]);
  const ext = path.extname(file).toLowerCase();
  let value: unknown;
  if (ext === '.jsonl' || ext === '.ndjson') {
    value = parseJsonLines(file, text);
  } else {
    try {
      value = JSON.parse(text);
    } catch (e) {
      const lines = text.split('\n').filter((l) => l.trim());
      if (lines.length > 1 && looksLikeJsonLines(text)) value = parseJsonLines(file, text);
      else throw new ConfigError([jsonError(file, text, e)]);
    }
  }
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object' && Array.isArray((value as { entities?: unknown }).entities)) {
    return (value as { entities: unknown[] }).entities;
  }
  const got = value === null ? 'null' : typeof value === 'object' ? 'an object without an "entities" array' : `${typeof value} ${JSON.stringify(value)}`;
  throw new ConfigError([
    `${file}: expected a JSON array of seeds, {"entities": [...]}, or JSONL (one seed per line), got ${got.length > 80 ? `${got.slice(0, 77)}...` : got}`,
  ]);
}
