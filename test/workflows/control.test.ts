/** Live control of a running batch: pause / resume / setMaxWorkers, and graceful cancel. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startSimulator } from '../../src/llm/simulator';
import { pauseBatch, queryProgress, resumeBatch, scaleBatch, setMaxWorkers, submitBatch } from '../../src/api';
import type { QaRecord } from '../../src/shared/types';
import { heldAt, readJsonl, smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';
import { windowTimeline } from '../helpers/window';

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const tiny = { max_depth: 2, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1 };
const seeds = Array.from({ length: 6 }, (_, i) => `topic number ${i + 1}`);

test('pause stops new seeds, setMaxWorkers widens the window, resume continues; nothing is lost', async () => {
  const sim = await startSimulator({ latencyMs: 30 });
  const queue = uniqueQueue('ctl');
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  try {
    // The second seed's calls wait at the endpoint until the pause has been taken in: the pause comes after the
    // first seed and during the second, whatever the machine's speed, so four seeds are left to run after it.
    sim.script([{ match: { contains: seeds[1]! }, respond: { hold: 'second-seed' } }]);
    const sub = await submitBatch(t.client, { run_id: 'ctl', config: smallConfig({ ...tiny, max_workers: 1 }), seeds, output_dir: tempDir() }, { taskQueue: queue });
    await waitFor(() => heldAt(sim, 'second-seed'), 60_000, 'the second seed running');
    await pauseBatch(sub.handle);
    await waitFor(async () => (await queryProgress(sub.handle)).paused, 60_000, 'the pause taken in');
    sim.release('second-seed');
    await waitFor(async () => {
      const p = await queryProgress(sub.handle);
      return p.paused && p.running.length === 0;
    }, 60_000, 'paused and drained');
    const atPause = (await queryProgress(sub.handle)).counters.seeds_done;
    assert.equal(atPause, 2, 'the seed running at the pause finished; no seed started after it');
    await assert.rejects(setMaxWorkers(sub.handle, 0), (e: Error) => {
      assert.match(String((e.cause as Error | undefined)?.message), /max_workers: expected an integer 1\.\.2000 \(the Temporal server's limit of pending child workflows per workflow\), got 0/);
      return true;
    });
    assert.deepEqual(await scaleBatch(sub.handle, 3), { previous: 1, current: 3 }, 'says the value before and the value now');
    assert.equal(await setMaxWorkers(sub.handle, 3), 3, 'the earlier helper still returns the previous value');
    assert.equal((await queryProgress(sub.handle)).max_workers, 3);
    await resumeBatch(sub.handle);
    const result = await sub.handle.result();
    assert.equal(result.seeds_succeeded, seeds.length);

    // From the history of every run of the parent (it may continue as new after the resume): no child was
    // started between the pause and resume signals; up to 3 ran at once after.
    const lastRun = (await sub.handle.describe()).runId;
    let runs: { runId: string; start: number }[] = [];
    await waitFor(async () => {
      runs = [];
      for await (const w of t.client.workflow.list({ query: `WorkflowId = "${sub.handle.workflowId}"` })) runs.push({ runId: w.runId, start: w.startTime.getTime() });
      return runs.some((r) => r.runId === lastRun);
    }, 30_000, 'every run of the parent listed (visibility)');
    runs.sort((a, b) => a.start - b.start);
    const events = [];
    for (const r of runs) events.push(...((await t.client.workflow.getHandle(sub.handle.workflowId, r.runId).fetchHistory()).events ?? []));
    let paused = false;
    let maxAfterResume = 0;
    const steps = new Map(windowTimeline(sub.handle.workflowId, events).map((s) => [s.event, s]));
    for (const e of events) {
      const sig = e.workflowExecutionSignaledEventAttributes?.signalName;
      if (sig === 'pause') paused = true;
      if (sig === 'resume') paused = false;
      const step = steps.get(e);
      if (step?.started) {
        assert.equal(paused, false, 'no child starts while paused');
        maxAfterResume = Math.max(maxAfterResume, step.running);
      }
    }
    assert.ok(maxAfterResume >= 2 && maxAfterResume <= 3, `window after scale-up: ${maxAfterResume}`);
  } finally {
    await worker.stop();
    await sim.close();
  }
});

test('cancel is graceful: running seeds stop, finished seeds are written, the result says cancelled', async () => {
  const sim = await startSimulator({ latencyMs: 40 });
  const queue = uniqueQueue('cancel');
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  try {
    // The third seed's calls wait at the endpoint (never released): the cancel comes while it runs, after two
    // seeds finished, whatever the machine's speed.
    sim.script([{ match: { contains: seeds[2]! }, respond: { hold: 'third-seed' } }]);
    const sub = await submitBatch(t.client, { run_id: 'cancel', config: smallConfig({ ...tiny, max_workers: 1 }), seeds, output_dir: tempDir() }, { taskQueue: queue });
    await waitFor(() => heldAt(sim, 'third-seed'), 60_000, 'the third seed running');
    await sub.handle.cancel();
    const result = await sub.handle.result();
    assert.equal(result.status, 'cancelled');
    assert.equal(result.seeds_succeeded, 2, 'the two seeds finished before the cancel; the running one stopped, none started after');
    assert.equal(result.seeds_succeeded + result.seeds_failed + result.seeds_missing, seeds.length);
    const qas = readJsonl<QaRecord>(result.qa_path);
    assert.equal(qas.length, result.qa_count);
    assert.equal(new Set(qas.map((q) => q.source_id)).size, result.seeds_succeeded);
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    assert.equal(stats.completion, 'cancelled');
    assert.equal(stats.seeds.missing, result.seeds_missing);
  } finally {
    await worker.stop();
    await sim.close();
  }
});
