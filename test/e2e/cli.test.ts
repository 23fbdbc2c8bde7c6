/**
 * The `qasynth` CLI as a user runs it (compiled dist/, real Temporal server, simulator over HTTP).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import type { QaRecord } from '../../src/shared/types';
import { readJsonl, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';
import { batchHandle, queryProgress } from '../../src/api';
import { CLI, ROOT, runCli } from '../helpers/cli';

const qasynth = runCli;

let t: TestTemporal;
let sim: Simulator;
let dir: string;
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first (npm test does)');
  t = await testTemporal();
  sim = await startSimulator();
  dir = tempDir();
});
after(async () => {
  await sim.close();
  await t.close();
});

function write(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

describe('qasynth CLI', () => {
  test('run: completes a batch against TEMPORAL_ADDRESS with an embedded worker, prints paths; re-run resumes (same run id)', async () => {
    const config = write('config.json', { environment_mode: 'math', max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, model_name: 'sim', max_workers: 2 });
    const seeds = write('seeds.jsonl', '"prime numbers"\n{"text": "Fibonacci sequence", "metadata": {"level": 2}}\n"prime numbers"\n');
    const out = path.join(dir, 'out');
    const args = ['run', '--config', config, '--seeds', seeds, '--output-dir', out, '--task-queue', uniqueQueue('cli'), '--json'];
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-cli-test' };
    const r = await qasynth(args, env);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(result.seeds_total, 2);
    assert.equal(result.duplicates_dropped, 1);
    assert.equal(result.seeds_succeeded, 2);
    // One wording of duplicates for run and validate: copies dropped (= duplicates_dropped), distinct seeds with copies.
    const dups = '1 duplicate copy dropped (1 seed appears more than once)';
    assert.ok(r.stderr.includes(`note: ${dups}; each seed is processed once:`), r.stderr);
    const v = await qasynth(['validate', '--config', config, '--seeds', seeds], env);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.stdout.startsWith(`ok: math mode, 2 seeds, ${dups}, run id ${result.run_id}`), v.stdout);
    const qas = readJsonl<QaRecord>(result.qa_path);
    assert.equal(qas.length, result.qa_count);
    assert.ok(qas.length >= 2);
    const calls = sim.requests().length;
    const again = await qasynth(args, env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already completed/);
    assert.equal(JSON.parse(again.stdout.trim().split('\n').pop()!).qa_path, result.qa_path);
    assert.equal(sim.requests().length, calls, 'the re-run paid for nothing');
  });

  test('bad input exits 2 with one line per problem, naming the path; nothing is written', async () => {
    const config = write('bad.json', { environment_mode: 'math', max_depth: -3, min_depth: 9, colour: 'blue' });
    const seeds = write('seeds-bad.json', '["ok", 42, ""]');
    const out = path.join(dir, 'never');
    const r = await qasynth(['run', '--config', config, '--seeds', seeds, '--output-dir', out], { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.some((l) => /^error: config\.max_depth: expected/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^error: config\.colour: unknown key; valid keys are .*environment_mode/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^error: seeds\[1\]/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /^error: seeds\[2\]/.test(l)), r.stderr);
    assert.equal(fs.existsSync(out), false);
    assert.equal(sim.requests().length >= 0, true);
  });

  test('missing files, an incomplete web config and a bad flag are usage errors (exit 2)', async () => {
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url };
    const missing = await qasynth(['validate', '--config', path.join(dir, 'nope.json'), '--seeds', path.join(dir, 'nope-seeds.json')], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.json/);
    const web = write('web.json', { environment_mode: 'web', environment_kwargs: { search_provider: 'local' } });
    const seeds = write('s.json', ['x']);
    const r = await qasynth(['run', '--config', web, '--seeds', seeds], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: config\.environment_kwargs\.local_site_url: expected the http\(s\) URL of the local search service/m);
    const flag = await qasynth(['run', '--config', web, '--seeds', seeds, '--max-workers', 'zero'], env);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--max-workers: expected an integer ≥ 1, got "zero"/);
  });

  test('run without an LLM endpoint says what to set (exit 2)', async () => {
    const config = write('c2.json', { environment_mode: 'math' });
    const seeds = write('s2.json', ['x']);
    const r = await qasynth(['run', '--config', config, '--seeds', seeds], { TEMPORAL_ADDRESS: t.address });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /OPENAI_BASE_URL/);
    assert.match(r.stderr, /--simulate/);
  });

  test('submit + worker + status: a batch submitted by script is served by a separate worker process', async () => {
    const queue = uniqueQueue('sub');
    const config = write('c3.json', { environment_mode: 'math', max_depth: 1, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, model_name: 'sim' });
    const seeds = write('s3.json', ['area of a circle', 'percentage increase']);
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-x' };
    const worker = spawn(process.execPath, [CLI, 'worker', '--task-queue', queue], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      const sub = await qasynth(['submit', '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'o3'), '--run-id', 'scripted-1', '--task-queue', queue, '--wait', '--json'], env);
      assert.equal(sub.code, 0, sub.stderr);
      const result = JSON.parse(sub.stdout.trim().split('\n').pop()!);
      assert.equal(result.run_id, 'scripted-1');
      assert.equal(result.seeds_succeeded, 2);
      const st = await qasynth(['status', 'scripted-1', '--json'], env);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).status, 'COMPLETED');
      const none = await qasynth(['status', 'no-such-run'], env);
      assert.equal(none.code, 2);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});

describe('qasynth scale', () => {
  test('says the value now in force (and the one before) on a running batch', async () => {
    // Slow answers (≥ 4 × 3 calls × 0.5 s, one seed at a time): the batch is still running when `scale` comes.
    const slow = await startSimulator({ latencyMs: 500 });
    const queue = uniqueQueue('scale');
    const config = write('c-scale.json', { environment_mode: 'math', max_depth: 2, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, model_name: 'sim', max_workers: 1 });
    const seeds = write('s-scale.json', ['area of a circle', 'percentage increase', 'prime factors', 'square roots']);
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: slow.url, OPENAI_API_KEY: 'sk-x' };
    const worker = spawn(process.execPath, [CLI, 'worker', '--task-queue', queue], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      const sub = await qasynth(['submit', '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'o-scale'), '--run-id', 'scale-1', '--task-queue', queue], env);
      assert.equal(sub.code, 0, sub.stderr);
      // The worker process may not poll yet (scale fails fast without one): wait until the batch answers.
      const h = batchHandle(t.client, 'scale-1');
      await waitFor(async () => (await queryProgress(h).then(() => true, () => false)), 60_000, 'the worker polls the run');
      const scaled = await qasynth(['scale', 'scale-1', '3'], env);
      assert.equal(scaled.code, 0, scaled.stderr);
      assert.match(scaled.stderr, /^run scale-1: max_workers is now 3 \(was 1\)$/m);
      const bad = await qasynth(['scale', 'scale-1', '0'], env);
      assert.equal(bad.code, 2, bad.stderr);
      const result = await t.client.workflow.getHandle('qasynth-scale-1').result();
      assert.equal(result.seeds_succeeded, 4);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
      await slow.close();
    }
  });
});
