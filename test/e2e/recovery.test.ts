/**
 * Recovery as a user does it from the terminal (compiled CLI, real Temporal server, simulator over HTTP):
 * the circuit breaker's pause is shown on the console and in `qasynth status`, `qasynth resume` continues after the
 * fix, and `--retry-failed` re-runs only the failed seeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import type { BatchResult, QaRecord } from '../../src/shared/types';
import { readJsonl, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'qasynth.js');

interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exit: Promise<number>;
}

function start(args: string[], env: Record<string, string | undefined>): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (b) => (out.stdout += b));
  child.stderr!.on('data', (b) => (out.stderr += b));
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, out, exit };
}

async function qasynth(args: string[], env: Record<string, string | undefined>) {
  const r = start(args, env);
  const code = await r.exit;
  return { code, ...r.out };
}

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

// dedup off: the simulator writes its questions from two templates, so dedup would keep fewer QA than seeds.
const TREE = { environment_mode: 'math', model_name: 'sim', max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, dedup: { enabled: false } };

describe('recovery from the terminal', () => {
  test('--retry-failed: 3 failing seeds, the cause fixed, re-run: only those seeds are paid, every record once', async () => {
    sim.resetLog();
    sim.script([{ match: { contains: 'POISON' }, respond: { status: 400, body: { error: { message: 'content policy: poisoned seed' } } } }]);
    const config = write('retry-config.json', { ...TREE, max_workers: 2, pause_after_failures: 0 });
    const seeds = write('retry-seeds.json', ['prime numbers', 'POISON one', 'Fibonacci sequence', 'POISON two', 'POISON three', 'golden ratio']);
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-recovery-test' };
    const args = ['run', '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'out'), '--task-queue', uniqueQueue('retry'), '--json'];
    const first = await qasynth(args, env);
    assert.equal(first.code, 1, first.stderr);
    const r1 = JSON.parse(first.stdout.trim().split('\n').pop()!) as BatchResult;
    assert.equal(r1.seeds_failed, 3);
    assert.equal(r1.seeds_succeeded, 3);
    assert.match(first.stderr + first.stdout, /--retry-failed/);

    // The same command again only shows the result: a finished run is never re-run by accident.
    const shown = await qasynth(args, env);
    assert.match(shown.stderr, /already completed/);

    sim.clearScript();
    const before = sim.requests().length;
    const second = await qasynth([...args, '--retry-failed'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /started again for its failed, no-QA and not-run seeds/);
    const r2 = JSON.parse(second.stdout.trim().split('\n').pop()!) as BatchResult;
    assert.equal(r2.seeds_succeeded, 6);
    assert.equal(r2.qa_path, r1.qa_path);
    // D=2, b=2, t=1: 4 nodes + 1 QA = 5 calls per seed, for the 3 failed seeds only.
    assert.equal(sim.requests().length - before, 3 * 5);
    const qas = readJsonl<QaRecord>(r2.qa_path);
    assert.equal(qas.length, r2.qa_count);
    assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'every record once');
    assert.equal(new Set(qas.map((q) => q.source_id)).size, 6);
  });

  test('circuit breaker: the pause and its reason on the console and in `qasynth status`; `qasynth resume` after the fix', async () => {
    sim.resetLog();
    sim.script([{ match: { kind: 'any' }, respond: { status: 401, body: { error: { message: 'invalid api key', code: 'invalid_api_key' } } } }]);
    const config = write('breaker-config.json', { ...TREE, max_workers: 1, pause_after_failures: 2 });
    const seeds = write('breaker-seeds.json', ['prime numbers', 'Fibonacci sequence', 'compound interest', 'golden ratio']);
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-breaker-test' };
    const queue = uniqueQueue('breaker');
    // --no-cache: the seeds of the previous test, answered then, would be answered from the call cache without a
    // single request, and nothing would fail.
    const run = start(['run', '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'out'), '--task-queue', queue, '--run-id', 'breaker-cli', '--no-progress', '--no-cache'], env);
    try {
      await waitFor(() => /paused by the circuit breaker/.test(run.out.stderr), 90_000, 'the pause on the console');
      assert.match(run.out.stderr, /2 seeds in a row ended with the same error \(LlmAuth\)/);
      assert.match(run.out.stderr, /qasynth resume breaker-cli/);
      assert.equal(sim.requests().length, 2, 'nothing spent after the pause');

      const status = await qasynth(['status', 'breaker-cli'], { TEMPORAL_ADDRESS: t.address });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /paused/);
      assert.match(status.stdout, /paused by the circuit breaker: 2 seeds in a row/);

      sim.clearScript();
      const resumed = await qasynth(['resume', 'breaker-cli'], { TEMPORAL_ADDRESS: t.address });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(await run.exit, 1, run.out.stderr);
      const result = run.out.stdout;
      assert.match(result, /2\/4 seeds succeeded, 2 failed/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
