/**
 * `npx tsx bench/cache.ts` — what the call cache (src/cache/) adds to one call, measured (not part of `npm test`):
 *   1. key derivation (canonical JSON + sha256) of a realistic action-choice request (history of 4 steps);
 *   2. the store alone (cacache on a temp folder): a get that misses, a put, a get that hits;
 *   3. the `chooseAction` activity end to end (MockActivityEnvironment, the LLM simulator at zero latency on
 *      127.0.0.1): without a cache, with a cache that misses (lookup + request + store), with a cache that hits.
 * Medians and p95 over N calls each (default 300); the no-cache and cache-miss calls alternate, so machine noise
 * falls on both alike. Records bench/results/cache.json + cache.md.
 *
 *   npx tsx bench/cache.ts            # 300 calls per case
 *   npx tsx bench/cache.ts --calls 1000
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { MockActivityEnvironment } from '@temporalio/testing';
import { llmCacheKey } from '../src/cache/key';
import { CallCache } from '../src/cache/store';
import { createLlmActivities } from '../src/activities/llm';
import { startSimulator } from '../src/llm/simulator';
import { actionCallPlace } from '../src/domain/ids';
import { buildActionMessages } from '../src/domain/prompts';
import { toolSchemas } from '../src/tools/registry';
import type { ChooseActionInput } from '../src/shared/types';

const ROOT = path.resolve(__dirname, '..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Figures {
  median_ms: number;
  p95_ms: number;
}

function figures(samples: number[]): Figures {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { median_ms: r(at(0.5)), p95_ms: r(at(0.95)) };
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<Figures> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return figures(samples);
}

function actionInput(i: number, cache: boolean): ChooseActionInput {
  const step = (k: number) => ({
    intent: `look up fact ${k}`,
    tool_name: 'web_search',
    parameters: { query: `prime numbers fact ${k}` },
    observation: `Result ${k}: ${'Prime numbers are natural numbers greater than 1 with no divisors but 1 and themselves. '.repeat(6)}`,
  });
  return {
    model: 'sim',
    tool_calling: 'native',
    temperature: 0.7,
    sampling_seed: 1000 + i,
    seed_text: `prime numbers ${i}`,
    seed_description: 'a math topic',
    sampling_tips: '',
    qa_examples: [],
    tools: ['web_search', 'web_visit'],
    history: [0, 1, 2, 3].map(step),
    current_observation: step(4).observation,
    attempt: 0,
    ...(cache ? { cache_place: actionCallPlace(`seed-${i}`, '0.1.0', 0) } : {}),
  };
}

async function main(): Promise<void> {
  const n = arg('calls', 300);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-cache-'));
  try {
    // 1. Key derivation of the request the activity would send.
    const input = actionInput(0, true);
    const tools = toolSchemas(input.tools);
    const body = { model: input.model, messages: buildActionMessages(input, tools), temperature: 0.7, seed: 1000, tools, tool_choice: 'required' };
    const bodyBytes = Buffer.byteLength(JSON.stringify(body));
    const key = await timeEach(n, (i) => llmCacheKey({ endpoint: 'http://127.0.0.1:8000/v1', body, place: actionCallPlace('s', String(i), 0) }));

    // 2. The store alone.
    const store = new CallCache(path.join(tmp, 'store'));
    const value = { reply: { content: '', reasoning: '', tool_calls: [{ id: 'c', name: 'web_search', arguments: '{"query":"x","intent":"y"}' }], finish_reason: 'tool_calls' }, usage: { input_tokens: 900, output_tokens: 40 }, usage_estimated: false };
    const ok = (v: unknown): v is typeof value => !!v;
    const storeMiss = await timeEach(n, (i) => store.get(`miss-${i}`, ok));
    const storePut = await timeEach(n, (i) => store.put(`k-${i}`, value));
    const storeHit = await timeEach(n, (i) => store.get(`k-${i}`, ok));

    // 3. The activity end to end against the simulator (zero latency).
    const sim = await startSimulator({ latencyMs: 0 });
    try {
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'bench', maxRetries: 0 });
      const plain = createLlmActivities({ client: () => client });
      const cached = createLlmActivities({ client: () => client, cache: new CallCache(path.join(tmp, 'activity')) });
      const env = () => new MockActivityEnvironment();
      // Warm-up: connections, the endpoint's capability probe, JIT.
      for (let i = 0; i < 100; i++) {
        await env().run(plain.chooseAction, actionInput(100_000 + i, false));
        await env().run(cached.chooseAction, actionInput(200_000 + i, true));
      }
      // Without a cache and with a cache that misses, interleaved call by call (the same machine noise for both).
      const noCacheSamples: number[] = [];
      const missSamples: number[] = [];
      for (let i = 0; i < n; i++) {
        let t0 = process.hrtime.bigint();
        await env().run(plain.chooseAction, actionInput(i, false));
        noCacheSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        t0 = process.hrtime.bigint();
        await env().run(cached.chooseAction, actionInput(i, true));
        missSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const noCache = figures(noCacheSamples);
      const miss = figures(missSamples);
      const requestsBefore = sim.requests().length;
      const hit = await timeEach(n, (i) => env().run(cached.chooseAction, actionInput(i, true)));
      const hitRequests = sim.requests().length - requestsBefore;
      const result = {
        measured_at: new Date().toISOString(),
        machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), node ${process.version}`,
        calls_per_case: n,
        request_body_bytes: bodyBytes,
        key_derivation: key,
        store: { get_miss: storeMiss, put: storePut, get_hit: storeHit },
        activity: { no_cache: noCache, cache_miss: miss, cache_hit: hit, requests_sent_by_hits: hitRequests },
      };
      const outDir = path.join(ROOT, 'bench', 'results');
      fs.mkdirSync(outDir, { recursive: true });
      fs.writeFileSync(path.join(outDir, 'cache.json'), `${JSON.stringify(result, null, 2)}\n`);
      const row = (name: string, f: Figures) => `| ${name} | ${f.median_ms} | ${f.p95_ms} |`;
      const md = [
        '# Call cache overhead (`npx tsx bench/cache.ts`)',
        '',
        `${result.measured_at}, ${result.machine}; ${n} calls per case; action-choice request of ${bodyBytes} bytes.`,
        '',
        '| case | median ms | p95 ms |',
        '|---|---|---|',
        row('key derivation (canonical JSON + sha256)', key),
        row('store: get, miss', storeMiss),
        row('store: put', storePut),
        row('store: get, hit', storeHit),
        row('chooseAction, no cache (simulator, 0 ms latency)', noCache),
        row('chooseAction, cache miss (lookup + request + store)', miss),
        row('chooseAction, cache hit (no request)', hit),
        '',
        `Requests sent by the ${n} hits: ${hitRequests}.`,
        '',
      ].join('\n');
      fs.writeFileSync(path.join(outDir, 'cache.md'), md);
      process.stdout.write(md);
    } finally {
      await sim.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
