/** Shared types of the offline web corpus (`src/corpus`). */

/** Bumped whenever the on-disk layout of `pages.jsonl` / `manifest.json` changes; `ensureCorpus` rebuilds on mismatch. */
export const CORPUS_FORMAT_VERSION = 1;

export type CorpusSource = 'foldoc' | 'jargon' | 'factbook';
export const ALL_SOURCES: readonly CorpusSource[] = ['foldoc', 'jargon', 'factbook'];

/** One page of the offline web, one JSON object per line of `pages.jsonl`. */
export interface CorpusPage {
  /** Stable id: `<source>:<slug>`. */
  id: string;
  /** URL path, e.g. `/foldoc/Transmission_Control_Protocol`; unique, already URL-encoded. */
  path: string;
  title: string;
  source: CorpusSource;
  /** Plain text; paragraphs separated by blank lines, hard line breaks by `\n`. */
  text: string;
  /** Paths of linked pages (deduplicated, all exist in the corpus). */
  links: string[];
  /** Cross-references inside `text`: `[start, end, index into links]` (UTF-16 offsets, sorted, non-overlapping). */
  anchors?: Array<[number, number, number]>;
  /** Other names of the page (dictd index headwords, country long forms); lower-case. */
  aliases?: string[];
}

export interface CorpusManifest {
  formatVersion: number;
  builtAt: string;
  buildMs: number;
  sources: CorpusSource[];
  pages: number;
  bySource: Record<string, number>;
  /** `limit` passed to buildCorpus (pages per source), or null for a full build. */
  limit: number | null;
  /** Cross-reference markup seen in the source data vs. resolved to a page of this corpus. */
  links: { total: number; resolved: number };
}

/** A page as produced by a source reader, before paths are assigned and links resolved. */
export interface RawPage {
  source: CorpusSource;
  title: string;
  /** Lower-case names under which other pages may reference this one (title included by the builder). */
  aliases: string[];
  text: string;
  /** Cross-references inside `text`: offsets plus the referenced name as written. */
  refs: Array<{ start: number; end: number; target: string }>;
}
