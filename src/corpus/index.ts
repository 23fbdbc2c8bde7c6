/**
 * The offline web corpus: FOLDOC, the Jargon File and the CIA World Factbook as cross-linked pages, a BM25
 * search and a local HTTP site, so `web` mode runs end to end without internet access.
 *
 * CLI glue: `defaultCorpusDir(root)` → `<root>/.state/corpus`; `ensureCorpus(dir)` builds when missing or
 * built by another format version (or with a `limit`).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildCorpus, MANIFEST_FILE, PAGES_FILE, type BuildCorpusOptions, type BuildCorpusResult } from './build';
import { CORPUS_FORMAT_VERSION, type CorpusManifest } from './types';
import { existsSync } from 'node:fs';

export { buildCorpus, slugify, DEFAULT_DICTD_DIR, MANIFEST_FILE, PAGES_FILE } from './build';
export type { BuildCorpusOptions, BuildCorpusResult } from './build';
export { openCorpus, clearCorpusCache, makeSnippet, SNIPPET_CHARS } from './corpus';
export type { Corpus, CorpusSearchHit } from './corpus';
export { startCorpusSite, renderPage, renderArticleBody, escapeHtml, SITE_NAME, SEARCH_DEFAULT_K, SEARCH_MAX_K } from './site';
export type { CorpusSite, StartCorpusSiteOptions } from './site';
export { decodeDictdNumber, encodeDictdNumber, parseDictdIndex, readDictd, readDictdPages } from './dictd';
export { readFactbookPages, parseBorderCountries } from './factbook';
export { ALL_SOURCES, CORPUS_FORMAT_VERSION } from './types';
export type { CorpusManifest, CorpusPage, CorpusSource } from './types';

/** Port `qasynth corpus serve` listens on by default. */
export const DEFAULT_CORPUS_PORT = 8300;

export function defaultCorpusDir(root: string): string {
  return join(resolve(root), '.state', 'corpus');
}

async function readManifest(dir: string): Promise<CorpusManifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as CorpusManifest;
  } catch {
    return null;
  }
}

export interface EnsureCorpusResult {
  dir: string;
  built: boolean;
  manifest: CorpusManifest;
}

const building = new Map<string, Promise<EnsureCorpusResult>>();

/**
 * Makes sure a full corpus (all sources) of the current format exists in `dir`, building it when missing,
 * of another format version, partial (`limit`) or missing sources. Concurrent calls in one process share a build.
 */
export function ensureCorpus(
  dir: string,
  opts: Omit<BuildCorpusOptions, 'outDir' | 'limit'> = {},
): Promise<EnsureCorpusResult> {
  const abs = resolve(dir);
  const running = building.get(abs);
  if (running) return running;
  const job = (async (): Promise<EnsureCorpusResult> => {
    const m = await readManifest(abs);
    const wanted = opts.sources ?? ['foldoc', 'jargon', 'factbook'];
    const ok =
      m !== null &&
      m.formatVersion === CORPUS_FORMAT_VERSION &&
      m.limit === null &&
      wanted.every((s) => m.sources.includes(s)) &&
      existsSync(join(abs, PAGES_FILE));
    if (ok) return { dir: abs, built: false, manifest: m };
    const r: BuildCorpusResult = await buildCorpus({ ...opts, outDir: abs });
    return { dir: abs, built: true, manifest: r.manifest };
  })();
  building.set(abs, job);
  return job.finally(() => building.delete(abs));
}
