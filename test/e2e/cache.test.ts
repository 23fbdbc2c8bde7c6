/**
 * The call cache through the CLI, as a user re-runs: `qasynth run` (compiled dist/, embedded worker, real Temporal
 * server) twice into the same --output-dir, LLM calls to the simulator, whose request log counts what was paid.
 * Web mode on the offline corpus, so the cached tools (web_search, web_visit and its summary call) are exercised.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { buildCorpus, startCorpusSite, type CorpusSite } from '../../src/corpus';
import type { BatchResult, QaRecord } from '../../src/shared/types';
import type { RunStatistics } from '../../src/domain/statistics';
import { readJsonl, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/worker-process';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'qasynth.js');

function qasynth(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let t: TestTemporal;
let sim: Simulator;
let site: CorpusSite;
let dir: string;
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first (npm test does)');
  t = await testTemporal();
  sim = await startSimulator();
  dir = tempDir('qasynth-cache-e2e-');
  const corpus = path.join(dir, 'corpus');
  await buildCorpus({ outDir: corpus, limit: 60 });
  site = await startCorpusSite({ dir: corpus });
});
after(async () => {
  await site?.close();
  await sim?.close();
  await t?.close();
});

/** Simulator requests by kind (action choice, QA synthesis, text = web_visit's summary). */
function requestsByKind(from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of sim.requests().slice(from)) out[r.kind] = (out[r.kind] ?? 0) + 1;
  return out;
}

describe('call cache (qasynth run, same --output-dir)', () => {
  const out = () => path.join(dir, 'out');
  const env = () => ({ TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-cache-test' });
  const baseConfig = () => ({
    environment_mode: 'web',
    environment_kwargs: { search_provider: 'local', local_site_url: site.url, allow_private_hosts: [`127.0.0.1:${site.port}`] },
    model_name: 'sim',
    max_depth: 3,
    branching_factor: 2,
    depth_threshold: 1,
    min_depth: 2,
    max_selected_traj: 2,
    max_workers: 2,
    synthesis_tips: 'Ask about one fact.',
  });
  const write = (name: string, content: unknown) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, JSON.stringify(content));
    return f;
  };
  const run = async (config: string, seeds: string, extra: string[]) => {
    const r = await qasynth(['run', '--config', config, '--seeds', seeds, '--output-dir', out(), '--task-queue', uniqueQueue('cache'), '--json', '--no-progress', ...extra], env());
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as BatchResult;
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as RunStatistics;
    return { result, stats, stderr: r.stderr };
  };
  const webCalls = (s: RunStatistics) => (s.tools.calls.web_search ?? 0) + (s.tools.calls.web_visit ?? 0);
  /**
   * Web tool calls that returned an error observation (e.g. a page that does not exist): never cached, so a re-run
   * makes them again (the same error, so the LLM calls after them still hit). Which pages the simulator's model
   * visits depends on the local site's port, so some runs have one and others none.
   */
  const webErrors = (s: RunStatistics) => (s.tools.errors.web_search ?? 0) + (s.tools.errors.web_visit ?? 0);

  test('a re-run pays nothing; changing only synthesis_tips pays only the QA calls; --no-cache pays everything', async (ctx) => {
    const seeds = write('seeds.json', ['Unix', 'hacker', 'France']);
    const config = write('config.json', baseConfig());

    // 1. First run: every call is a miss and is paid.
    const log0 = sim.requests().length;
    const a = await run(config, seeds, ['--run-id', 'cache-a']);
    assert.match(a.stderr, /call cache: .*\.qasynth-cache/);
    const paidA = requestsByKind(log0);
    assert.ok(a.result.seeds_succeeded >= 2, JSON.stringify(a.result));
    assert.ok(paidA.action! > 0 && paidA.qa! > 0, JSON.stringify(paidA));
    assert.ok(webCalls(a.stats) > 0, 'the run used the web tools');
    assert.equal(a.stats.cache?.enabled, true);
    assert.equal(a.stats.cache!.llm.hits, 0, 'distinct places never share an answer within a run');
    assert.equal(a.stats.cache!.llm.misses, a.stats.llm.calls);
    assert.equal(a.stats.cache!.tools.hits + a.stats.cache!.tools.misses, webCalls(a.stats));
    // Every request is in the statistics, web_visit's page summaries (kind `text`) included.
    assert.equal(paidA.action! + paidA.qa! + (paidA.text ?? 0), a.stats.llm.requests);
    assert.equal(a.stats.llm.calls, a.stats.llm.requests);
    assert.ok(fs.existsSync(path.join(out(), '.qasynth-cache')), 'the default folder under the output root');

    // 2. The same config and seeds under another run id: 0 requests of any kind, every call a hit.
    const log1 = sim.requests().length;
    const b = await run(config, seeds, ['--run-id', 'cache-b']);
    assert.deepEqual(requestsByKind(log1), {}, 'the re-run sent no request to the LLM endpoint');
    assert.equal(b.stats.llm.calls, a.stats.llm.calls);
    const failedA = webErrors(a.stats);
    assert.deepEqual(b.stats.cache, { enabled: true, llm: { hits: a.stats.llm.calls, misses: 0 }, tools: { hits: webCalls(a.stats) - failedA, misses: failedA } });
    assert.deepEqual(b.stats.tools.errors, a.stats.tools.errors, 'the calls made again failed the same way');
    assert.equal(b.stats.llm.requests, 0);
    assert.equal(b.stats.llm.input_tokens + b.stats.llm.output_tokens, 0, 'hits cost no tokens');
    // The same data, reproduced from the cache.
    const qa = (p: string) => readJsonl<QaRecord>(p).map((q) => [q.source_id, q.question, q.answer]).sort();
    assert.deepEqual(qa(b.result.qa_path), qa(a.result.qa_path));

    // 3. Only synthesis_tips changed (a new run id, derived from the config): action choices and tools all hit,
    //    only QA synthesis calls are sent.
    const tips = write('config-tips.json', { ...baseConfig(), synthesis_tips: 'Ask about a date or a number.' });
    const log2 = sim.requests().length;
    const c = await run(tips, seeds, []);
    assert.notEqual(c.result.run_id, 'cache-a');
    const paidC = requestsByKind(log2);
    assert.deepEqual(Object.keys(paidC), ['qa'], `only QA calls were made: ${JSON.stringify(paidC)}`);
    assert.ok(paidC.qa! >= a.stats.total_trajectories, 'every selected path got a new QA call');
    assert.equal(c.stats.cache!.llm.misses, paidC.qa);
    assert.equal(c.stats.cache!.llm.hits, paidA.action! + (paidA.text ?? 0), 'every action choice hit, and every page summary (with its web_visit)');
    assert.equal(c.stats.cache!.tools.misses, failedA, 'only the failed web calls were made again');

    // 4. --no-cache: everything is paid again, and the statistics say the cache was off.
    const log3 = sim.requests().length;
    const d = await run(config, seeds, ['--run-id', 'cache-d', '--no-cache']);
    assert.doesNotMatch(d.stderr, /call cache:/);
    assert.deepEqual(requestsByKind(log3), paidA);
    assert.deepEqual(d.stats.cache, { enabled: false, llm: { hits: 0, misses: 0 }, tools: { hits: 0, misses: 0 } });
    ctx.diagnostic(`first run paid ${JSON.stringify(paidA)}, cache ${JSON.stringify(a.stats.cache)}; tips changed: paid ${JSON.stringify(paidC)}, cache ${JSON.stringify(c.stats.cache)}`);
  });
});

describe('call cache (standalone `qasynth worker` processes)', () => {
  test('two workers sharing one --cache-dir: a second run of the same work sends no request; --no-cache beats --config', async (ctx) => {
    const queue = uniqueQueue('cache-workers');
    const shared = path.join(dir, 'shared-cache');
    const workers = [0, 1].map((i) =>
      startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url, args: ['--cache-dir', shared, '--identity', `cache-worker-${i}`] }),
    );
    const cfgFile = path.join(dir, 'worker-config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ cache: { path: path.join(dir, 'from-config') } }));
    const off = startWorkerProcess({ address: t.address, taskQueue: uniqueQueue('cache-off'), llmUrl: sim.url, args: ['--config', cfgFile, '--no-cache'] });
    try {
      await Promise.all([...workers.map((w) => w.ready), off.ready]);
      for (const w of workers) assert.ok(w.logs().includes(`call cache ${shared}`), w.logs());
      assert.doesNotMatch(off.logs(), /call cache/);

      const config = path.join(dir, 'math-config.json');
      fs.writeFileSync(config, JSON.stringify({ environment_mode: 'math', model_name: 'sim', max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, max_workers: 4 }));
      const seeds = path.join(dir, 'math-seeds.json');
      fs.writeFileSync(seeds, JSON.stringify(['prime numbers', 'Fibonacci sequence', 'golden ratio', 'compound interest']));
      const env = { TEMPORAL_ADDRESS: t.address };
      const submit = async (runId: string) => {
        const r = await qasynth(['submit', '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'worker-out'), '--task-queue', queue, '--run-id', runId, '--wait', '--json'], env);
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as BatchResult;
        return JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as RunStatistics;
      };
      const log0 = sim.requests().length;
      const first = await submit('cache-w1');
      const paid = sim.requests().length - log0;
      assert.ok(paid > 0);
      assert.equal(first.cache!.llm.misses, first.llm.calls);
      const log1 = sim.requests().length;
      const second = await submit('cache-w2');
      assert.equal(sim.requests().length - log1, 0, 'the second run was answered from the shared cache');
      assert.deepEqual(second.cache, { enabled: true, llm: { hits: first.llm.calls, misses: 0 }, tools: { hits: 0, misses: 0 } });
      assert.ok(!fs.existsSync(path.join(dir, 'worker-out', '.qasynth-cache')), 'a standalone worker uses the folder it was given');
      ctx.diagnostic(`first run: ${paid} requests; second: 0 (${second.cache!.llm.hits} hits)`);
    } finally {
      await Promise.all([...workers, off].map((w) => w.kill('SIGTERM')));
    }
  });
});
