/**
 * Scale-out: three real `qasynth worker` processes share one batch on one Temporal server. Only the first
 * (the "output owner") serves the output task queue; the other two run with `--no-output`. Each process has
 * its own identity (`--identity`, or QASYNTH_WORKER_IDENTITY) and its own LLM simulator, so the test knows
 * which process answered which LLM calls. One `--no-output` worker is SIGKILLed after it has answered some
 * LLM requests, mid-batch. Checked from the workflow histories and the output folder:
 *   - every process ran activities (ActivityTaskStarted identities), and workflow tasks were shared;
 *   - every output activity ran on the output owner, and the files are complete in its folder;
 *   - the batch completes with every seed, every QA pair and trajectory exactly once, and no finished LLM
 *     call is paid twice (at most the one the killed worker had in flight).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { taskQueues } from '../../src/shared/constants';
import type { QaRecord, TrajectoryRecord } from '../../src/shared/types';
import { readJsonl, smallConfig, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

import { CLI, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
/** LLM calls one worker process runs at once: bounds the calls in flight when it is killed. */
const LLM_CONCURRENCY = 1;
const KILL_AFTER_ANSWERED = 6;

let t: TestTemporal;
before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  t = await testTemporal();
});
after(async () => {
  await t?.close();
});

interface WorkerProc extends WorkerProcess {
  identity: string;
  sim: Simulator;
}

async function startWorker(queue: string, identity: string, opts: { output: boolean; identityVia: 'flag' | 'env' }): Promise<WorkerProc> {
  const sim = await startSimulator({ latencyMs: 60 });
  const args = ['--llm-concurrency', String(LLM_CONCURRENCY)];
  if (!opts.output) args.push('--no-output');
  if (opts.identityVia === 'flag') args.push('--identity', identity);
  const w = startWorkerProcess({
    address: t.address,
    taskQueue: queue,
    llmUrl: sim.url,
    args,
    env: { OPENAI_API_KEY: 'scale-out-test', QASYNTH_WORKER_IDENTITY: opts.identityVia === 'env' ? identity : undefined },
  });
  return Object.assign(w, { identity, sim });
}

const answered = (w: WorkerProc) => w.sim.requests().filter((r) => r.status === 200).length;

/** Per identity: activities started, by task queue; and workflow tasks started. */
function tally(histories: HistoryEvent[][]) {
  const activities = new Map<string, Map<string, number>>(); // identity → queue → count
  const workflowTasks = new Map<string, number>();
  for (const events of histories) {
    const scheduled = new Map<string, string>(); // eventId → task queue
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.taskQueue?.name ?? '?');
      const st = e.activityTaskStartedEventAttributes;
      if (st) {
        const id = st.identity ?? '?';
        const queue = scheduled.get(String(st.scheduledEventId)) ?? '?';
        const perQueue = activities.get(id) ?? new Map<string, number>();
        perQueue.set(queue, (perQueue.get(queue) ?? 0) + 1);
        activities.set(id, perQueue);
      }
      const wt = e.workflowTaskStartedEventAttributes;
      if (wt) workflowTasks.set(wt.identity ?? '?', (workflowTasks.get(wt.identity ?? '?') ?? 0) + 1);
    }
  }
  return { activities, workflowTasks };
}

test('scale-out: 3 worker processes share a batch, one owns the output; SIGKILL of another mid-batch loses nothing', async () => {
  const queue = uniqueQueue('scale');
  const q = taskQueues(queue);
  const runId = `scale-out-${queue}`;
  const outDir = tempDir('qasynth-scale-out-');
  const seeds = [
    'prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples',
    'harmonic series', 'Collatz conjecture', 'golden ratio', 'Euler totient',
  ];

  const owner = await startWorker(queue, `owner-${queue}`, { output: true, identityVia: 'flag' });
  const victim = await startWorker(queue, `victim-${queue}`, { output: false, identityVia: 'flag' });
  const helper = await startWorker(queue, `helper-${queue}`, { output: false, identityVia: 'env' });
  const all = [owner, victim, helper];
  try {
    await Promise.all(all.map((w) => w.ready));
    for (const w of all) assert.ok(w.logs().includes(`identity ${w.identity}`), `${w.identity} announces its identity`);
    assert.ok(owner.logs().includes('output') && !victim.logs().match(/\(.*output.*\)/), 'only the owner serves the output queue');

    const sub = await submitBatch(
      t.client,
      { run_id: runId, config: smallConfig({ max_workers: 4 }), seeds, output_dir: outDir },
      { taskQueue: queue },
    );

    // Kill the victim once it has answered some LLM calls (its own simulator counts them) and the batch is under way.
    await waitFor(() => answered(victim) >= KILL_AFTER_ANSWERED, 60_000, `${KILL_AFTER_ANSWERED} LLM calls answered by the victim`);
    await victim.kill('SIGKILL');
    const victimAnswered = answered(victim);
    const totalAtKill = all.reduce((n, w) => n + w.sim.requests().length, 0);

    const result = await sub.handle.result();
    const totalAfter = all.reduce((n, w) => n + w.sim.requests().length, 0);

    // Outputs: complete, each record once, in the owner's folder.
    assert.equal(result.seeds_succeeded, seeds.length);
    assert.equal(result.seeds_failed, 0);
    assert.ok(totalAtKill < totalAfter, 'the kill happened mid-batch: the surviving workers made more LLM calls');
    for (const f of [result.qa_path, result.trajectories_path, result.statistics_path]) {
      assert.ok(path.resolve(f).startsWith(path.join(outDir, runId) + path.sep), `${f} is in the owner's output folder`);
      assert.ok(fs.existsSync(f), `${f} exists`);
    }
    const qas = readJsonl<QaRecord>(result.qa_path);
    const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
    assert.equal(qas.length, result.qa_count);
    assert.equal(trajs.length, result.trajectory_count);
    assert.equal(new Set(qas.map((x) => x.qa_id)).size, qas.length, 'each QA once');
    assert.equal(new Set(trajs.map((x) => x.trajectory_id)).size, trajs.length, 'each trajectory once');
    assert.equal(new Set(qas.map((x) => x.source_id)).size, seeds.length, 'every seed has QA');
    assert.equal(fs.readdirSync(path.join(outDir, runId, 'seeds')).filter((f) => f.endsWith('.json')).length, seeds.length, 'one result file per seed');
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    assert.equal(stats.total_nodes, seeds.length * 10, 'every tree is complete (10 nodes each)');

    // Finished LLM calls are not paid twice: only what the victim had in flight may be repeated.
    const seen = new Map<string, number>();
    for (const w of all) for (const r of w.sim.requests()) if (r.status === 200) seen.set(r.fingerprint, (seen.get(r.fingerprint) ?? 0) + 1);
    const repeated = [...seen.values()].reduce((n, c) => n + (c - 1), 0);
    assert.ok(repeated <= LLM_CONCURRENCY, `at most the victim's in-flight LLM calls are repeated (repeated ${repeated})`);

    // Who ran what, from the histories of the batch and its seed workflows.
    const histories: HistoryEvent[][] = [(await sub.handle.fetchHistory()).events ?? []];
    for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}" AND TaskQueue = "${queue}"` })) {
      if (wf.workflowId === sub.handle.workflowId) continue;
      histories.push((await t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? []);
    }
    assert.equal(histories.length, seeds.length + 1, 'the batch and one workflow per seed');
    const { activities, workflowTasks } = tally(histories);
    const count = (id: string, queueName?: string) =>
      [...(activities.get(id)?.entries() ?? [])].filter(([qn]) => !queueName || qn === queueName).reduce((n, [, c]) => n + c, 0);

    process.stdout.write(
      `# scale-out: LLM calls answered per worker: ${all.map((w) => `${w.identity.split('-')[0]} ${answered(w)}`).join(', ')} ` +
        `(victim killed after ${victimAnswered}); repeated ${repeated}; activities started per identity: ` +
        `${[...activities.entries()].map(([id, m]) => `${id.split('-')[0]} ${[...m.values()].reduce((a, b) => a + b, 0)}`).join(', ')}; ` +
        `workflow tasks per identity: ${[...workflowTasks.entries()].map(([id, n]) => `${id.split('-')[0]} ${n}`).join(', ')}\n`,
    );

    for (const w of all) {
      // LLM activities run on the workflow's own task queue (src/domain/routing.ts), the calculator locally.
      assert.ok(count(w.identity, queue) > 0, `${w.identity} ran LLM activities (ActivityTaskStarted identity)`);
      assert.ok(answered(w) > 0, `${w.identity}'s simulator answered calls`);
    }
    assert.ok(count(victim.identity) > 0 && victimAnswered >= KILL_AFTER_ANSWERED, 'the killed worker did real work before it died');
    const outputStarts = [...activities.entries()].map(([id, m]) => [id, m.get(q.output) ?? 0] as const).filter(([, n]) => n > 0);
    assert.ok(outputStarts.length > 0, 'output activities ran');
    assert.deepEqual(outputStarts.map(([id]) => id), [owner.identity], 'every output activity ran on the output owner');
    const unknown = [...activities.keys(), ...workflowTasks.keys()].filter((id) => !all.some((w) => w.identity === id));
    assert.deepEqual(unknown, [], 'only the three worker processes ran tasks');
    assert.ok(workflowTasks.size >= 2, 'workflow tasks were shared by more than one process');
  } finally {
    for (const w of all) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
    }
    await Promise.all(all.map((w) => w.exited));
    await Promise.all(all.map((w) => w.sim.close()));
  }
});
