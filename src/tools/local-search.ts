/**
 * `local_search` (rag mode): BM25 search (minisearch) over a local corpus, optionally fused with dense
 * (embedding) retrieval.
 *
 * The corpus is `environment_kwargs.corpus_path` (or the original's key `rag_index`), relative to the worker's
 * cwd: a folder of .md / .txt / .jsonl / .json files (searched recursively), or a single such file. JSONL lines
 * (and JSON arrays) hold records `{text, title?, id?, url?}`. Documents are cut into ~800-character chunks on
 * paragraph boundaries; title and text are indexed. The built index is cached per absolute path and content
 * signature (file mtimes and sizes), so a worker serving many calls builds it once.
 *
 * Dense retrieval (when `environment_kwargs.embedding_model` is set): chunk vectors come from an OpenAI-compatible
 * `/v1/embeddings` endpoint (`embedding_base_url`, else the LLM endpoint of src/llm/client.ts; same key variables),
 * requested in batches of ≤ 64 inputs, computed once per corpus content + model and cached on disk under
 * `<embedding_cache_dir or os.tmpdir()>/qasynth-embeddings/<sha256>.json`; the query is embedded per call and
 * chunks are ranked by cosine similarity. `retrieval`: `bm25` | `dense` | `hybrid` (reciprocal-rank fusion of
 * the BM25 and dense rankings, k = 60); default `hybrid` with an embedding model, else `bm25`. Endpoint errors
 * are classified like LLM errors (429 → retryable RateLimited, auth → non-retryable, …).
 *
 * Output as the original: `### Retrieved Context:\n` + chunks joined with `\n---\n`, each `[source: …]`-prefixed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import MiniSearch from 'minisearch';
import type OpenAI from 'openai';
import { z } from 'zod';
import { createOpenAiClient, resolveLlmEndpoint } from '../llm/client';
import { classifyLlmError } from '../llm/errors';
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
  /** sha256 of the chunked content (what is embedded): names the on-disk embedding cache. */
  contentHash: string;
  /** Chunk vectors per embedding model (row-major, L2-normalised). */
  dense: Map<string, Promise<DenseMatrix>>;
}

interface DenseMatrix {
  dims: number;
  vectors: Float32Array;
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
  const h = createHash('sha256').update(`chunks-v1:${CHUNK_CHARS}\n`);
  for (const c of chunks) h.update(`${embeddingInput(c)}\0`);
  return { search, chunks, contentHash: h.digest('hex'), dense: new Map() };
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

// ------------------------------------------------------------------------------------------- dense retrieval

export type Retrieval = 'bm25' | 'dense' | 'hybrid';
/** Reciprocal-rank-fusion constant (Cormack et al.). */
export const RRF_K = 60;
/** Inputs per /v1/embeddings request. */
export const EMBEDDING_BATCH = 64;
const CACHE_VERSION = 1;

export interface RetrievalSettings {
  retrieval: Retrieval;
  embeddingModel?: string;
  embeddingBaseUrl?: string;
  cacheDir: string;
}

/** Reads `retrieval`, `embedding_model`, `embedding_base_url`, `embedding_cache_dir` from environment_kwargs. */
export function retrievalSettings(kwargs: Record<string, unknown>): RetrievalSettings {
  const str = (key: string): string | undefined => {
    const v = kwargs[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !v.trim()) throw invalid(`environment_kwargs.${key}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v.trim();
  };
  const embeddingModel = str('embedding_model');
  const embeddingBaseUrl = str('embedding_base_url');
  const cacheRoot = str('embedding_cache_dir');
  const retrieval = kwargs.retrieval ?? (embeddingModel ? 'hybrid' : 'bm25');
  if (retrieval !== 'bm25' && retrieval !== 'dense' && retrieval !== 'hybrid') {
    throw invalid(`environment_kwargs.retrieval: expected "bm25", "dense" or "hybrid", got ${JSON.stringify(retrieval)}`);
  }
  if (retrieval !== 'bm25' && !embeddingModel) {
    throw invalid(`environment_kwargs.retrieval is "${retrieval}" but environment_kwargs.embedding_model is not set (e.g. "text-embedding-3-small")`);
  }
  return {
    retrieval,
    ...(embeddingModel ? { embeddingModel } : {}),
    ...(embeddingBaseUrl ? { embeddingBaseUrl } : {}),
    cacheDir: join(cacheRoot ? resolve(process.cwd(), cacheRoot) : tmpdir(), 'qasynth-embeddings'),
  };
}

/** The text embedded for a chunk: its title line plus its text. */
function embeddingInput(c: Chunk): string {
  return `${c.title}\n${c.text}`;
}

interface Embedder {
  client: OpenAI;
  baseURL: string;
  model: string;
}

function embedderFor(s: RetrievalSettings): Embedder {
  // The same variables and key rules as the LLM client; embedding_base_url replaces the base URL only.
  const env = s.embeddingBaseUrl ? { ...process.env, OPENAI_BASE_URL: s.embeddingBaseUrl } : process.env;
  const { baseURL } = resolveLlmEndpoint(env);
  return { client: createOpenAiClient(env), baseURL, model: s.embeddingModel! };
}

function badResponse(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.LlmUnavailable, nonRetryable: false });
}

/** Embeds `texts` (one request per ≤ 64), returns L2-normalised vectors. Errors → classified ApplicationFailures. */
async function embedBatch(e: Embedder, texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
  let res;
  try {
    res = await e.client.embeddings.create({ model: e.model, input: texts, encoding_format: 'float' }, signal ? { signal } : {});
  } catch (err) {
    throw classifyLlmError(err, { model: e.model, baseURL: e.baseURL });
  }
  const data = Array.isArray(res?.data) ? [...res.data].sort((a, b) => a.index - b.index) : [];
  if (data.length !== texts.length) {
    throw badResponse(`embedding endpoint ${e.baseURL} returned ${data.length} vectors for ${texts.length} inputs (model "${e.model}")`);
  }
  return data.map((d) => {
    const raw = d.embedding as unknown;
    if (!Array.isArray(raw) || raw.length === 0 || !raw.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw badResponse(`embedding endpoint ${e.baseURL} returned a malformed vector (model "${e.model}")`);
    }
    return normalise(Float32Array.from(raw as number[]));
  });
}

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

function cacheFile(s: RetrievalSettings, contentHash: string, model: string): string {
  const key = createHash('sha256').update(`qasynth-embeddings-v${CACHE_VERSION}\0${model}\0${contentHash}`).digest('hex');
  return join(s.cacheDir, `${key}.json`);
}

async function readCache(file: string, model: string, count: number): Promise<DenseMatrix | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { version?: unknown; model?: unknown; count?: unknown; dims?: unknown; vectors?: unknown };
    if (parsed.version !== CACHE_VERSION || parsed.model !== model || parsed.count !== count) return null;
    if (typeof parsed.dims !== 'number' || typeof parsed.vectors !== 'string') return null;
    const buf = Buffer.from(parsed.vectors, 'base64');
    if (buf.length !== count * parsed.dims * 4) return null;
    const vectors = new Float32Array(count * parsed.dims);
    new Uint8Array(vectors.buffer).set(buf);
    return { dims: parsed.dims, vectors };
  } catch {
    return null; // missing or unreadable: recompute
  }
}

async function writeCache(file: string, model: string, contentHash: string, m: DenseMatrix, count: number): Promise<void> {
  const body = JSON.stringify({
    version: CACHE_VERSION,
    model,
    corpus_sha256: contentHash,
    count,
    dims: m.dims,
    created_at: new Date().toISOString(),
    vectors: Buffer.from(m.vectors.buffer, m.vectors.byteOffset, m.vectors.byteLength).toString('base64'),
  });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(tmp, body);
    await rename(tmp, file); // atomic: concurrent workers never read a half-written file
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined); // a read-only cache dir only costs recomputation
  }
}

/** Vectors embedded so far per cache file, so a retry after a 429 mid-corpus resumes instead of restarting. */
const partial = new Map<string, Float32Array[]>();

async function computeDense(index: CorpusIndex, s: RetrievalSettings, e: Embedder, signal?: AbortSignal): Promise<DenseMatrix> {
  const file = cacheFile(s, index.contentHash, e.model);
  const cached = await readCache(file, e.model, index.chunks.length);
  if (cached) return cached;
  const done = partial.get(file) ?? [];
  partial.set(file, done);
  const inputs = index.chunks.map(embeddingInput);
  for (let i = done.length; i < inputs.length; i += EMBEDDING_BATCH) {
    done.push(...(await embedBatch(e, inputs.slice(i, i + EMBEDDING_BATCH), signal)));
  }
  const dims = done[0]!.length;
  if (done.some((v) => v.length !== dims)) {
    partial.delete(file);
    throw badResponse(`embedding endpoint ${e.baseURL} returned vectors of different lengths (model "${e.model}")`);
  }
  const vectors = new Float32Array(done.length * dims);
  done.forEach((v, i) => vectors.set(v, i * dims));
  partial.delete(file);
  const m = { dims, vectors };
  await writeCache(file, e.model, index.contentHash, m, done.length);
  return m;
}

/** Chunk vectors for the index and model: memory, then disk cache, then the endpoint. */
function denseMatrix(index: CorpusIndex, s: RetrievalSettings, e: Embedder, signal?: AbortSignal): Promise<DenseMatrix> {
  const key = `${e.model}\0${s.cacheDir}`;
  let p = index.dense.get(key);
  if (!p) {
    p = computeDense(index, s, e, signal);
    index.dense.set(key, p);
    p.catch(() => {
      if (index.dense.get(key) === p) index.dense.delete(key);
    });
  }
  return p;
}

/** Chunk ids by descending cosine similarity to the query vector. */
function denseRanking(m: DenseMatrix, q: Float32Array): number[] {
  if (q.length !== m.dims) {
    throw badResponse(`the query vector has ${q.length} dimensions but the cached chunk vectors have ${m.dims}; delete the embedding cache`);
  }
  const n = m.vectors.length / m.dims;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    const off = i * m.dims;
    for (let j = 0; j < m.dims; j++) dot += m.vectors[off + j]! * q[j]!;
    scores[i] = dot;
  }
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Reciprocal-rank fusion: Σ 1 / (k + rank) over the rankings (rank from 1); ties keep first-ranking order. */
export function reciprocalRankFusion(rankings: number[][], k = RRF_K): number[] {
  const score = new Map<number, number>();
  for (const ranking of rankings) ranking.forEach((id, i) => score.set(id, (score.get(id) ?? 0) + 1 / (k + i + 1)));
  return [...score.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
}

/** Chunk ids for the query under the configured retrieval, best first. */
export async function retrieve(kwargs: Record<string, unknown>, query: string, topK: number, signal?: AbortSignal): Promise<Chunk[]> {
  const s = retrievalSettings(kwargs);
  const index = await loadCorpus(kwargs);
  const bm25 = () => index.search.search(query).map((h) => h.id as number);
  if (s.retrieval === 'bm25') return bm25().slice(0, topK).map((id) => index.chunks[id]!);
  const e = embedderFor(s);
  const matrix = await denseMatrix(index, s, e, signal);
  const [q] = await embedBatch(e, [query], signal);
  const dense = denseRanking(matrix, q!);
  const ids = s.retrieval === 'dense' ? dense : reciprocalRankFusion([bm25(), dense]);
  return ids.slice(0, topK).map((id) => index.chunks[id]!);
}

export const localSearchTool: ToolDefinition<LocalSearchArgs> = {
  name: 'local_search',
  description:
    'Search the local knowledge base (keyword search, combined with semantic similarity when configured) and return the most relevant passages with their sources.',
  schema: localSearchSchema,
  async execute(args, ctx) {
    const hits = await retrieve(ctx.environment_kwargs, args.query, args.top_k, ctx.signal);
    if (hits.length === 0) return { text: `No results for "${args.query}" in the local knowledge base.` };
    const parts = hits.map((h) => `[source: ${h.source}]\n${h.text}`);
    return { text: `### Retrieved Context:\n${parts.join('\n---\n')}`, sources: [...new Set(hits.map((h) => h.source))] };
  },
};
