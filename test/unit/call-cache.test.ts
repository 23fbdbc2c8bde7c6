/**
 * The call cache: key derivation (src/cache/key.ts, the places of src/domain/ids.ts) and the store
 * (src/cache/store.ts) on a real folder: hits, misses, corrupt entries, concurrent writers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { CACHED_TOOLS, llmCacheKey, toolCacheKey } from '../../src/cache/key';
import { CallCache } from '../../src/cache/store';
import { actionCallPlace, qaCallPlace } from '../../src/domain/ids';
import { cacheableReply } from '../../src/activities/llm';
import { countCacheOutcome, emptySeedCounters, paidRequests, buildStatistics } from '../../src/domain/statistics';
import { CONFIG_DEFAULTS } from '../../src/config/defaults';
import { parseConfig } from '../../src/config/schema';
import { runCacheDir } from '../../src/cli/run';

const BODY = {
  model: 'gpt-x',
  messages: [
    { role: 'system', content: 'You explore.' },
    { role: 'user', content: 'Seed: prime numbers' },
  ],
  temperature: 0.7,
  seed: 12345,
  max_tokens: 512,
  tools: [{ type: 'function', function: { name: 'calculator', description: 'math', parameters: { type: 'object', properties: { expression: { type: 'string' } } } } }],
  tool_choice: 'required',
};
const PLACE = actionCallPlace('seed-1', '0.1', 0);
const KEY = llmCacheKey({ endpoint: 'http://127.0.0.1:8000/v1', body: BODY, place: PLACE });

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-cache-'));
}

describe('call cache keys', () => {
  test('the same request in the same place gives the same key, whatever the key order of the body', () => {
    const reordered = { tool_choice: 'required', tools: BODY.tools, max_tokens: 512, seed: 12345, temperature: 0.7, messages: BODY.messages, model: 'gpt-x' };
    assert.equal(llmCacheKey({ endpoint: 'http://127.0.0.1:8000/v1', body: reordered, place: actionCallPlace('seed-1', '0.1', 0) }), KEY);
    assert.match(KEY, /^llm\/v1\/[0-9a-f]{64}$/);
  });

  test('any sampling parameter, prompt, tool, model or endpoint change gives another key', () => {
    const variants: Record<string, unknown>[] = [
      { temperature: 0.8 },
      { seed: 12346 },
      { max_tokens: 513 },
      { tool_choice: 'auto' },
      { response_format: { type: 'json_object' } },
      { model: 'gpt-y' },
      { messages: [BODY.messages[0], { role: 'user', content: 'Seed: prime number' }] },
      { tools: [{ ...BODY.tools[0], function: { ...BODY.tools[0]!.function, description: 'maths' } }] },
      { top_p: 0.9 },
    ];
    const keys = new Set([KEY]);
    for (const v of variants) {
      const k = llmCacheKey({ endpoint: 'http://127.0.0.1:8000/v1', body: { ...BODY, ...v }, place: PLACE });
      assert.ok(!keys.has(k), `changing ${Object.keys(v)[0]} must change the key`);
      keys.add(k);
    }
    assert.notEqual(llmCacheKey({ endpoint: 'http://127.0.0.1:9000/v1', body: BODY, place: PLACE }), KEY, 'endpoint');
  });

  test('the sample discriminator: same request, another seed / branch / attempt / path → another key', () => {
    const places = [
      actionCallPlace('seed-2', '0.1', 0), // another seed
      actionCallPlace('seed-1', '0.0', 0), // the sibling branch
      actionCallPlace('seed-1', '0.1', 1), // the next attempt of the same slot
      actionCallPlace('seed-1', '0.1.0', 0), // one level deeper
      qaCallPlace('seed-1_traj_0', 0),
      qaCallPlace('seed-1_traj_0', 1),
      qaCallPlace('seed-1_traj_1', 0),
    ];
    const keys = new Set([KEY, ...places.map((place) => llmCacheKey({ endpoint: 'http://127.0.0.1:8000/v1', body: BODY, place }))]);
    assert.equal(keys.size, places.length + 1);
  });

  test('places are plain strings: seed, branch path, attempt', () => {
    assert.equal(actionCallPlace('s', '0.1.0', 2), 's/action/0.1.0#2');
    assert.equal(qaCallPlace('s_traj_1', 0), 's_traj_1/qa#0');
  });

  test('tool keys: tool, canonical arguments and environment_kwargs; web_visit also its summary model', () => {
    const base = { tool_name: 'web_search', parameters: { query: 'prime numbers', top_k: 3 }, environment_kwargs: { search_provider: 'local' } };
    const k = toolCacheKey(base);
    assert.match(k, /^tool\/v1\/web_search\/[0-9a-f]{64}$/);
    assert.equal(toolCacheKey({ ...base, parameters: { top_k: 3, query: 'prime numbers' } }), k);
    assert.notEqual(toolCacheKey({ ...base, parameters: { query: 'prime number', top_k: 3 } }), k);
    assert.notEqual(toolCacheKey({ ...base, environment_kwargs: { search_provider: 'serper' } }), k);
    assert.notEqual(toolCacheKey({ ...base, tool_name: 'web_visit' }), toolCacheKey({ ...base, tool_name: 'web_search' }));
    const visit = { ...base, tool_name: 'web_visit', parameters: { url: 'http://x/', goal: 'g' } };
    assert.notEqual(toolCacheKey({ ...visit, summary: { model: 'a', endpoint: 'e' } }), toolCacheKey({ ...visit, summary: { model: 'b', endpoint: 'e' } }));
    assert.deepEqual([...CACHED_TOOLS].sort(), ['web_search', 'web_visit']);
  });
});

describe('what the cache may keep', () => {
  const reply = { content: '{"a":1}', reasoning: '', tool_calls: [], finish_reason: 'stop' };
  test('a usable reply yes; malformed, empty and refused (content_filter) answers no', () => {
    assert.equal(cacheableReply({ reply }), true);
    assert.equal(cacheableReply({ reply: { ...reply, content: '', tool_calls: [{ id: 'c1', name: 'calculator', arguments: '{}' }] } as never }), true);
    assert.equal(cacheableReply({ reply: null, malformed: 'output_too_large: 9 MB' }), false);
    assert.equal(cacheableReply({ reply: { ...reply, content: '  ' } }), false);
    assert.equal(cacheableReply({ reply: { ...reply, finish_reason: 'content_filter' } }), false);
  });
});

describe('call cache store', () => {
  const isText = (v: unknown): v is { text: string } => !!v && typeof (v as { text?: unknown }).text === 'string';

  test('miss, put, hit; a value of the wrong shape is a miss', async () => {
    const c = new CallCache(tmp());
    assert.equal(await c.get('k1', isText), undefined);
    await c.put('k1', { text: 'hello' });
    assert.deepEqual(await c.get('k1', isText), { text: 'hello' });
    await c.put('k2', { other: 1 });
    assert.equal(await c.get('k2', isText), undefined);
  });

  test('a corrupt entry is a miss, logged once, never an error', async () => {
    const dir = tmp();
    const warnings: string[] = [];
    const c = new CallCache(dir, (m) => warnings.push(m));
    await c.put('k', { text: 'hello' });
    // Overwrite every content file with other bytes: the integrity check fails.
    const content = path.join(dir, 'content-v2');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(content);
    assert.ok(files.length >= 1);
    for (const f of files) fs.writeFileSync(f, 'garbage');
    assert.equal(await c.get('k', isText), undefined);
    assert.equal(await c.get('k', isText), undefined);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /unreadable entry, treated as a miss/);
    // Stored again, it is found again.
    await c.put('k', { text: 'again' });
    assert.deepEqual(await c.get('k', isText), { text: 'again' });
  });

  test('a folder that cannot be written: the put is logged, the get is a miss, nothing throws', async () => {
    const dir = tmp();
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, 'not a folder');
    const warnings: string[] = [];
    const c = new CallCache(path.join(blocker, 'cache'), (m) => warnings.push(m));
    await c.put('k', { text: 'x' });
    assert.equal(await c.get('k', isText), undefined);
    assert.equal(warnings.filter((w) => /could not store/.test(w)).length, 1);
  });

  test('four processes writing and reading one folder at once: every entry is readable and right', async () => {
    const dir = tmp();
    const script = path.join(dir, 'writer.js');
    const storePath = require.resolve('cacache');
    fs.writeFileSync(
      script,
      `const cacache = require(${JSON.stringify(storePath)});
       (async () => {
         const [dir, who] = process.argv.slice(2);
         for (let i = 0; i < 50; i++) {
           await cacache.put(dir, 'shared-' + i, JSON.stringify({ v: 1, value: { text: 'same value ' + i } }));
           await cacache.put(dir, who + '-' + i, JSON.stringify({ v: 1, value: { text: who + ' ' + i } }));
           await cacache.get(dir, 'shared-' + i).catch(() => null);
         }
       })().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`,
    );
    const codes = await Promise.all(
      ['a', 'b', 'c', 'd'].map(
        (who) => new Promise<number | null>((resolve) => fork(script, [path.join(dir, 'store'), who], { stdio: 'ignore' }).on('exit', resolve)),
      ),
    );
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const c = new CallCache(path.join(dir, 'store'), (m) => assert.fail(`unexpected warning: ${m}`));
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(await c.get(`shared-${i}`, isText), { text: `same value ${i}` });
      for (const who of ['a', 'b', 'c', 'd']) assert.deepEqual(await c.get(`${who}-${i}`, isText), { text: `${who} ${i}` });
    }
  });
});

describe('cache in counters, statistics and config', () => {
  test('countCacheOutcome creates the counters on first use; no outcome counts nothing', () => {
    const c = emptySeedCounters();
    countCacheOutcome(c, 'llm', undefined);
    assert.equal(c.cache, undefined);
    countCacheOutcome(c, 'llm', 'hit');
    countCacheOutcome(c, 'llm', 'hit');
    countCacheOutcome(c, 'llm', 'miss');
    countCacheOutcome(c, 'tools', 'miss');
    assert.deepEqual(c.cache, { llm: { hits: 2, misses: 1 }, tools: { hits: 0, misses: 1 } });
  });

  test('a hit sends no request: paid requests = calls − hits at least', () => {
    assert.equal(paidRequests({ llm_calls: 5, llm_requests: 2, cache: { llm: { hits: 3, misses: 2 }, tools: { hits: 0, misses: 0 } } }), 2);
    assert.equal(paidRequests({ llm_calls: 5, llm_requests: 0, cache: { llm: { hits: 5, misses: 0 }, tools: { hits: 0, misses: 0 } } }), 0);
    // Files without requests counted: one per call, as before.
    assert.equal(paidRequests({ llm_calls: 4 }), 4);
  });

  test('statistics: cache hits and misses summed over seeds; enabled only when a call used it', () => {
    const counters = (cache?: { llm: { hits: number; misses: number }; tools: { hits: number; misses: number } }) => ({
      ...emptySeedCounters(), llm_calls: 3, llm_requests: cache ? cache.llm.misses : 3, ...(cache ? { cache } : {}),
    });
    const seed = (i: number, c: ReturnType<typeof counters>) => ({
      source_id: `s${i}`, seed_data: 'x', index: i,
      result: { run_id: 'r', source_id: `s${i}`, index: i, seed_data: 'x', status: 'succeeded' as const, started_at: '', finished_at: '', qas: [], trajectories: [], counters: c },
    });
    const run = { run_id: 'r', mode: 'math', config: { ...CONFIG_DEFAULTS }, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z', completion: 'complete' as const, duplicates_dropped: 0 };
    const on = buildStatistics({ ...run, seeds: [seed(0, counters({ llm: { hits: 3, misses: 0 }, tools: { hits: 2, misses: 0 } })), seed(1, counters({ llm: { hits: 1, misses: 2 }, tools: { hits: 0, misses: 1 } }))] });
    assert.deepEqual(on.cache, { enabled: true, llm: { hits: 4, misses: 2 }, tools: { hits: 2, misses: 1 } });
    assert.equal(on.llm.calls, 6);
    assert.equal(on.llm.requests, 2);
    const off = buildStatistics({ ...run, seeds: [seed(0, counters())] });
    assert.deepEqual(off.cache, { enabled: false, llm: { hits: 0, misses: 0 }, tools: { hits: 0, misses: 0 } });
    assert.equal(off.llm.requests, 3);
  });

  test('config: cache defaults to on with the default folder; bad values are named', () => {
    const ok = parseConfig({});
    assert.ok(ok.ok);
    assert.deepEqual(ok.config.cache, { enabled: true, path: null });
    assert.equal(runCacheDir(ok.config, '/data/out'), path.join('/data/out', '.qasynth-cache'));
    assert.equal(runCacheDir({ cache: { enabled: true, path: '/shared/cache' } }, '/data/out'), '/shared/cache');
    assert.equal(runCacheDir({ cache: { enabled: false, path: '/shared/cache' } }, '/data/out'), null);
    assert.equal(runCacheDir({}, '/data/out'), path.join('/data/out', '.qasynth-cache'), 'a config recorded before the key existed');
    const bad = parseConfig({ cache: { enabled: 'yes', path: '' } });
    assert.ok(!bad.ok);
    const text = bad.issues.join('\n');
    assert.match(text, /cache\.enabled/);
    assert.match(text, /cache\.path/);
  });
});
