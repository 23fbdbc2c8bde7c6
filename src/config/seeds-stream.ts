/**
 * Seed files of any size, read in bounded memory (Node only: the CLI and the `prepareSeeds` activity use it).
 *
 * `readSeedsFile` reads a seeds file once, front to back, and judges every seed exactly as `normalizeSeeds`
 * (src/domain/ids.ts) judges an inline list: the same `seeds[i]: …` problems (shared `checkSeedItem`), the same
 * content-derived `source_id` (`src_` + 12 hex digits of md5(text)) or explicit `id`, duplicates (same id, same
 * text) collapsed to their first occurrence and counted, `number_of_seed` keeping the first N seeds of the file.
 * Each unique seed is handed to `onSeed` as soon as it is read, so nothing holds the list.
 *
 * Formats, as `loadSeedsFile` (src/config/load.ts) accepts them:
 * - JSONL (`.jsonl`/`.ndjson`, or any file whose first non-blank line is a JSON value by itself and has a second
 *   one): one seed per line, read line by line; a bad line is one problem and reading goes on.
 * - a JSON array: streamed element by element with `@streamparser/json` (pure JS, no dependencies, CommonJS and
 *   ESM builds, engines-free, runs on Node 20; chosen over `stream-json`, whose current major is ESM-only, and over
 *   an own tokenizer). A syntax error stops the reading (where the array goes on after it cannot be known).
 * - YAML (`.yaml`/`.yml`), `{"entities": [...]}` and a single JSON string: read whole, so at most
 *   MAX_DOCUMENT_BYTES; a larger file is refused with the fix (convert it to JSONL).
 *
 * Memory: one read chunk (1 MiB), one line or array element (at most MAX_SEED_JSON_BYTES), and the duplicate
 * table: 16 bytes per slot, at most 2 slots per unique seed (measured: ~33 MB for 1,000,000 seeds, README).
 * At most MAX_REPORTED_ISSUES problems are listed, then one line counts the rest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Tokenizer, TokenParser } from '@streamparser/json';
import type { Seed } from '../shared/types';
import { checkSeedItem, MAX_SEED_CHARS, sourceIdClash, type DuplicateSeed } from '../domain/ids';
import { ConfigError, decodeUtf8, fileProblem, firstInvalidUtf8, jsonError, parseYaml } from './load';

/**
 * Largest YAML, `{"entities": [...]}` or single-string seeds file, in bytes (64 MiB). Such a file is parsed whole
 * (its parsed form takes several times its size in memory); JSONL and JSON arrays have no limit.
 */
export const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;
/**
 * Largest JSON of one seed (a JSONL line or an array element), in bytes (1 MiB). A seed's text is at most
 * MAX_SEED_CHARS (20,000) characters; the rest is metadata. Bounds what one seed costs to read, and keeps any
 * seed far below Temporal's 2 MB payload limit when the workflow reads it in a page.
 */
export const MAX_SEED_JSON_BYTES = 1024 * 1024;
/** Problems listed one by one; the rest are counted in one more line. */
export const MAX_REPORTED_ISSUES = 50;
/** Duplicated seeds described in `duplicates` (the first ones in input order); all are counted. */
export const MAX_DUPLICATE_SAMPLES = 20;
/** Bytes read at a time. */
const CHUNK_BYTES = 1024 * 1024;

export type SeedsFormat = 'jsonl' | 'json-array' | 'json' | 'yaml';

export interface ReadSeedsOptions {
  /** Keep only the first N seeds of the file (config `number_of_seed`); null = all. */
  numberOfSeed: number | null;
  /**
   * Called with each unique valid seed, in input order, with its 0-based position among the unique seeds.
   * Not called once a problem has been found (the result will not be ok).
   */
  onSeed?: (seed: Seed, position: number) => void;
  /**
   * Called with each raw seed as read (after the number_of_seed cut, before validation, valid or not; not for a
   * line that is not JSON), in input order: the CLI keeps the raw list of a small file to pass it inline.
   */
  onItem?: (raw: unknown) => void;
  /** Called after each chunk read (for heartbeats). */
  onProgress?: (p: { bytes_read: number; seeds_read: number }) => void;
  /** Stops the reading (throws the signal's reason) when aborted, e.g. when the activity is cancelled. */
  signal?: AbortSignal;
  /** Problems listed one by one (default MAX_REPORTED_ISSUES). */
  maxIssues?: number;
  /**
   * Stop reading once number_of_seed seeds were read (the CLI: a 10 GB file with `--number-of-seed 10` is not read
   * to its end). Default false: the rest of the file is still read for `sha256` and `bytes`, which then cover
   * only what was read when this is true.
   */
  stopAtCut?: boolean;
}

/** What reading a seeds file found. `ok` is false when any problem was found; `issues` then lists them. */
export interface ReadSeedsResult {
  ok: boolean;
  /**
   * Problems, at most `maxIssues` lines, then one line counting the rest: `seeds[i]: expected …, got …` for a seed,
   * `<file>:<line>:<col>: invalid JSON (…)` for syntax, `<file>: …` for the file.
   */
  issues: string[];
  /** Number of problems found (may exceed issues.length). */
  problems: number;
  format: SeedsFormat | null;
  /** Seeds read from the file, after the number_of_seed cut, duplicates and invalid ones included. */
  seeds_read: number;
  /** Unique valid seeds (what `onSeed` received). */
  seeds_total: number;
  /** Occurrences dropped as duplicates of an earlier seed. */
  duplicates_dropped: number;
  /** Distinct seeds that occurred more than once. */
  duplicated_seeds: number;
  /** The first MAX_DUPLICATE_SAMPLES duplicated seeds in input order, with how many copies were dropped. */
  duplicates: DuplicateSeed[];
  /** Size and sha256 (hex) of the whole file, as read (the whole file even when number_of_seed stopped early, unless stopAtCut). */
  bytes: number;
  sha256: string;
  /** seedListFingerprint() of the unique seeds' source ids in order. */
  fingerprint_seeds: string;
}

/**
 * sha256 (hex) of the JSON array of the seeds' source ids in order (`["src_…","id",…]`): equal for two seed lists
 * exactly when they hold the same ids in the same order. Streaming form: SeedListHash.
 */
export function seedListFingerprint(sourceIds: readonly string[]): string {
  const h = new SeedListHash();
  for (const id of sourceIds) h.add(id);
  return h.digest();
}

/** seedListFingerprint, one id at a time. */
export class SeedListHash {
  private readonly hash = createHash('sha256').update('[');
  private count = 0;
  add(sourceId: string): void {
    this.hash.update(this.count++ === 0 ? JSON.stringify(sourceId) : `,${JSON.stringify(sourceId)}`);
  }
  digest(): string {
    return this.hash.update(']').digest('hex');
  }
}

/**
 * The set of source ids seen so far, in bounded memory: an open-addressing hash table of fixed-size keys in typed
 * arrays (16 bytes a slot, load ≤ 0.7). A key is 63 bits: a content-style id `src_<12 hex>` is its 48-bit number
 * (tag 01), any other explicit id the first 62 bits of its md5 (tag 1x): two different ids of that kind share a key
 * with probability ~n²/2⁶³ (5·10⁻⁸ for a million). Each entry keeps 32 bits of the text's md5, to tell a duplicate
 * (same id, same text) from two seeds that claim one id, and the input position of its first occurrence.
 */
export class SeedKeyTable {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private fp: Uint32Array;
  /** Input position of the first occurrence; the top bit marks "has had a duplicate". */
  private first: Uint32Array;
  private mask: number;
  size = 0;

  constructor(initialSlots = 1 << 16) {
    this.hi = new Uint32Array(initialSlots);
    this.lo = new Uint32Array(initialSlots);
    this.fp = new Uint32Array(initialSlots);
    this.first = new Uint32Array(initialSlots);
    this.mask = initialSlots - 1;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return (this.mask + 1) * 16;
  }

  private slotOf(hi: number, lo: number): number {
    let i = (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0) & this.mask;
    while (this.hi[i] !== 0 && (this.hi[i] !== hi || this.lo[i] !== lo)) i = (i + 1) & this.mask;
    return i;
  }

  /** The slot holding the key, or -1. */
  find(hi: number, lo: number): number {
    const i = this.slotOf(hi, lo);
    return this.hi[i] === 0 ? -1 : i;
  }

  /** Adds a key known to be absent. */
  insert(hi: number, lo: number, textFp: number, firstIndex: number): void {
    if ((this.size + 1) * 10 > (this.mask + 1) * 7) this.grow();
    const i = this.slotOf(hi, lo);
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.fp[i] = textFp;
    this.first[i] = firstIndex & 0x7fffffff;
    this.size += 1;
  }

  textFp(slot: number): number {
    return this.fp[slot]!;
  }

  firstIndex(slot: number): number {
    return this.first[slot]! & 0x7fffffff;
  }

  /** Marks the slot's seed as duplicated; true the first time. */
  markDuplicated(slot: number): boolean {
    const was = this.first[slot]! >>> 31;
    this.first[slot] = (this.first[slot]! | 0x80000000) >>> 0;
    return was === 0;
  }

  private grow(): void {
    const { hi, lo, fp, first } = this;
    const slots = (this.mask + 1) * 2;
    this.hi = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
    this.fp = new Uint32Array(slots);
    this.first = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let j = 0; j < hi.length; j++) {
      if (hi[j] === 0) continue;
      const i = this.slotOf(hi[j]!, lo[j]!);
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.fp[i] = fp[j]!;
      this.first[i] = first[j]!;
    }
  }
}

const CONTENT_ID = /^src_[0-9a-f]{12}$/;

/** The table key of a source id (see SeedKeyTable). */
export function seedKey(sourceId: string): [hi: number, lo: number] {
  if (CONTENT_ID.test(sourceId)) {
    return [(0x40000000 | parseInt(sourceId.slice(4, 8), 16)) >>> 0, parseInt(sourceId.slice(8, 16), 16) >>> 0];
  }
  const h = createHash('md5').update(sourceId, 'utf8').digest();
  return [(0x80000000 | (h.readUInt32BE(0) >>> 2)) >>> 0, h.readUInt32BE(4)];
}

/** Judges seeds one at a time (validation, ids, duplicates, the number_of_seed cut) and collects problems. */
class SeedCollector {
  readonly table = new SeedKeyTable();
  readonly ids = new SeedListHash();
  items = 0;
  unique = 0;
  dropped = 0;
  duplicated = 0;
  problems = 0;
  readonly issues: string[] = [];
  private readonly samples = new Map<string, { text: string; count: number; pos: number }>();
  /** A problem that ends the reading (syntax, encoding): nothing after it is judged. */
  fatal = false;

  constructor(private readonly opts: ReadSeedsOptions & { maxIssues: number }) {}

  /** True once number_of_seed seeds have been read (or the reading has to stop). */
  get full(): boolean {
    return this.fatal || (this.opts.numberOfSeed != null && this.items >= this.opts.numberOfSeed);
  }

  problem(message: string, fatal = false): void {
    this.problems += 1;
    if (this.issues.length < this.opts.maxIssues) this.issues.push(message);
    if (fatal) this.fatal = true;
  }

  /** Takes the next raw seed (already parsed). */
  add(value: unknown): void {
    this.opts.onItem?.(value);
    const i = this.items++;
    const checked = checkSeedItem(value, i);
    if (!checked.ok) {
      for (const m of checked.issues) this.problem(m);
      return;
    }
    const digest = createHash('md5').update(checked.text, 'utf8').digest();
    let sourceId: string;
    let hi: number;
    let lo: number;
    if (checked.id === undefined) {
      sourceId = `src_${digest.toString('hex', 0, 6)}`;
      hi = (0x40000000 | digest.readUInt16BE(0)) >>> 0;
      lo = digest.readUInt32BE(2);
    } else {
      sourceId = checked.id;
      [hi, lo] = seedKey(sourceId);
    }
    const fp = digest.readUInt32BE(12);
    const slot = this.table.find(hi, lo);
    if (slot >= 0) {
      if (this.table.textFp(slot) === fp) {
        this.dropped += 1;
        if (this.table.markDuplicated(slot)) this.duplicated += 1;
        const sample = this.samples.get(sourceId);
        if (sample) sample.count += 1;
        else if (this.samples.size < MAX_DUPLICATE_SAMPLES) {
          this.samples.set(sourceId, { text: checked.text, count: 1, pos: this.table.firstIndex(slot) });
        }
      } else {
        this.problem(sourceIdClash(i, sourceId, checked.id !== undefined, this.table.firstIndex(slot)));
      }
      return;
    }
    this.table.insert(hi, lo, fp, i);
    this.ids.add(sourceId);
    if (this.problems === 0 && this.opts.onSeed) {
      const seed: Seed = checked.metadata ? { source_id: sourceId, text: checked.text, metadata: checked.metadata } : { source_id: sourceId, text: checked.text };
      this.opts.onSeed(seed, this.unique);
    }
    this.unique += 1;
  }

  duplicates(): DuplicateSeed[] {
    return [...this.samples.entries()].sort((a, b) => a[1].pos - b[1].pos).map(([source_id, s]) => ({ source_id, text: s.text, count: s.count }));
  }
}

/** JSON whitespace bytes: space, tab, LF, CR. */
function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Line (1-based) and column (1-based, UTF-16 units after a UTF-8 byte order mark) of a byte offset in a file. */
async function positionAt(file: string, offset: number): Promise<{ line: number; col: number }> {
  let line = 1;
  let col = 1;
  let pos = 0;
  let bom = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES, end: Math.max(0, offset - 1) }) as AsyncIterable<Buffer>) {
    if (pos === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) bom = 3;
    for (let k = 0; k < chunk.length && pos < offset; k++, pos++) {
      const b = chunk[k]!;
      if (pos < bom) continue;
      if (b === 0x0a) {
        line += 1;
        col = 1;
      } else if ((b & 0xc0) !== 0x80) col += b >= 0xf0 ? 2 : 1; // a code point starts here (4-byte ones are 2 UTF-16 units)
    }
  }
  return { line, col };
}

/** The reason of a @streamparser/json error in the words of V8's JSON.parse. */
function syntaxReason(err: Error, byte: number | undefined): string {
  const m = /^Unexpected "[\s\S]*" at chunk position "\d+" \(absolute position "\d+"\) in state (\w+)/.exec(err.message);
  if (m) {
    const state = m[1]!;
    if (state === 'ENDED') return 'Unexpected non-whitespace character after JSON';
    if (state.startsWith('STRING_AFTER_BACKSLASH')) return 'Bad escaped character in JSON';
    if (state.startsWith('STRING_UNICODE')) return 'Bad Unicode escape in JSON';
    if (state.startsWith('STRING') && byte !== undefined && byte < 0x20) return 'Bad control character in string literal in JSON';
    if (byte !== undefined && byte >= 0x20 && byte < 0x7f) return `Unexpected token '${String.fromCharCode(byte)}'`;
    return 'Unexpected character';
  }
  const t = /^Unexpected (\w+) \(([\s\S]*)\) in state/.exec(err.message);
  if (t) {
    if (t[1] === 'STRING') return 'Unexpected string in JSON';
    if (t[1] === 'NUMBER') return 'Unexpected number in JSON';
    const v = t[2]!.startsWith('"') ? (JSON.parse(t[2]!) as string) : t[2]!;
    return `Unexpected token '${v}'`;
  }
  return 'Unexpected end of JSON input';
}

/** Incremental strict UTF-8 check across chunk boundaries: returns the absolute offset of the first bad byte, or -1. */
class Utf8Check {
  private tail: Buffer = Buffer.alloc(0);
  private tailAt = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  push(chunk: Buffer, at: number): number {
    const data = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const start = this.tail.length ? this.tailAt : at;
    // Bytes of a sequence cut at the chunk's end wait for the next chunk.
    let cut = 0;
    for (let k = 1; k <= 3 && k <= data.length; k++) {
      const b = data[data.length - k]!;
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > k) cut = k;
      break;
    }
    const body = data.subarray(0, data.length - cut);
    this.tail = Buffer.from(data.subarray(data.length - cut));
    this.tailAt = start + body.length;
    try {
      this.decoder.decode(body);
      return -1;
    } catch {
      const bad = firstInvalidUtf8(body);
      return start + (bad < 0 ? 0 : bad);
    }
  }

  /** At the end of the file: an unfinished sequence is invalid. */
  end(): number {
    return this.tail.length ? this.tailAt : -1;
  }
}

/** The message for a byte that is not UTF-8, as decodeUtf8 words it. */
async function notUtf8(file: string, offset: number, byte: number): Promise<string> {
  const { line } = await positionAt(file, offset);
  return `${file}: expected UTF-8 text, got a byte that is not valid UTF-8 (0x${byte.toString(16).toUpperCase().padStart(2, '0')} at byte offset ${offset}, line ${line}); re-save the file as UTF-8`;
}

/** The raw seeds of a parsed YAML or JSON document, or the problem with its shape. */
function documentItems(file: string, value: unknown, yaml: boolean): unknown[] | string {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object' && Array.isArray((value as { entities?: unknown }).entities)) {
    return (value as { entities: unknown[] }).entities;
  }
  const got = value === null ? 'null' : typeof value === 'object' ? 'an object without an "entities" array' : `${typeof value} ${JSON.stringify(value)}`;
  const expected = yaml ? 'a YAML list of seeds or {entities: [...]}' : 'a JSON array of seeds, {"entities": [...]}, or JSONL (one seed per line)';
  return `${file}: expected ${expected}, got ${got.length > 80 ? `${got.slice(0, 77)}...` : got}`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Reads, validates and deduplicates a seeds file of any size in bounded memory (see the module comment). Never
 * throws for bad input: every problem is in the result's `issues` (file not found, not UTF-8, syntax, a YAML or
 * single-document file above MAX_DOCUMENT_BYTES, `seeds[i]: …`). Throws only the abort signal's reason.
 */
export function readSeedsFile(file: string, options: ReadSeedsOptions): Promise<ReadSeedsResult> {
  return read(file, options, false);
}

/** readSeedsFile; `asDocument`: parse the file whole as one JSON document (the streaming pass found it is one). */
async function read(file: string, options: ReadSeedsOptions, asDocument: boolean): Promise<ReadSeedsResult> {
  const opts = { ...options, maxIssues: options.maxIssues ?? MAX_REPORTED_ISSUES };
  const seeds = new SeedCollector(opts);
  const sha = createHash('sha256');
  let bytes = 0;
  let format: SeedsFormat | null = null;

  const finish = (): ReadSeedsResult => {
    if (seeds.problems > seeds.issues.length) {
      const rest = seeds.problems - seeds.issues.length;
      seeds.issues.push(`${file}: ${rest} more problem${rest === 1 ? '' : 's'} not listed; fix the ones above and validate again`);
    }
    return {
      ok: seeds.problems === 0,
      issues: seeds.issues,
      problems: seeds.problems,
      format,
      seeds_read: seeds.items,
      seeds_total: seeds.unique,
      duplicates_dropped: seeds.dropped,
      duplicated_seeds: seeds.duplicated,
      duplicates: seeds.duplicates(),
      bytes,
      sha256: sha.digest('hex'),
      fingerprint_seeds: seeds.ids.digest(),
    };
  };
  const fail = (message: string): ReadSeedsResult => {
    seeds.problem(message, true);
    return finish();
  };

  let size: number;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) return fail(`${file}: expected a seed file, got a directory`);
    size = st.size;
  } catch (e) {
    return fail(fileProblem(file, 'seed', e));
  }
  const ext = path.extname(file).toLowerCase();

  /** Parses the whole file (YAML, or a JSON document): at most MAX_DOCUMENT_BYTES. */
  const readDocument = (yaml: boolean): ReadSeedsResult => {
    format = yaml ? 'yaml' : 'json';
    if (size > MAX_DOCUMENT_BYTES) {
      return fail(
        `${file}: expected at most ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB for a seeds file in ${yaml ? 'YAML' : 'one JSON document ({"entities": [...]} or a single string)'}, ` +
          `which is read whole, got ${mib(size)}; convert it to JSONL (one seed per line, no size limit)` +
          (yaml ? '' : `, e.g. \`jq -c '.entities[]' ${file} > seeds.jsonl\``),
      );
    }
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (e) {
      return fail(fileProblem(file, 'seed', e));
    }
    sha.update(buf);
    bytes = buf.length;
    let value: unknown;
    try {
      const text = decodeUtf8(file, buf);
      if (!text.trim()) return fail(`${file}: expected seeds, got an empty file`);
      if (yaml) value = parseYaml(file, text);
      else {
        try {
          value = JSON.parse(text);
        } catch (e) {
          return fail(jsonError(file, text, e));
        }
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const m of e.issues) seeds.problem(m, true);
      return finish();
    }
    const items = documentItems(file, value, yaml);
    if (typeof items === 'string') return fail(items);
    for (const item of items) {
      if (seeds.full) break;
      const itemBytes = item !== null && typeof item === 'object' ? Buffer.byteLength(JSON.stringify(item)) : 0;
      if (itemBytes > MAX_SEED_JSON_BYTES) {
        seeds.problem(tooBig(seeds.items++, `${itemBytes} bytes`));
      } else seeds.add(item);
    }
    if (seeds.items === 0) seeds.problem('seeds: expected at least one seed, got an empty array');
    return finish();
  };

  if (ext === '.yaml' || ext === '.yml') return readDocument(true);
  if (asDocument) return readDocument(false);

  // Streaming: JSONL lines, or the elements of a JSON array; `probe` = a line-per-seed file until proven otherwise.
  let mode: 'sniff' | 'lines' | 'probe' | 'array' = ext === '.jsonl' || ext === '.ndjson' ? 'lines' : 'sniff';
  if (mode === 'lines') format = 'jsonl';
  let offset = 0; // absolute offset of the current chunk
  let sawContent = false; // a non-whitespace byte (or non-blank line)
  let lastContentEnd = 0; // absolute offset just after the last non-whitespace byte fed to the array parser

  // ---- lines
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let lineParts: Buffer[] = [];
  let lineLen = 0;
  let lineTooLong = false;
  let lineNo = 0; // lines completed so far
  let lineStart = 0; // absolute offset of the current line
  let probeValue: { value: unknown } | null = null;
  let switchToDocument = false;
  let stopReason: string | null = null;

  const onLine = async (buf: Buffer | null, at: number): Promise<void> => {
    const index = lineNo; // 0-based line number of this line
    if (buf === null) {
      if (mode === 'probe' && !probeValue) {
        switchToDocument = true;
        return;
      }
      commitProbe();
      sawContent = true;
      seeds.problem(tooBig(seeds.items++, `${lineLen} bytes`, index + 1));
      return;
    }
    let text: string;
    try {
      text = decoder.decode(buf);
    } catch {
      const bad = firstInvalidUtf8(buf);
      stopReason = await notUtf8(file, at + Math.max(0, bad), buf[Math.max(0, bad)]!);
      return;
    }
    if (!text.trim()) return;
    sawContent = true;
    if (mode === 'probe') {
      if (!probeValue) {
        try {
          probeValue = { value: JSON.parse(text) };
        } catch {
          switchToDocument = true;
        }
        return;
      }
      commitProbe();
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      seeds.items++;
      seeds.problem(jsonError(file, text, e, index));
      return;
    }
    seeds.add(value);
  };
  /** A second non-blank line: the file is JSONL; its first line is its first seed. */
  const commitProbe = () => {
    if (mode !== 'probe' || !probeValue) return;
    mode = 'lines';
    format = 'jsonl';
    const v = probeValue.value;
    probeValue = null;
    seeds.add(v);
  };
  const pushLines = async (chunk: Buffer, at: number): Promise<void> => {
    let from = 0;
    while (from < chunk.length && !seeds.full && !switchToDocument && !stopReason) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl < 0 ? chunk.length : nl;
      if (!lineTooLong) {
        if (lineLen + (end - from) > MAX_SEED_JSON_BYTES) {
          lineTooLong = true;
          lineParts = [];
          // A first line this long is no seed of a JSONL file: the file is one document (read whole, size-limited).
          if (mode === 'probe' && !probeValue) {
            switchToDocument = true;
            return;
          }
        } else if (end > from) lineParts.push(chunk.subarray(from, end));
      }
      lineLen += end - from;
      if (nl < 0) break;
      const line = lineTooLong ? null : lineParts.length === 1 ? lineParts[0]! : Buffer.concat(lineParts, lineLen);
      await onLine(line, lineStart);
      lineNo += 1;
      lineParts = [];
      lineLen = 0;
      lineTooLong = false;
      lineStart = at + nl + 1;
      from = nl + 1;
    }
  };
  const endLines = async (): Promise<void> => {
    if (seeds.full || switchToDocument || stopReason) return;
    if (lineLen > 0 || lineTooLong) await onLine(lineTooLong ? null : Buffer.concat(lineParts, lineLen), lineStart);
  };

  // ---- JSON array
  const utf8 = new Utf8Check();
  const tokenizer = new Tokenizer();
  const parser = new TokenParser({ paths: ['$.*'], keepStack: false });
  let depth = 0;
  let lastToken = 0; // absolute offset of the last token
  let elementStart = 0; // absolute offset of the `[` or `,` before the current element
  let feedBase = 0; // absolute offset of the first byte fed to the tokenizer
  tokenizer.onToken = (t) => {
    lastToken = feedBase + t.offset;
    const tok = t.token as number;
    // TokenType: LEFT_BRACE 0, RIGHT_BRACE 1, LEFT_BRACKET 2, RIGHT_BRACKET 3, COLON 4, COMMA 5
    if (tok === 0 || tok === 2) {
      if (depth === 0) elementStart = lastToken;
      depth += 1;
    } else if (tok === 1 || tok === 3) depth -= 1;
    else if (tok === 5 && depth === 1) elementStart = lastToken;
    parser.write(t);
  };
  tokenizer.onEnd = () => {
    if (!parser.isEnded) parser.end();
  };
  parser.onEnd = () => {
    if (!tokenizer.isEnded) tokenizer.end();
  };
  parser.onError = (e) => tokenizer.error(e);
  parser.onValue = ({ value }) => {
    if (seeds.full) return;
    // The value's last token ends it: `}` of an object, `]` of an array, else a scalar (checked by its length).
    const elementBytes = lastToken - elementStart; // from after the `[` or `,` before it to its last character
    if (elementBytes > MAX_SEED_JSON_BYTES && typeof value === 'object') {
      seeds.problem(tooBig(seeds.items++, `${elementBytes} bytes`));
      return;
    }
    seeds.add(value);
  };
  let syntax: { at: number; error: Error } | null = null;
  const feedArray = (chunk: Buffer, at: number): void => {
    const bad = utf8.push(chunk, at);
    if (bad >= 0) {
      syntax = { at: bad, error: new Error('utf8') };
      return;
    }
    for (let k = chunk.length - 1; k >= 0; k--) {
      if (!isWs(chunk[k]!)) {
        lastContentEnd = at + k + 1;
        break;
      }
    }
    try {
      tokenizer.write(chunk);
    } catch (e) {
      const m = /absolute position "(\d+)"/.exec((e as Error).message);
      syntax = { at: m ? feedBase + Number(m[1]) : lastToken, error: e as Error };
      return;
    }
    if (!seeds.full && depth >= 1 && at + chunk.length - elementStart > MAX_SEED_JSON_BYTES + CHUNK_BYTES) {
      seeds.problem(tooBig(seeds.items, `more than ${MAX_SEED_JSON_BYTES / 1024 / 1024} MiB`), true);
    }
  };
  const endArray = (): void => {
    if (syntax || seeds.full) return;
    const bad = utf8.end();
    if (bad >= 0) {
      syntax = { at: bad, error: new Error('utf8') };
      return;
    }
    try {
      if (!tokenizer.isEnded) tokenizer.end();
      if (!parser.isEnded) parser.end();
    } catch (e) {
      syntax = { at: lastContentEnd, error: e as Error };
    }
  };

  let firstChunk = true;
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      sha.update(chunk);
      bytes += chunk.length;
      let data = chunk;
      let at = offset;
      offset += chunk.length;
      if (firstChunk) {
        firstChunk = false;
        if ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff)) {
          const mark = data[0] === 0xff ? 'FF FE' : 'FE FF';
          seeds.problem(`${file}: expected UTF-8 text, got UTF-16 text (byte order mark ${mark}); re-save the file as UTF-8`, true);
        } else if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) {
          data = data.subarray(3);
          at = 3;
          lineStart = 3;
        }
      }
      if (seeds.full || switchToDocument || stopReason || syntax) continue; // only the sha256 still needs the bytes
      if (mode === 'sniff') {
        let k = 0;
        while (k < data.length && isWs(data[k]!)) k++;
        if (k === data.length) {
          await pushLines(data, at); // whitespace only: counts lines, makes no seed
          continue;
        }
        if (data[k] === 0x5b /* [ */) {
          mode = 'array';
          format = 'json-array';
          feedBase = at + k;
          data = data.subarray(k);
          at += k;
        } else mode = 'probe';
      }
      if (mode === 'array') feedArray(data, at);
      else await pushLines(data, at);
      opts.onProgress?.({ bytes_read: bytes, seeds_read: seeds.items });
      if (opts.stopAtCut && seeds.full && !seeds.fatal) break;
    }
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    return fail(fileProblem(file, 'seed', e));
  }
  if (seeds.fatal) return finish();
  if (mode === 'array') {
    endArray();
    if (syntax) {
      const s = syntax as { at: number; error: Error };
      if (s.error.message === 'utf8') {
        return fail(await notUtf8(file, s.at, (await readByte(file, s.at)) ?? 0));
      }
      const { line, col } = await positionAt(file, s.at);
      return fail(`${file}:${line}:${col}: invalid JSON (${syntaxReason(s.error, await readByte(file, s.at))})`);
    }
  } else {
    await endLines();
    if (stopReason) return fail(stopReason);
    if (switchToDocument) {
      // Its first line is not a JSON value by itself: one (pretty-printed) document, parsed whole.
      return read(file, options, true);
    }
    if (mode === 'probe' && probeValue) {
      // A single non-blank line: one JSON document (array, {"entities": [...]} or a string).
      format = 'json';
      const items = documentItems(file, (probeValue as { value: unknown }).value, false);
      if (typeof items === 'string') return fail(items);
      for (const item of items) {
        if (seeds.full) break;
        seeds.add(item);
      }
      if (seeds.items === 0) seeds.problem('seeds: expected at least one seed, got an empty array');
      return finish();
    }
  }
  if (!sawContent && mode !== 'array') return fail(`${file}: expected seeds, got an empty file`);
  if (mode === 'sniff') return fail(`${file}: expected seeds, got an empty file`);
  if (seeds.items === 0 && seeds.problems === 0) seeds.problem('seeds: expected at least one seed, got an empty array');
  return finish();

  function tooBig(i: number, got: string, line?: number): string {
    return (
      `seeds[${i}]: expected at most ${MAX_SEED_JSON_BYTES / 1024 / 1024} MiB of JSON for one seed (a text of at most ${MAX_SEED_CHARS} ` +
      `characters and its metadata), got ${got}${line ? ` (${file} line ${line})` : ''}`
    );
  }
}

/** The byte at an offset of a file (undefined past its end). */
async function readByte(file: string, offset: number): Promise<number | undefined> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fd.read(b, 0, 1, offset);
    return bytesRead ? b[0] : undefined;
  } finally {
    await fd.close();
  }
}
