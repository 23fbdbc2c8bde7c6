/**
 * Reader for dictd dictionaries (`<name>.index` + `<name>.dict.dz`), as installed by Debian's `dict-*` packages
 * under /usr/share/dictd.
 *
 * Index lines are `headword \t offset \t length`, where offset and length are base-64 *numbers* (digits
 * A–Z a–z 0–9 + /, most significant first) into the gunzipped `.dict.dz`. Index headwords are lower-case; the
 * entry text starts with the headword in its original casing. FOLDOC and the Jargon File cross-reference
 * other entries with `{Term}` markup, which may span a line break (`{reliable\n   communication}`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { CorpusSource, RawPage } from './types';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));

/** Decodes a dictd base-64 number (`"B"` → 1, `"BA"` → 64, `"TOeX"` → 1255319). */
export function decodeDictdNumber(s: string): number {
  if (s.length === 0) throw new Error('dictd: empty base-64 number');
  let n = 0;
  for (const c of s) {
    const v = B64_VALUE.get(c);
    if (v === undefined) throw new Error(`dictd: invalid base-64 digit ${JSON.stringify(c)} in ${JSON.stringify(s)}`);
    n = n * 64 + v;
  }
  return n;
}

/** Encodes a non-negative integer as a dictd base-64 number (inverse of decodeDictdNumber; used by tests). */
export function encodeDictdNumber(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`dictd: cannot encode ${n}`);
  let s = '';
  do {
    s = B64[n % 64] + s;
    n = Math.floor(n / 64);
  } while (n > 0);
  return s;
}

export interface DictdIndexLine {
  headword: string;
  offset: number;
  length: number;
}

/** Parses a dictd `.index` file's text; malformed lines are skipped. */
export function parseDictdIndex(text: string): DictdIndexLine[] {
  const out: DictdIndexLine[] = [];
  for (const line of text.split('\n')) {
    const parts = line.replace(/\r$/, '').split('\t');
    if (parts.length < 3 || !parts[0]) continue;
    try {
      out.push({ headword: parts[0], offset: decodeDictdNumber(parts[1]!), length: decodeDictdNumber(parts[2]!) });
    } catch {
      // a malformed line: skip it rather than fail the whole dictionary
    }
  }
  return out;
}

/** One dictionary entry: the index headwords pointing at it and its raw text. */
export interface DictdEntry {
  headwords: string[];
  offset: number;
  length: number;
  text: string;
}

const DEBIAN_PACKAGE: Record<string, string> = { foldoc: 'dict-foldoc', jargon: 'dict-jargon' };

/**
 * Reads a dictd dictionary. Index lines pointing at the same text (aliases such as `tcp` and
 * `transmission control protocol`) are merged into one entry; `00-database-*` meta entries are skipped.
 * Entries are returned in index order of their first headword.
 */
export function readDictd(dir: string, name: string): DictdEntry[] {
  const indexPath = join(dir, `${name}.index`);
  const dictPath = join(dir, `${name}.dict.dz`);
  for (const p of [indexPath, dictPath]) {
    if (!existsSync(p)) {
      const pkg = DEBIAN_PACKAGE[name] ?? `dict-${name}`;
      throw new Error(`dictd file ${p} not found; install the Debian package: apt-get install -y ${pkg}`);
    }
  }
  const index = parseDictdIndex(readFileSync(indexPath, 'utf8'));
  const data = gunzipSync(readFileSync(dictPath));
  const byRange = new Map<string, DictdEntry>();
  const entries: DictdEntry[] = [];
  for (const line of index) {
    if (line.headword.startsWith('00-database-') || line.headword.startsWith('00database')) continue;
    const key = `${line.offset}:${line.length}`;
    const seen = byRange.get(key);
    if (seen) {
      if (!seen.headwords.includes(line.headword)) seen.headwords.push(line.headword);
      continue;
    }
    if (line.offset + line.length > data.length) continue;
    const entry: DictdEntry = {
      headwords: [line.headword],
      offset: line.offset,
      length: line.length,
      text: data.subarray(line.offset, line.offset + line.length).toString('utf8'),
    };
    byRange.set(key, entry);
    entries.push(entry);
  }
  return entries;
}

/** Lower-cases and collapses whitespace: the key under which titles, aliases and link targets are matched. */
export function normalizeName(s: string): string {
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** A `{…}` span that is a cross-reference, not literal braces (C code, set notation). */
function isLinkLabel(label: string): boolean {
  return label.length > 0 && label.length <= 100 && !/[{};=]/.test(label);
}

/**
 * Turns one entry's raw text into a page: the first line is the title; the body is de-indented, lines inside a
 * paragraph are joined (pre-formatted paragraphs, indented deeper than the body, keep their line breaks), and
 * `{Term}` markup becomes plain text plus a reference `{start, end, target}`.
 */
export function dictdEntryToPage(source: CorpusSource, entry: DictdEntry): RawPage | null {
  const lines = entry.text.replace(/\r/g, '').split('\n');
  while (lines.length && !lines[0]!.trim()) lines.shift();
  if (!lines.length) return null;
  const title = lines.shift()!.trim();
  if (!title) return null;

  const bodyLines = lines;
  const indents = bodyLines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length);
  // The body indent is the most common one (FOLDOC: 3, Jargon: 4); alias lines right under the title have none.
  const counts = new Map<number, number>();
  for (const i of indents) counts.set(i, (counts.get(i) ?? 0) + 1);
  let base = 0;
  for (const [i, c] of counts) if (c > (counts.get(base) ?? 0)) base = i;
  const paragraphs: string[] = [];
  let cur: string[] = [];
  const flush = () => {
    if (!cur.length) return;
    const pre = cur.some((l) => l.length - l.trimStart().length > base + 1) && cur.length > 1;
    paragraphs.push(pre ? cur.map((l) => l.slice(base).trimEnd()).join('\n') : cur.map((l) => l.trim()).join(' '));
    cur = [];
  };
  for (const l of bodyLines) {
    if (l.trim()) cur.push(l);
    else flush();
  }
  flush();
  // "{inherits {inheritance}}" (nested markup, a FOLDOC typo) → "inherits {inheritance}".
  const marked = paragraphs.join('\n\n').replace(/\{([^{}]*)\{([^{}]*)\}([^{}]*)\}/g, '$1{$2}$3');

  // Strip link markup, recording where each reference lands in the clean text.
  let text = '';
  const refs: RawPage['refs'] = [];
  const re = /\{([^{}]*)\}/g;
  let last = 0;
  for (let m = re.exec(marked); m; m = re.exec(marked)) {
    const spaced = m[1]!.replace(/\s+/g, ' ');
    const label = spaced.trim();
    if (!isLinkLabel(label)) continue;
    text += marked.slice(last, m.index);
    if (spaced.startsWith(' ')) text += ' ';
    refs.push({ start: text.length, end: text.length + label.length, target: label });
    text += label;
    if (spaced.length > 1 && spaced.endsWith(' ')) text += ' ';
    last = m.index + m[0].length;
  }
  text += marked.slice(last);

  const aliases = new Set(entry.headwords.map(normalizeName));
  aliases.add(normalizeName(title));
  return { source, title, aliases: [...aliases], text, refs };
}

/** Reads a dictd dictionary and converts every entry to a page. */
export function readDictdPages(source: CorpusSource, dir: string, name: string = source): RawPage[] {
  const pages: RawPage[] = [];
  for (const entry of readDictd(dir, name)) {
    const page = dictdEntryToPage(source, entry);
    if (page) pages.push(page);
  }
  return pages;
}
