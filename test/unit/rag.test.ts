/**
 * local_search: BM25, dense and hybrid retrieval over test/fixtures/corpus, with the simulator's
 * /v1/embeddings endpoint, the on-disk embedding cache and error classification.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { embedText, startSimulator, type Simulator } from '../../src/llm/simulator';
import { FailureType } from '../../src/shared/constants';
import { clearCorpusCache, EMBEDDING_BATCH, reciprocalRankFusion, retrievalSettings } from '../../src/tools/local-search';
import { executeTool } from '../../src/tools/registry';

const CORPUS = relative(process.cwd(), join(__dirname, '../fixtures/corpus'));

let sim: Simulator;
let cacheRoot: string;
const savedKey = process.env.OPENAI_API_KEY;

before(async () => {
  sim = await startSimulator();
  cacheRoot = await mkdtemp(join(tmpdir(), 'qasynth-rag-test-'));
  delete process.env.OPENAI_API_KEY; // loopback endpoints need no key
});
after(async () => {
  await sim.close();
  await rm(cacheRoot, { recursive: true, force: true });
  if (savedKey !== undefined) process.env.OPENAI_API_KEY = savedKey;
});
beforeEach(() => {
  sim.resetLog();
  sim.clearScript();
  clearCorpusCache();
});

function kwargs(extra: Record<string, unknown> = {}, cacheDir = cacheRoot): Record<string, unknown> {
  return { corpus_path: CORPUS, embedding_model: 'sim-embed', embedding_base_url: sim.url, embedding_cache_dir: cacheDir, ...extra };
}

const search = (query: string, kw: Record<string, unknown>, top_k = 3) =>
  executeTool('local_search', { query, top_k }, { environment_kwargs: kw });

const sourcesOf = (text: string) => [...text.matchAll(/\[source: ([^\]]+)\]/g)].map((m) => m[1]);

describe('local_search BM25', () => {
  it('finds the right document of the fixture corpus', async () => {
    const obs = await search('Bernoulli numbers Note G', { corpus_path: CORPUS }, 1);
    assert.deepEqual(sourcesOf(obs.text), ['ada-lovelace.md']);
    assert.equal(sim.requests().length, 0, 'bm25 makes no embedding requests');
  });

  it('reads retrieval settings and their defaults', () => {
    assert.equal(retrievalSettings({}).retrieval, 'bm25');
    assert.equal(retrievalSettings({ embedding_model: 'm' }).retrieval, 'hybrid');
    assert.equal(retrievalSettings({ embedding_model: 'm', retrieval: 'dense' }).retrieval, 'dense');
    assert.equal(retrievalSettings({}).cacheDir, join(tmpdir(), 'qasynth-embeddings'));
    assert.throws(() => retrievalSettings({ retrieval: 'dense' }), /embedding_model is not set/);
    assert.throws(() => retrievalSettings({ embedding_model: 'm', retrieval: 'sparse' }), /expected "bm25", "dense" or "hybrid"/);
  });

  it('fuses rankings with reciprocal ranks (k = 60)', () => {
    // 0: 1/61 + 1/63; 1: 1/62 + 1/61; 2: 1/63 + 1/62 → 1 > 0 > 2 (1/61+1/62 > 1/61+1/63 > 1/62+1/63)
    assert.deepEqual(reciprocalRankFusion([[0, 1, 2], [1, 2, 0]]), [1, 0, 2]);
    assert.deepEqual(reciprocalRankFusion([[5], [7]]), [5, 7]);
  });
});

describe('local_search dense + hybrid (simulator embeddings)', () => {
  it('the simulator serves deterministic normalised embeddings through the openai SDK (float and base64)', async () => {
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'unused', maxRetries: 0 });
    const f = await client.embeddings.create({ model: 'sim-embed', input: ['Ada Lovelace', 'Ada Lovelace'], encoding_format: 'float' });
    const b = await client.embeddings.create({ model: 'sim-embed', input: 'Ada Lovelace' }); // SDK default: base64, decoded
    assert.equal(f.data.length, 2);
    assert.equal(f.data[0]!.embedding.length, 256);
    assert.deepEqual(f.data[0]!.embedding, f.data[1]!.embedding);
    assert.deepEqual(Array.from(b.data[0]!.embedding, (x) => Math.round(x * 1e5)), f.data[0]!.embedding.map((x) => Math.round(x * 1e5)));
    assert.ok(f.usage.prompt_tokens > 0 && f.usage.total_tokens === f.usage.prompt_tokens);
    const norm = Math.hypot(...f.data[0]!.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-6, String(norm));
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const q = embedText("notes on Babbage's Analytical Engine");
    assert.ok(dot(q, embedText('She added notes about the Analytical Engine of Charles Babbage')) > dot(q, embedText('Lyon lies on the Rhône')) + 0.2);
    assert.deepEqual(sim.requests().map((e) => [e.kind, e.inputs]), [['embedding', 2], ['embedding', 1]]);
  });

  it('hybrid returns relevant chunks and uses the disk cache on the second call', async () => {
    const dir = await mkdtemp(join(cacheRoot, 'hybrid-'));
    const first = await search('the first published computer program for the Analytical Engine', kwargs({}, dir));
    assert.equal(first.error, undefined);
    assert.equal(sourcesOf(first.text)[0], 'ada-lovelace.md', first.text);
    const firstLog = sim.requests();
    assert.ok(firstLog.every((e) => e.kind === 'embedding' && e.status === 200));
    const corpusRequests = firstLog.slice(0, -1);
    assert.ok(corpusRequests.length >= 1 && corpusRequests.every((e) => (e.inputs ?? 0) <= EMBEDDING_BATCH));
    assert.equal(firstLog.at(-1)!.inputs, 1, 'then the query alone');
    assert.equal(readdirSync(join(dir, 'qasynth-embeddings')).filter((f) => f.endsWith('.json')).length, 1);

    // A fresh index (as in a restarted worker): the chunk vectors come from disk, only the query is embedded.
    clearCorpusCache();
    sim.resetLog();
    const second = await search('who proposed the World Wide Web at CERN', kwargs({}, dir));
    assert.deepEqual(sim.requests().map((e) => [e.kind, e.inputs]), [['embedding', 1]]);
    assert.equal(sourcesOf(second.text)[0], 'http://local.test/wiki/CERN', second.text);
  });

  it('dense-only retrieval ranks by cosine similarity', async () => {
    const obs = await search('Lumière cinématographe film screening', kwargs({ retrieval: 'dense' }), 1);
    assert.deepEqual(sourcesOf(obs.text), ['lumiere-brothers.md']);
  });

  it('a 429 from the embedding endpoint becomes a retryable RateLimited failure', async () => {
    const dir = await mkdtemp(join(cacheRoot, 'ratelimit-'));
    sim.script([{ match: { kind: 'embedding' }, times: 1, respond: { status: 429, headers: { 'retry-after': '3' } } }]);
    const err = await search('Lyon silk', kwargs({}, dir)).catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, FailureType.RateLimited);
    assert.equal(err.nonRetryable, false);
    assert.equal(err.nextRetryDelay, 3000);
    // The retry (as Temporal would make it) succeeds.
    const ok = await search('Lyon silk', kwargs({}, dir));
    assert.match(ok.text, /^### Retrieved Context:/);
  });

  it('other endpoint errors are classified too (404 → non-retryable, 500 → retryable)', async () => {
    sim.script([{ match: { kind: 'embedding' }, times: 1, respond: { status: 404 } }]);
    const notFound = await search('Lyon', kwargs({}, await mkdtemp(join(cacheRoot, 'e404-')))).catch((e: unknown) => e);
    assert.ok(notFound instanceof ApplicationFailure);
    assert.equal(notFound.type, FailureType.LlmRequestRejected);
    assert.equal(notFound.nonRetryable, true);
    sim.script([{ match: { kind: 'embedding' }, times: 1, respond: { status: 503 } }]);
    const down = await search('Lyon', kwargs({}, await mkdtemp(join(cacheRoot, 'e503-')))).catch((e: unknown) => e);
    assert.ok(down instanceof ApplicationFailure);
    assert.equal(down.type, FailureType.LlmUnavailable);
    assert.equal(down.nonRetryable, false);
  });

  it('a remote embedding endpoint without OPENAI_API_KEY is a non-retryable LlmAuth failure', async () => {
    const err = await search('Lyon', kwargs({ embedding_base_url: 'https://embeddings.example.com/v1' })).catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, FailureType.LlmAuth);
    assert.equal(err.nonRetryable, true);
    assert.equal(sim.requests().length, 0);
  });
});
