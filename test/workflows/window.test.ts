/**
 * The sliding window on a real dev server: seeds keep running through every continue-as-new of the parent (no
 * draining), and a seed workflow that ends without reporting — terminated by a user, or by the server at its
 * history limit — is recorded with the reason and the LLM calls it made.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { submitBatch } from '../../src/api';
import { batchWorkflowId, seedWorkflowId } from '../../src/shared/constants';
import { sourceIdFor } from '../../src/domain/ids';
import { countRepeats } from '../chaos/check';
import type { BatchInput, QaRecord } from '../../src/shared/types';
import { startDevServer, type DevServer } from '../../src/server/dev-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { heldAt, readJsonl, smallConfig, testTemporal, waitFor, type TestTemporal, simHarness } from '../helpers/temporal';

const SEEDS = Array.from({ length: 16 }, (_, i) => `number theory topic ${i}`);

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const harness = (tt: TestTemporal = t, latencyMs = 0) => simHarness(tt, 'win', latencyMs);

interface Span {
  id: string;
  runId: string;
  start: number;
  close: number;
}

async function executions(client: Client, query: string): Promise<Span[]> {
  const out: Span[] = [];
  for await (const w of client.workflow.list({ query })) {
    out.push({ id: w.workflowId, runId: w.runId, start: w.startTime.getTime(), close: w.closeTime?.getTime() ?? Number.POSITIVE_INFINITY });
  }
  return out;
}

/**
 * How the seeds reported to the given runs of a parent, from their histories: seeds asked to report by signal
 * (the ask acknowledged), seeds started to report by signal (no `report_by_result` in their input), `seedFinished`
 * signals received, child completions taken in. Asserts on the way that no seed had to be inspected (it ended
 * without reporting) or watched.
 */
async function parentReports(client: Client, parentId: string, runs: Span[]): Promise<{ asked: number; startedToSignal: number; reportSignals: number; completions: number }> {
  const n = { asked: 0, startedToSignal: 0, reportSignals: 0, completions: 0 };
  for (const run of runs) {
    const { events } = await client.workflow.getHandle(parentId, run.runId).fetchHistory();
    for (const e of events ?? []) {
      if (e.externalWorkflowExecutionSignaledEventAttributes) n.asked += 1;
      const start = e.startChildWorkflowExecutionInitiatedEventAttributes;
      if (start) {
        const seedInput = JSON.parse(Buffer.from(start.input!.payloads![0]!.data!).toString('utf8')) as { report_by_result?: boolean };
        if (!seedInput.report_by_result) n.startedToSignal += 1;
      }
      if (e.workflowExecutionSignaledEventAttributes?.signalName === 'seedFinished') n.reportSignals += 1;
      if (e.childWorkflowExecutionCompletedEventAttributes) n.completions += 1;
      const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
      assert.notEqual(type, 'inspectSeed', 'no seed ended without reporting');
      assert.notEqual(type, 'closedSeedWorkflows', 'no seed had to be watched');
    }
  }
  return n;
}

describe('sliding window', () => {
  test('seeds keep running through every continue-as-new: at each one, min(max_workers, seeds left) are running', async () => {
    const h = await harness(t, 60);
    try {
      const maxWorkers = 3;
      const input: BatchInput = { run_id: 'window', config: smallConfig({ max_workers: maxWorkers }), seeds: SEEDS, output_dir: h.outDir };
      const parentId = batchWorkflowId('window');
      // The first seed's LLM calls are held until the parent has continued as new: that seed is still running at
      // the first continue-as-new, whatever the machine's speed (else all three running seeds may have ended in
      // the activation where it becomes due, and none is asked). Every call of it, not just the first: a held call
      // retried after a heartbeat timeout is held too.
      h.sim.script([{ match: { contains: SEEDS[0]! }, respond: { hold: 'first-seed' } }]);
      const { handle } = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(async () => (await executions(t.client, `WorkflowId = "${parentId}"`)).length >= 2, 120_000, 'the parent to continue as new while the first seed runs');
      assert.ok(heldAt(h.sim, 'first-seed'), "the first seed's call was held");
      h.sim.release('first-seed');
      const result = await handle.result();
      assert.equal(result.seeds_succeeded, SEEDS.length);
      const runs = (await executions(t.client, `WorkflowId = "${parentId}"`)).sort((a, b) => a.close - b.close);
      // The test server suggests a continue-as-new after 100 events (scripts/run-tests.ts): several here.
      assert.ok(runs.length >= 2, `the parent continued as new (${runs.length} runs)`);
      const seeds = await executions(t.client, `WorkflowId STARTS_WITH "${parentId}/"`);
      assert.equal(seeds.length, SEEDS.length);
      for (const run of runs.slice(0, -1)) {
        const T = run.close;
        const open = seeds.filter((s) => s.start <= T && s.close > T).length;
        const left = seeds.filter((s) => s.close > T).length;
        assert.ok(open >= Math.min(maxWorkers, left), `at the continue-as-new at ${T}: ${open} running, ${left} seeds left`);
      }
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'every QA once');
      assert.equal(new Set(qas.map((q) => q.source_id)).size, SEEDS.length);

      // How the seeds reported: by their end (the child's completion, in the run that started them), except the
      // seeds still running when a continue-as-new became due, asked to report by signal, and the seeds started
      // after that (to top the window up before the continue-as-new), which report by signal from the start —
      // each of those by exactly one signal.
      const { asked: askedAndRunning, startedToSignal, reportSignals, completions } = await parentReports(t.client, parentId, runs);
      assert.ok(askedAndRunning >= 1, 'seeds running at a continue-as-new were asked to report by signal');
      assert.equal(reportSignals, askedAndRunning + startedToSignal, 'each seed asked or started to signal reported by one signal, no other seed did');
      assert.ok(completions >= SEEDS.length - askedAndRunning - startedToSignal, `the others reported by their end (${completions} completions)`);
      let seedSignals = 0;
      for (const s of seeds) {
        const { events } = await t.client.workflow.getHandle(s.id).fetchHistory();
        seedSignals += (events ?? []).filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes).length;
      }
      assert.equal(seedSignals, askedAndRunning + startedToSignal, 'only the seeds asked or started to signal sent a report signal');
    } finally {
      await h.stop();
    }
  });

  test('seeds by reference that end as fast as they start: the parent still continues as new, every seed once', async () => {
    const h = await harness(t, 0);
    try {
      const n = 24;
      const seedsFile = `${h.outDir}/seeds.jsonl`;
      fs.writeFileSync(seedsFile, Array.from({ length: n }, (_, i) => JSON.stringify({ text: `fast seed ${i}` })).join('\n') + '\n');
      const config = smallConfig({ max_workers: 8, max_depth: 1, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1 });
      const input: BatchInput = { run_id: 'window-ref', config, seeds_file: seedsFile, output_dir: h.outDir };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_succeeded, n);
      // A window that always has room must not keep the parent from continuing as new (suggested after 100 events).
      const runs = await executions(t.client, `WorkflowId = "${batchWorkflowId('window-ref')}"`);
      assert.ok(runs.length >= 2, `the parent continued as new (${runs.length} runs)`);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.seeds.total, n);
      assert.equal(stats.seeds.succeeded, n);
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(new Set(qas.map((q) => q.source_id)).size, n, 'a QA for every seed, each once');
      assert.equal(stats.total_qas, qas.length);
      const manifest = JSON.parse(fs.readFileSync(`${h.outDir}/window-ref/manifest.json`, 'utf8'));
      assert.deepEqual(manifest.seeds, undefined, 'no seed list in the manifest of a by-reference run');
    } finally {
      await h.stop();
    }
  });

  test('a seed terminated by a user is recorded with the reason and the LLM calls it made; the others finish', async () => {
    const h = await harness(t, 150);
    try {
      const input: BatchInput = { run_id: 'terminated', config: smallConfig({ max_workers: 2 }), seeds: SEEDS.slice(0, 3), output_dir: h.outDir };
      // The first seed is terminated while its second LLM call waits at the endpoint (held): it has made one call,
      // and its one request in flight has reached the endpoint — whatever the machine's speed.
      h.sim.script([{ match: { contains: SEEDS[0]! }, after: 1, respond: { hold: 'terminate' } }]);
      const sub = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(() => heldAt(h.sim, 'terminate'), 30_000, "the first seed's second LLM call");
      await t.client.workflow.getHandle(seedWorkflowId('terminated', sourceIdFor(SEEDS[0]!))).terminate('operator stop');
      h.sim.release('terminate');
      const result = await sub.handle.result();
      assert.equal(result.seeds_failed, 1);
      assert.equal(result.seeds_succeeded, 2);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      const failed = stats.failed_seeds[0];
      assert.equal(failed.error_type, 'Terminated');
      assert.match(failed.error, /terminated by .*: operator stop \(after \d+ LLM calls\)/);
      const row = stats.per_seed.find((s: { source_id: string }) => s.source_id === failed.source_id);
      assert.equal(failed.source_id, sourceIdFor(SEEDS[0]!));
      assert.ok(row.llm_calls >= 1, `the terminated seed's LLM calls are counted (${row.llm_calls})`);
      assert.equal(stats.llm.requests, h.sim.requests().length, 'every request the endpoint saw is counted');
    } finally {
      await h.stop();
    }
  });

  test('a run started again after its parent was terminated takes the reports of the seeds still running: asked to signal, none inspected or paid twice', async () => {
    const h = await harness(t, 200);
    try {
      const input: BatchInput = { run_id: 'restarted', config: smallConfig({ max_workers: 3 }), seeds: SEEDS.slice(0, 3), output_dir: h.outDir };
      const parentId = batchWorkflowId('restarted');
      const running = async () => (await executions(t.client, `WorkflowId STARTS_WITH "${parentId}/" AND ExecutionStatus = "Running"`)).length;
      const first = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(async () => h.sim.requests().length >= 3 && (await running()) === 3, 30_000, 'three seeds running');
      // Slow the seeds down until the new execution has asked them (every answer from now on comes 3 s later; a
      // seed needs several more answers to end), so all three are still running when asked.
      h.sim.script([{ respond: { delayMs: 3000 } }]);
      await first.handle.terminate('operator restart');
      const terminatedAt = Date.now();
      // The seeds outlive their parent (ParentClosePolicy ABANDON); the run is started again, as `qasynth run` does.
      const again = await submitBatch(t.client, input, { taskQueue: h.queue });
      assert.equal(again.state, 'started');
      const asks = async () => ((await again.handle.fetchHistory()).events ?? []).filter((e) => e.externalWorkflowExecutionSignaledEventAttributes).length;
      await waitFor(async () => (await asks()) >= 3, 60_000, 'the new execution asked the three seeds');
      h.sim.clearScript();
      const result = await again.handle.result();
      assert.equal(result.seeds_succeeded, 3);

      // The executions after the termination: each seed found running was asked (the ask acknowledged) and
      // reported by one signal; none had to be watched or inspected (without the ask a seed started with
      // report_by_result returns its summary to the terminated execution, and the new one finds it only by
      // its watch, minutes later, through inspectSeed).
      const runs = (await executions(t.client, `WorkflowId = "${parentId}"`)).filter((r) => r.start >= terminatedAt);
      assert.ok(runs.length >= 1, 'the run was started again');
      const { asked, reportSignals } = await parentReports(t.client, parentId, runs);
      const seeds = await executions(t.client, `WorkflowId STARTS_WITH "${parentId}/"`);
      assert.equal(seeds.filter((s) => s.close > terminatedAt).length, 3, 'the seeds were running when the parent was terminated');
      assert.equal(seeds.length, 3, 'every seed ran once: the new execution started none of them again');
      assert.equal(asked, 3, 'each seed still running was asked to report by signal');
      assert.equal(reportSignals, asked, 'and each reported by one signal');

      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(new Set(qas.map((q) => q.source_id)).size, 3, 'a QA for every seed');
      assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'every QA once');
      // No finished call paid twice (a call whose 3 s answer outlived a heartbeat timeout on a loaded machine may be
      // sent again: that repeat is the delay's, not the restart's).
      const repeats = countRepeats(h.sim.requests());
      assert.equal(repeats.other, 0, `no LLM call was paid twice: ${repeats.otherDetails.join('; ')}`);
    } finally {
      await h.stop();
    }
  });
});

describe('a seed workflow that outgrows its history limit', () => {
  let server: DevServer;
  let tt: TestTemporal;
  before(async () => {
    // A server whose history limit is tiny: the limit is hit by an ordinary tree.
    server = await startDevServer({
      uiPort: null,
      dynamicConfig: { 'limit.historyCount.error': 120, 'limit.historyCount.warn': 60 },
    });
    const connection = await Connection.connect({ address: server.address });
    const native = await NativeConnection.connect({ address: server.address });
    tt = {
      address: server.address,
      client: new Client({ connection }),
      connection,
      native,
      async close() {
        await native.close();
        await connection.close();
        await server.stop();
      },
    };
  });
  after(async () => {
    await tt.close();
  });

  test('is terminated by the server, and reported as HistoryLimit with the fix and its LLM calls', async () => {
    const h = await harness(tt);
    try {
      const input: BatchInput = {
        run_id: 'history-limit',
        config: smallConfig({ max_workers: 1, max_depth: 8, branching_factor: 2, depth_threshold: 3, pause_after_failures: 0 }),
        seeds: ['prime numbers'],
        output_dir: h.outDir,
      };
      const result = await (await submitBatch(tt.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_failed, 1);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.failed_seeds[0].error_type, 'HistoryLimit');
      assert.match(stats.failed_seeds[0].error, /history exceeded its limit .* after \d+ LLM calls\. Fix: a smaller tree/);
      assert.ok(stats.llm.calls > 0, 'the calls it made were paid, and are counted');
      assert.equal(stats.llm.requests, h.sim.requests().length);
    } finally {
      await h.stop();
    }
  });
});
