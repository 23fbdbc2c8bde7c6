/**
 * `local_search` (rag mode): BM25 search (minisearch) over a local corpus.
 *
 * The corpus is `environment_kwargs.corpus_path` (or the original's key `rag_index`), relative to the worker's
 * cwd: a folder of .md / .txt / .jsonl / .json files (searched recursively), or a single such file. JSONL lines
 * (and JSON arrays) hold records `{text, title?, id?, url?}`. Documents are cut into ~800-character chunks on
 * paragraph boundaries; title and text are indexed. The built index is cached per absolute path and content
 * signature (file mtimes and sizes), so a worker serving many calls builds it once.
 *
 * Output as the original: `### Retrieved Context:\n` + chunks joined with `\n---\n`, each `[source: …]`-prefixed.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import MiniSearch from 'minisearch';
import { z } from 'zod';
import { FailureType } from '../shared/constants';
import type { ToolDefinition } from './tool';

export const CHUNK_CHARS = 800;
const CORPUS_EXTENSIONS = new Set(['.md', '.markdown', '.txt', '.jsonl', '.json']);
const MAX_CACHED_INDEXES = 8;

export const localSearchSchema = z.object({
  query: z.string().min(1).max(500).describe('Search keywords, e.g. a name plus what you want to know about it'),
  top_k: z.number().int().min(1).max(10).default(3).describe('How many passages to return (1–10, default 3)'),
});

export type LocalSearchArgs = z.infer<typeof localSearchSchema>;

interface Chunk {
  id: number;
  title: string;
  source: string;
  text: string;
}

interface CorpusIndex {
  search: MiniSearch<Chunk>;
  chunks: Chunk[];
}

const STOP = new Set(
  'a an and are as at be by for from has have in is it its of on or that the their this to was were which with what who whom how when where why did does do'.split(' '),
);

function processTerm(term: string): string | null {
  const t = term.toLowerCase();
  return STOP.has(t) ? null : t;
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

/** Splits text into ~`size`-char chunks on paragraph boundaries (then sentences, then hard cuts). */
export function chunkText(text: string, size = CHUNK_CHARS): string[] {
  const paragraphs = text.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  const pieces: string[] = [];
  for (const p of paragraphs) {
    if (p.length <= size) {
      pieces.push(p);
      continue;
    }
    let cur = '';
    for (const sentence of p.match(/[^.!?]+(?:[.!?]+|$)\s*/g) ?? [p]) {
      if (cur && cur.length + sentence.length > size) {
        pieces.push(cur.trim());
        cur = '';
      }
      let s = sentence;
      while (s.length > size) {
        pieces.push(s.slice(0, size));
        s = s.slice(size);
      }
      cur += s;
    }
    if (cur.trim()) pieces.push(cur.trim());
  }
  const chunks: string[] = [];
  let cur = '';
  for (const piece of pieces) {
    if (cur && cur.length + 2 + piece.length > size) {
      chunks.push(cur);
      cur = piece;
    } else cur = cur ? `${cur}\n\n${piece}` : piece;
  }
  if (cur) chunks.push(cur);
  return chunks;
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && CORPUS_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(root);
  return out;
}

interface RawDoc {
  title: string;
  source: string;
  text: string;
}

function recordToDoc(rec: unknown, where: string, fallbackTitle: string): RawDoc {
  if (typeof rec === 'string') return { title: fallbackTitle, source: where, text: rec };
  if (!rec || typeof rec !== 'object' || typeof (rec as { text?: unknown }).text !== 'string') {
    throw invalid(`${where}: expected a JSON object with a string "text" field, got ${JSON.stringify(rec)?.slice(0, 80)}`);
  }
  const r = rec as { text: string; title?: unknown; id?: unknown; url?: unknown };
  const title = typeof r.title === 'string' && r.title ? r.title : fallbackTitle;
  const source = typeof r.url === 'string' && r.url ? r.url : typeof r.title === 'string' && r.title ? r.title : r.id !== undefined ? String(r.id) : where;
  return { title, source, text: r.text };
}

async function readDocs(file: string, label: string): Promise<RawDoc[]> {
  const ext = extname(file).toLowerCase();
  const content = await readFile(file, 'utf8');
  const name = basename(file, extname(file));
  if (ext === '.jsonl') {
    const docs: RawDoc[] = [];
    content.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (e) {
        throw invalid(`${label}:${i + 1}: expected one JSON object per line, got invalid JSON (${(e as Error).message})`);
      }
      docs.push(recordToDoc(rec, `${label}:${i + 1}`, name));
    });
    return docs;
  }
  if (ext === '.json') {
    let arr: unknown;
    try {
      arr = JSON.parse(content);
    } catch (e) {
      throw invalid(`${label}: expected a JSON array of {text, title?} records, got invalid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(arr)) throw invalid(`${label}: expected a JSON array of {text, title?} records, got ${typeof arr}`);
    return arr.map((rec, i) => recordToDoc(rec, `${label}[${i}]`, name));
  }
  const heading = /^\s*#\s+(.+)$/m.exec(content);
  return [{ title: heading ? heading[1]!.trim() : name, source: label, text: content }];
}

async function buildIndex(abs: string, isDir: boolean, files: string[]): Promise<CorpusIndex> {
  const chunks: Chunk[] = [];
  for (const f of files) {
    const label = isDir ? relative(abs, f) : basename(f);
    for (const doc of await readDocs(f, label)) {
      for (const text of chunkText(doc.text)) chunks.push({ id: chunks.length, title: doc.title, source: doc.source, text });
    }
  }
  if (chunks.length === 0) {
    throw invalid(`environment_kwargs.corpus_path: the corpus at ${abs} holds no text (expected .md, .txt, .jsonl or .json files)`);
  }
  const search = new MiniSearch<Chunk>({
    fields: ['title', 'text'],
    storeFields: ['title', 'source', 'text'],
    processTerm,
    searchOptions: { boost: { title: 2 }, prefix: (t) => t.length > 3, fuzzy: (t) => (t.length > 5 ? 0.2 : false), combineWith: 'OR' },
  });
  search.addAll(chunks);
  return { search, chunks };
}

const cache = new Map<string, { signature: string; index: Promise<CorpusIndex> }>();

/** Resolves the corpus path from environment_kwargs, or throws a non-retryable InvalidInput failure. */
export function corpusPathOf(kwargs: Record<string, unknown>): string {
  const raw = kwargs.corpus_path ?? kwargs.rag_index;
  if (typeof raw !== 'string' || !raw.trim()) {
    throw invalid(
      `local_search needs a corpus: set environment_kwargs.corpus_path to a folder of .md/.txt/.jsonl files or a .jsonl file ` +
        `(relative to the worker's working directory; the original's rag_index key is accepted too), got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`,
    );
  }
  return resolve(process.cwd(), raw.trim());
}

/** The (cached) index for a corpus path. Rebuilt when a file's mtime or size changes. */
export async function loadCorpus(kwargs: Record<string, unknown>): Promise<CorpusIndex> {
  const abs = corpusPathOf(kwargs);
  const key = kwargs.corpus_path !== undefined ? 'environment_kwargs.corpus_path' : 'environment_kwargs.rag_index';
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw invalid(`${key}: expected an existing folder or .jsonl file, got ${JSON.stringify(String(kwargs.corpus_path ?? kwargs.rag_index))} (resolved to ${abs}, which does not exist)`);
  }
  const isDir = st.isDirectory();
  const files = isDir ? await listFiles(abs) : [abs];
  const h = createHash('sha256');
  for (const f of files) {
    const s = f === abs ? st : await stat(f);
    h.update(`${f}\0${s.mtimeMs}\0${s.size}\n`);
  }
  const signature = h.digest('hex');
  const hit = cache.get(abs);
  if (hit && hit.signature === signature) {
    cache.delete(abs);
    cache.set(abs, hit); // LRU order
    return hit.index;
  }
  const index = buildIndex(abs, isDir, files);
  cache.set(abs, { signature, index });
  index.catch(() => {
    if (cache.get(abs)?.index === index) cache.delete(abs);
  });
  while (cache.size > MAX_CACHED_INDEXES) cache.delete(cache.keys().next().value as string);
  return index;
}

/** Drops cached indexes (tests). */
export function clearCorpusCache(): void {
  cache.clear();
}

export const localSearchTool: ToolDefinition<LocalSearchArgs> = {
  name: 'local_search',
  description:
    'Search the local knowledge base (BM25 keyword search) and return the most relevant passages with their sources.',
  schema: localSearchSchema,
  async execute(args, ctx) {
    const { search } = await loadCorpus(ctx.environment_kwargs);
    const hits = search.search(args.query).slice(0, args.top_k);
    if (hits.length === 0) return { text: `No results for "${args.query}" in the local knowledge base.` };
    const parts = hits.map((h) => `[source: ${h.source as string}]\n${h.text as string}`);
    return { text: `### Retrieved Context:\n${parts.join('\n---\n')}` };
  },
};
