/**
 * The `qasynth` package as a script uses it: its packed files carry the type declarations, the example script
 * type-checks against them (through package.json `exports`) and runs against the test server with a worker on
 * the simulator; bad input is refused before anything starts; a finished run answers without any worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { ConfigError, connect, loadConfig, loadSeeds, prepareBatch, queryRun, submit, watch, type Config, type RunUpdate } from '../../src/index';
import { describeRun } from '../../src/client/pollers';
import { ROOT } from '../helpers/cli';
import { readJsonl, startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

const run = promisify(execFile);

let t: TestTemporal;
let sim: Simulator;
let dir: string;
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'index.d.ts')), 'run `npm run build` first');
  t = await testTemporal();
  sim = await startSimulator();
  dir = tempDir();
});
after(async () => {
  await sim.close();
  await t.close();
});

const tiny = { environment_mode: 'math', model_name: 'sim', max_depth: 2, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1 };

function write(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

describe('the qasynth package', () => {
  test('package.json points types and exports at built declarations, and `npm pack` ships them', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.exports['.'].types, './dist/index.d.ts');
    assert.equal(pkg.types, 'dist/index.d.ts');
    assert.ok(fs.existsSync(path.join(ROOT, pkg.exports['.'].default)));
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const files = new Set<string>((JSON.parse(stdout)[0].files as { path: string }[]).map((f) => f.path));
    for (const f of ['dist/index.d.ts', 'dist/index.js', 'dist/api.d.ts', 'dist/client/connect.d.ts', 'dist/client/pollers.d.ts', 'dist/shared/types.d.ts', 'dist/config/schema.d.ts']) {
      assert.ok(files.has(f), `npm pack lacks ${f}`);
    }
    // The declarations type Config from the schema (not Record<string, unknown>).
    assert.match(fs.readFileSync(path.join(ROOT, 'dist', 'api.d.ts'), 'utf8'), /export type Config = z\.input<typeof configSchema>/);
  });

  test('examples/ type-check against the built declarations, as a user project importing `qasynth`', async () => {
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', path.join(ROOT, 'examples')], { cwd: ROOT }).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    assert.equal(r.code, 0, r.out);
  });

  test('bad input throws ConfigError listing every problem, and nothing is started', async () => {
    const c = await connect({ env: { TEMPORAL_ADDRESS: t.address } });
    try {
      const runId = `bad-${uniqueQueue('x')}`;
      const bad = { ...tiny, max_depth: -3, colour: 'blue' } as unknown as Config;
      await assert.rejects(
        submit(c, { config: bad, seeds: ['ok', 42 as unknown as string, ''], runId }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          const issues = (e as ConfigError).issues;
          assert.ok(issues.some((i) => /^config\.max_depth: expected/.test(i)), issues.join('\n'));
          assert.ok(issues.some((i) => /^config\.colour: unknown key/.test(i)), issues.join('\n'));
          assert.ok(issues.some((i) => /^seeds\[1\]/.test(i)), issues.join('\n'));
          assert.ok(issues.some((i) => /^seeds\[2\]/.test(i)), issues.join('\n'));
          return true;
        },
      );
      assert.equal(await describeRun(c.client, runId), null, 'no workflow was started');
      assert.throws(() => loadConfig(write('bad.json', { max_depth: 'three' })), (e: unknown) => e instanceof ConfigError && /bad\.json: max_depth: expected an integer/.test(e.issues.join()));
      await assert.rejects(loadSeeds(write('bad.jsonl', '"a"\n{"text": 5}\n')), (e: unknown) => e instanceof ConfigError && /seeds\[1\]/.test(e.issues.join()));
      await assert.rejects(prepareBatch({ config: tiny as Config }), (e: unknown) => e instanceof ConfigError && /exactly one of seeds/.test(e.message));
    } finally {
      await c.close();
    }
  });

  test('the example script submits, watches and prints the result; the same run id from the file by reference; a finished run answers without a worker', async () => {
    const queue = uniqueQueue('example');
    const config = write('config.json', tiny);
    const seeds = write('seeds.jsonl', '"prime numbers"\n"Fibonacci sequence"\n"prime numbers"\n"area of a circle"\n');
    const out = path.join(dir, 'out');
    const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
    let stdout = '';
    let stderr = '';
    try {
      const code = await new Promise<number>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', 'examples/submit-and-watch.ts', '--config', config, '--seeds', seeds, '--output-dir', out, '--task-queue', queue], {
          cwd: ROOT,
          env: { ...process.env, TEMPORAL_ADDRESS: t.address },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        p.stdout.on('data', (b) => (stdout += b));
        p.stderr.on('data', (b) => (stderr += b));
        p.on('exit', (c) => resolve(c ?? -1));
      });
      assert.equal(code, 0, stderr);
    } finally {
      await worker.stop();
    }
    const runId = /^run (\S+): started \(3 seeds/m.exec(stderr)?.[1];
    assert.ok(runId, stderr);
    assert.doesNotMatch(stderr, /warning: /, 'a worker polls: no warning');
    assert.match(stdout, /^progress: \d\/3 seeds, \d+ QA, \d+ LLM calls \(\w+\)$/m);
    const done = /^done: 3\/3 seeds, (\d+) QA in (\S+)$/m.exec(stdout);
    assert.ok(done, stdout);
    assert.equal(readJsonl(done[2]).length, Number(done[1]));
    assert.match(stdout, new RegExp(`^statistics: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${runId}/`, 'm'));

    const c = await connect({ env: { TEMPORAL_ADDRESS: t.address } });
    try {
      // No worker polls any more: a finished run still answers, with its result and statistics path.
      const u = await queryRun(c, runId);
      assert.equal(u.state, 'completed');
      assert.equal(u.state === 'completed' && u.result.seeds_succeeded, 3);
      const updates: RunUpdate[] = [];
      for await (const w of watch(c, runId)) updates.push(w);
      assert.deepEqual(updates.map((w) => w.state), ['completed']);
      assert.ok(updates[0].state === 'completed' && fs.existsSync(updates[0].result.statistics_path));
      // Submitting the same inputs again (seeds by reference this time) is the same run: reported, not re-run.
      const again = await submit(c, { config: loadConfig(config), seedsFile: seeds, outputDir: out }, { taskQueue: queue });
      assert.equal(again.runId, runId);
      assert.equal(again.state, 'completed');
      assert.equal(again.warning, null);
      // A new run with no worker on its queue: started, with a warning naming the queue.
      const lone = uniqueQueue('lone');
      const started = await submit(c, { config: { ...loadConfig(config), max_workers: 1 }, seeds: await loadSeeds(seeds), runId: `lone-${lone}` }, { taskQueue: lone });
      assert.equal(started.state, 'started');
      assert.match(started.warning ?? '', new RegExp(`no worker is polling task queue ${lone}; start one with \`node bin/qasynth.js worker --task-queue ${lone}\``));
      const first = await watch(c, started.runId).next();
      assert.equal(first.value && first.value.state, 'no_worker');
      await started.handle.terminate('test done');
    } finally {
      await c.close();
    }
  });
});
