/**
 * Control commands through the CLI against a real server: without a worker on the run's task queue each says so
 * at once (exit 3, naming the queue and the command that starts a worker) instead of waiting for a query or an
 * update that nobody answers; `submit` warns; with a worker, `scale` prints the value the run now reports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { temporal } from '@temporalio/proto';
import { batchHandle } from '../../src/api';
import { runCli, ROOT } from '../helpers/cli';
import { smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
let sim: Simulator;
let dir: string;
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first');
  t = await testTemporal();
  // Slow answers keep the batch running while the commands act on it.
  sim = await startSimulator({ latencyMs: 600 });
  dir = tempDir();
});
after(async () => {
  await sim.close();
  await t.close();
});

const tiny = { max_depth: 2, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, max_workers: 1 };

describe('control commands', () => {
  const queue = uniqueQueue('noworker');
  const runId = `noworker-${queue.slice(-8)}`;
  const env = () => ({ TEMPORAL_ADDRESS: t.address });
  const workerHint = `start one with \`node bin/qasynth.js worker --task-queue ${queue}\``;

  test('submit with no worker on the queue: started, with a warning naming the queue and the command to run', async () => {
    const config = path.join(dir, 'c.json');
    fs.writeFileSync(config, JSON.stringify(smallConfig(tiny)));
    const seeds = path.join(dir, 's.json');
    fs.writeFileSync(seeds, JSON.stringify(['prime numbers', 'Fibonacci sequence', 'area of a circle', 'percentage increase', 'compound interest', 'Pythagorean theorem', 'binomial coefficients', 'harmonic series']));
    const r = await runCli(['submit', '--config', config, '--seeds', seeds, '--run-id', runId, '--task-queue', queue, '--output-dir', path.join(dir, 'out')], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `qasynth-${runId}`);
    assert.ok(r.stderr.includes(`warning: run ${runId} started, but no worker is polling task queue ${queue}; ${workerHint}`), r.stderr);
  });

  test('status, pause, resume, cancel, scale with no worker: exit 3 at once, saying which queue has no worker', async () => {
    const status = await runCli(['status', runId], env());
    assert.equal(status.code, 3, status.stderr);
    assert.match(status.stderr, new RegExp(`^error: run ${runId}: no worker is polling task queue ${queue}, so its progress cannot be read`, 'm'));
    assert.ok(status.stderr.includes(workerHint), status.stderr);
    const json = await runCli(['status', runId, '--json'], env());
    assert.equal(json.code, 3);
    assert.deepEqual(
      { ...JSON.parse(json.stdout), message: undefined },
      { status: 'RUNNING', no_worker: true, task_queue: queue, message: undefined },
    );
    for (const cmd of [['pause', runId], ['resume', runId], ['cancel', runId], ['scale', runId, '3']]) {
      const r = await runCli(cmd, env());
      assert.equal(r.code, 3, `${cmd[0]}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`error: run ${runId}: no worker is polling task queue ${queue}`), `${cmd[0]}: ${r.stderr}`);
      assert.ok(r.stderr.includes(workerHint), `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /nothing was sent/);
    }
    // Nothing was sent: the run's history has no signal or cancel request.
    const history = await batchHandle(t.client, runId).fetchHistory();
    const events = (history.events ?? []).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0]);
    assert.ok(!events.some((e) => /SIGNALED|CANCEL_REQUESTED|UPDATE/.test(e)), events.join(', '));
  });

  test('an unknown run id is bad input (exit 2) for every control command', async () => {
    for (const cmd of [['status', 'no-such-run-x'], ['pause', 'no-such-run-x'], ['scale', 'no-such-run-x', '2']]) {
      const r = await runCli(cmd, env());
      assert.equal(r.code, 2, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^error: run-id: no batch named "no-such-run-x"/m);
    }
  });

  test('with a worker: pause, then scale prints the value the run now reports; cancel is requested and the run finishes cancelled', async () => {
    const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
    try {
      // Paused first, so the run is still running (waiting) for whatever follows, however slow the machine.
      const pause = await runCli(['pause', runId], env());
      assert.equal(pause.code, 0, pause.stderr);
      assert.match(pause.stderr, new RegExp(`run ${runId}: pause requested`));
      const scale = await runCli(['scale', runId, '3'], env());
      assert.equal(scale.code, 0, scale.stderr);
      assert.equal(scale.stdout.trim(), '3');
      assert.match(scale.stderr, new RegExp(`run ${runId}: max_workers is now 3 \\(was 1\\)`));
      const status = await runCli(['status', runId, '--json'], env());
      assert.equal(status.code, 0, status.stderr);
      const p = JSON.parse(status.stdout);
      assert.equal(p.status, 'RUNNING');
      assert.equal(p.progress.max_workers, 3);
      assert.equal(p.progress.paused, true);
      const cancel = await runCli(['cancel', runId], env());
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stderr, new RegExp(`run ${runId}: cancel requested`));
      const result = await batchHandle(t.client, runId).result();
      assert.equal(result.status, 'cancelled');
    } finally {
      await worker.stop();
    }
    // Finished: status answers from the result, with no worker at all.
    await waitFor(async () => (await batchHandle(t.client, runId).describe()).status.name === 'COMPLETED', 10_000, 'the run to close');
    const done = await runCli(['status', runId, '--json'], env());
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).result.status, 'cancelled');
    const scaleDone = await runCli(['scale', runId, '2'], env());
    assert.equal(scaleDone.code, 2);
    assert.match(scaleDone.stderr, new RegExp(`^error: run-id: run ${runId} is COMPLETED, not running; nothing to scale`, 'm'));
  });
});
