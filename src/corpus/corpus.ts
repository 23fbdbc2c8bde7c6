/**
 * Opening and searching a built corpus: pages by path, BM25 (minisearch) search over title (boost 2) + text,
 * snippets around the query terms. Opened corpora are cached per absolute directory and manifest mtime.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import MiniSearch from 'minisearch';
import { INDEX_FILE, MANIFEST_FILE, PAGES_FILE, writeAtomic } from './build';
import { normalizeName } from './dictd';
import { CORPUS_FORMAT_VERSION, type CorpusManifest, type CorpusPage } from './types';

export interface CorpusSearchHit {
  title: string;
  path: string;
  snippet: string;
  score: number;
}

export interface Corpus {
  dir: string;
  manifest: CorpusManifest;
  size: number;
  /** All pages in build order. */
  readonly pages: readonly CorpusPage[];
  /** The page at `path`; also accepts a decoded path, or differently cased path / an alias (see canonicalPath). */
  page(path: string): CorpusPage | undefined;
  /** Canonical path for `path`: exact, percent-decoded/re-encoded, case-insensitive, or `/<source>/<alias>`. */
  canonicalPath(path: string): string | undefined;
  /** Paths of pages linking to `path`. */
  backlinks(path: string): string[];
  search(query: string, k?: number): CorpusSearchHit[];
}

export const SNIPPET_CHARS = 250;

const STOP = new Set(
  'a an and are as at be by for from has have in is it its of on or that the their this to was were which with what who whom how when where why did does do'.split(
    ' ',
  ),
);

function processTerm(term: string): string | null {
  const t = term.toLowerCase();
  return t && !STOP.has(t) ? t : null;
}

const TOKENIZE = /[\s\-/.,;:!?'"()[\]{}<>|&*+=~`^%$#@\\‘’“”—–]+/u;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Query terms worth highlighting (lower-case, stop words and 1-char terms dropped, deduplicated). */
export function queryTerms(query: string): string[] {
  const out: string[] = [];
  for (const raw of query.split(TOKENIZE)) {
    const t = processTerm(raw);
    if (t && t.length > 1 && !out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * The ~`width`-char window of `text` covering the most distinct query terms (ties: most occurrences, then
 * earliest), cut at word boundaries and marked with `…` where text was cut. Without hits: the text's start.
 */
export function makeSnippet(text: string, query: string | string[], width = SNIPPET_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= width) return flat;
  const terms = Array.isArray(query) ? query.map((t) => t.toLowerCase()).filter(Boolean) : queryTerms(query);
  const hits: Array<{ pos: number; term: number; label: boolean }> = [];
  terms.forEach((term, ti) => {
    // Word-start matches; a hit that is a whole field name ("…: Population: 80,854,408") is worth more.
    const re = new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(term)}([\\p{L}\\p{N}]*)(:?)`, 'giu');
    for (const m of flat.matchAll(re)) hits.push({ pos: m.index!, term: ti, label: m[1] === '' && m[2] === ':' && (m.index === 0 || flat.endsWith(': ', m.index)) });
  });
  hits.sort((a, b) => a.pos - b.pos);

  let start = 0;
  if (hits.length) {
    let best = { score: -1, first: 0 };
    for (let i = 0, j = 0; i < hits.length; i++) {
      while (j < hits.length && hits[j]!.pos < hits[i]!.pos + width - 40) j++;
      const window = hits.slice(i, j);
      const distinct = new Set(window.map((h) => h.term)).size;
      const labels = new Set(window.filter((h) => h.label).map((h) => h.term)).size;
      const score = distinct * 100 + labels * 30 + Math.min(window.length, 20);
      if (score > best.score) best = { score, first: hits[i]!.pos };
    }
    // Some context before the first hit, starting at a word boundary.
    start = Math.max(0, best.first - 40);
    if (start > 0) {
      const sp = flat.indexOf(' ', start);
      start = sp >= 0 && sp < best.first ? sp + 1 : start;
    }
  }
  start = Math.min(start, Math.max(0, flat.length - width));
  let end = Math.min(flat.length, start + width);
  if (end < flat.length) {
    const sp = flat.lastIndexOf(' ', end);
    if (sp > start + width / 2) end = sp;
  }
  return `${start > 0 ? '…' : ''}${flat.slice(start, end).trim()}${end < flat.length ? '…' : ''}`;
}

function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(2B|2C|3A|40)/gi, (m) => decodeURIComponent(m));
}

type IndexDoc = { i: number; title: string; text: string };

const INDEX_OPTIONS = {
  idField: 'i',
  fields: ['title', 'text'],
  storeFields: [] as string[],
  tokenize: (s: string) => s.split(TOKENIZE),
  processTerm,
  searchOptions: { boost: { title: 2 }, combineWith: 'OR' as const },
};

/**
 * The BM25 index: loaded from INDEX_FILE when it belongs to this build (same builtAt and page count), otherwise
 * built from the pages (a few seconds for the full corpus) and saved there, best effort, for the next open.
 */
async function loadIndex(dir: string, manifest: CorpusManifest, pages: CorpusPage[]): Promise<MiniSearch<IndexDoc>> {
  const stamp = `${manifest.formatVersion}|${manifest.builtAt}|${pages.length}`;
  try {
    const saved = JSON.parse(await readFile(join(dir, INDEX_FILE), 'utf8')) as { stamp?: string; index?: unknown };
    if (saved.stamp === stamp && saved.index) {
      return MiniSearch.loadJS<IndexDoc>(saved.index as Parameters<typeof MiniSearch.loadJS>[0], INDEX_OPTIONS);
    }
  } catch {
    // missing or unreadable cache: rebuild below
  }
  const index = new MiniSearch<IndexDoc>(INDEX_OPTIONS);
  index.addAll(pages.map((p, i) => ({ i, title: p.title, text: p.text })));
  try {
    await writeAtomic(join(dir, INDEX_FILE), JSON.stringify({ stamp, index }));
  } catch {
    // read-only corpus dir: fine, the index is simply rebuilt next time
  }
  return index;
}

async function loadCorpus(dir: string): Promise<Corpus> {
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as CorpusManifest;
  if (manifest.formatVersion !== CORPUS_FORMAT_VERSION) {
    throw new Error(
      `corpus at ${dir} has format version ${manifest.formatVersion}, expected ${CORPUS_FORMAT_VERSION}; rebuild it (ensureCorpus)`,
    );
  }
  const pages: CorpusPage[] = [];
  for (const line of (await readFile(join(dir, PAGES_FILE), 'utf8')).split('\n')) {
    if (line.trim()) pages.push(JSON.parse(line) as CorpusPage);
  }

  const byPath = new Map<string, number>();
  const byLowerPath = new Map<string, number>();
  const byAlias = new Map<string, number>(); // `<source>:<alias>` → page
  const backlinks = new Map<string, string[]>();
  pages.forEach((p, i) => {
    byPath.set(p.path, i);
    const lower = p.path.toLowerCase();
    if (!byLowerPath.has(lower)) byLowerPath.set(lower, i);
    for (const name of [normalizeName(p.title), ...(p.aliases ?? [])]) {
      const key = `${p.source}:${name}`;
      if (!byAlias.has(key)) byAlias.set(key, i);
    }
    for (const l of p.links) {
      const list = backlinks.get(l);
      if (list) list.push(p.path);
      else backlinks.set(l, [p.path]);
    }
  });

  const canonicalPath = (path: string): string | undefined => {
    const clean = path.split(/[?#]/)[0]!.replace(/\/+$/, '');
    if (byPath.has(clean)) return clean;
    const m = /^\/([^/]+)\/(.+)$/.exec(clean);
    if (!m) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(m[2]!);
    } catch {
      decoded = m[2]!;
    }
    const reencoded = `/${m[1]}/${encodePathSegment(decoded)}`;
    const hit = byPath.get(reencoded) ?? byLowerPath.get(reencoded.toLowerCase()) ?? byLowerPath.get(clean.toLowerCase());
    if (hit !== undefined) return pages[hit]!.path;
    const alias = byAlias.get(`${m[1]}:${normalizeName(decoded.replace(/_/g, ' '))}`);
    return alias !== undefined ? pages[alias]!.path : undefined;
  };

  const index = await loadIndex(dir, manifest, pages);

  const search = (query: string, k = 5): CorpusSearchHit[] => {
    const q = query.trim();
    if (!q) return [];
    const limit = Math.max(1, Math.floor(k));
    const norm = normalizeName(q);
    const results = index.search(q);
    // A page whose title (or alias) is exactly the query goes first, as a search engine would.
    const exact = (i: number) => {
      const p = pages[i]!;
      return normalizeName(p.title) === norm || (p.aliases ?? []).includes(norm);
    };
    const ranked = results.slice(0, Math.max(50, limit)).map((r) => ({ i: r.id as number, score: r.score, exact: exact(r.id as number) }));
    for (const source of manifest.sources) {
      const i = byAlias.get(`${source}:${norm}`);
      if (i !== undefined && !ranked.some((r) => r.i === i)) ranked.push({ i, score: results[0]?.score ?? 1, exact: true });
    }
    ranked.sort((a, b) => Number(b.exact) - Number(a.exact) || b.score - a.score);
    const terms = queryTerms(q);
    return ranked.slice(0, limit).map(({ i, score }) => {
      const p = pages[i]!;
      return { title: p.title, path: p.path, snippet: makeSnippet(p.text, terms), score };
    });
  };

  return {
    dir,
    manifest,
    size: pages.length,
    pages,
    page: (path) => {
      const c = canonicalPath(path);
      return c === undefined ? undefined : pages[byPath.get(c)!];
    },
    canonicalPath,
    backlinks: (path) => backlinks.get(path) ?? [],
    search,
  };
}

const cache = new Map<string, Promise<Corpus>>();
const MAX_CACHED = 4;

/** Opens the corpus built in `dir` (cached per absolute dir + manifest mtime). */
export async function openCorpus(dir: string): Promise<Corpus> {
  const abs = resolve(dir);
  let mtime: number;
  try {
    mtime = (await stat(join(abs, MANIFEST_FILE))).mtimeMs;
  } catch {
    throw new Error(`no corpus at ${abs} (missing ${MANIFEST_FILE}); build it first (buildCorpus / ensureCorpus)`);
  }
  const key = `${abs}\0${mtime}`;
  let hit = cache.get(key);
  if (!hit) {
    for (const k of cache.keys()) if (k.startsWith(`${abs}\0`)) cache.delete(k);
    while (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    hit = loadCorpus(abs);
    cache.set(key, hit);
    hit.catch(() => cache.delete(key));
  }
  return hit;
}

/** Drops cached corpora (tests). */
export function clearCorpusCache(): void {
  cache.clear();
}
