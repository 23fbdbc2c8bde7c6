/**
 * Crash test: a real `qasynth worker` process is SIGKILLed in the middle of a batch and a new one started.
 * The batch must complete with every record exactly once, and finished LLM calls must not be paid again
 * (at most the calls in flight at the kill are repeated). Also checks that the API key never reaches
 * workflow histories, worker logs or output files.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import type { QaRecord, TrajectoryRecord } from '../../src/shared/types';
import { readJsonl, smallConfig, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

import { CLI, startWorkerProcess, stopWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
const SECRET = `sk-qasynth-crash-test-${process.pid}-DO-NOT-LEAK`;
const MAX_WORKERS = 3;

let t: TestTemporal;
let sim: Simulator;
before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  t = await testTemporal();
  sim = await startSimulator({ latencyMs: 80 });
});
after(async () => {
  await sim.close();
  await t.close();
});

function startWorker(queue: string, args: string[] = []): WorkerProcess {
  return startWorkerProcess({
    address: t.address,
    taskQueue: queue,
    llmUrl: sim.url,
    args,
    env: { OPENAI_API_KEY: SECRET, QASYNTH_LOG_LEVEL: 'INFO' },
  });
}

function duplicateCalls(): number {
  const seen = new Map<string, number>();
  for (const r of sim.requests()) if (r.status === 200) seen.set(r.fingerprint, (seen.get(r.fingerprint) ?? 0) + 1);
  return [...seen.values()].reduce((n, c) => n + (c - 1), 0);
}

test('SIGKILL of the worker mid-batch: the batch completes, records once, finished LLM calls not repaid, no key leaks', async () => {
  const queue = uniqueQueue('crash');
  const outDir = tempDir();
  const seeds = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture'];

  const w1 = startWorker(queue);
  await w1.ready;
  const sub = await submitBatch(
    t.client,
    { run_id: 'crash', config: smallConfig({ max_workers: MAX_WORKERS }), seeds, output_dir: outDir },
    { taskQueue: queue },
  );
  await waitFor(() => sim.requests().filter((r) => r.status === 200).length >= 30, 60_000, '30 answered LLM calls');
  await w1.kill('SIGKILL');
  const callsBeforeKill = sim.requests().length;
  const finishedSeedsAtKill = fs.existsSync(path.join(outDir, 'crash', 'seeds')) ? fs.readdirSync(path.join(outDir, 'crash', 'seeds')).length : 0;

  const w2 = startWorker(queue);
  await w2.ready;
  try {
    const result = await sub.handle.result();
    const callsTotal = sim.requests().length;
    const repeated = duplicateCalls();
    process.stdout.write(
      `# crash test: LLM calls before kill ${callsBeforeKill}, after restart ${callsTotal - callsBeforeKill}, ` +
        `total ${callsTotal}; repeated calls ${repeated} (limit ${MAX_WORKERS} in flight); seeds finished at kill ` +
        `${finishedSeedsAtKill}/${seeds.length}; QA ${result.qa_count}, trajectories ${result.trajectory_count}\n`,
    );
    assert.ok(callsBeforeKill < callsTotal, 'the kill happened mid-batch: work remained for the second worker');
    assert.equal(result.seeds_succeeded, seeds.length);
    assert.equal(result.seeds_failed, 0);
    assert.ok(repeated <= MAX_WORKERS, `at most the in-flight calls are repeated (repeated ${repeated})`);

    const qas = readJsonl<QaRecord>(result.qa_path);
    const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
    assert.equal(qas.length, result.qa_count);
    assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'each QA once');
    assert.equal(new Set(trajs.map((x) => x.trajectory_id)).size, trajs.length, 'each trajectory once');
    assert.equal(new Set(qas.map((q) => q.source_id)).size, seeds.length, 'every seed has QA');
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    assert.equal(stats.total_nodes, seeds.length * 10, 'every tree is complete (10 nodes each)');

    // The key never reaches histories, logs or outputs.
    const histories: string[] = [];
    for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "crash" AND TaskQueue = "${queue}"` })) {
      histories.push(JSON.stringify(await t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()));
    }
    assert.ok(histories.length >= 1);
    const parentHistory = JSON.stringify(await sub.handle.fetchHistory());
    for (const h of [...histories, parentHistory]) assert.ok(!h.includes(SECRET), 'no key in workflow history');
    assert.ok(!w1.logs().includes(SECRET) && !w2.logs().includes(SECRET), 'no key in worker logs');
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const f of walk(outDir)) assert.ok(!fs.readFileSync(f, 'utf8').includes(SECRET), `no key in ${f}`);
  } finally {
    await stopWorkerProcess(w2);
  }
});

test('SIGKILL with LLM calls as local activities (local_llm) and a call cache the workers share: finished calls not repaid', async () => {
  // A local activity's result reaches the history only with its workflow task, so the new worker runs again every
  // call its seeds made since their last one: the shared cache answers those that had finished.
  sim.resetLog();
  const queue = uniqueQueue('crash-local');
  const outDir = tempDir();
  const cacheArgs = ['--cache-dir', path.join(tempDir(), 'cache')];
  const seeds = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'Collatz conjecture'];
  const w1 = startWorker(queue, cacheArgs);
  await w1.ready;
  const sub = await submitBatch(
    t.client,
    { run_id: 'crash-local', config: smallConfig({ max_workers: MAX_WORKERS, local_llm: true }), seeds, output_dir: outDir },
    { taskQueue: queue },
  );
  await waitFor(() => sim.requests().filter((r) => r.status === 200).length >= 30, 60_000, '30 answered LLM calls');
  await w1.kill('SIGKILL');
  const callsBeforeKill = sim.requests().length;
  const w2 = startWorker(queue, cacheArgs);
  await w2.ready;
  try {
    const result = await sub.handle.result();
    const repeated = duplicateCalls();
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    const hits = stats.cache?.llm?.hits ?? 0;
    process.stdout.write(
      `# crash test (local_llm): LLM calls before kill ${callsBeforeKill}, total ${sim.requests().length}; repeated ${repeated} ` +
        `(limit ${MAX_WORKERS} in flight); calls run again and answered by the cache ${hits}\n`,
    );
    assert.ok(callsBeforeKill < sim.requests().length, 'the kill happened mid-batch');
    assert.equal(result.seeds_succeeded, seeds.length);
    assert.ok(repeated <= MAX_WORKERS, `at most the in-flight calls are repeated (repeated ${repeated})`);
    assert.ok(hits > 0, 'the calls made again after the kill were answered by the cache');
    const qas = readJsonl<QaRecord>(result.qa_path);
    assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'each QA once');
    assert.equal(new Set(qas.map((q) => q.source_id)).size, seeds.length, 'every seed has QA');
    assert.equal(stats.total_nodes, seeds.length * 10, 'every tree is complete (10 nodes each)');
    assert.ok(!w1.logs().includes(SECRET) && !w2.logs().includes(SECRET), 'no key in worker logs');
  } finally {
    await stopWorkerProcess(w2);
  }
});
