/**
 * What the Temporal Web UI is told about a run (no browser here; test/e2e/web-ui.test.ts looks at the pages):
 * a failed or no-QA seed ends as a failed workflow carrying its error, counted once by the parent; summaries of
 * the batch, the seeds and every activity; current details (the `__temporal_workflow_metadata` query) of the
 * batch however it was started, and of a running seed (phase, node x of N, depth, last tool).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ApplicationFailure, defaultPayloadConverter, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { batchWorkflowId, seedWorkflowId } from '../../src/shared/constants';
import { sourceIdFor } from '../../src/domain/ids';
import type { BatchInput, BatchResult, SeedSummary } from '../../src/shared/types';
import { smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
let sim: Simulator;
let queue: string;
let worker: { stop(): Promise<void> };
before(async () => {
  t = await testTemporal();
  sim = await startSimulator({ latencyMs: 20 });
  queue = uniqueQueue('meta');
  worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
});
after(async () => {
  await worker.stop();
  await sim.close();
  await t.close();
});

/** The Temporal SDK's workflow metadata query: `{ definition, currentDetails }`. */
async function currentDetails(h: WorkflowHandle): Promise<string> {
  const m = (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')) ?? {};
  return m.currentDetails ?? '';
}

/** The summaries (user metadata) of a workflow's scheduled activities and local activity markers, in order. */
async function activitySummaries(h: WorkflowHandle): Promise<string[]> {
  const history = await h.fetchHistory();
  const out: string[] = [];
  for (const e of (history.events ?? []) as temporal.api.history.v1.IHistoryEvent[]) {
    const isActivity = e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity';
    const summary = e.userMetadata?.summary;
    if (isActivity && summary) out.push(defaultPayloadConverter.fromPayload<string>(summary as never));
  }
  return out;
}

const seedHandle = (runId: string, text: string) => t.client.workflow.getHandle(seedWorkflowId(runId, sourceIdFor(text)));

describe('the Web UI metadata of a run', () => {
  test('a failed and a no-QA seed end as failed workflows with their error, each counted once; every workflow and activity has a summary', async () => {
    const seeds = ['prime numbers', 'Fibonacci sequence', 'harmonic series', 'golden ratio'];
    sim.script([
      // Every request of one seed is refused (HTTP 401, not retried): the seed fails with LlmAuth.
      { match: { contains: 'Fibonacci sequence' }, respond: { status: 401, body: { error: { message: 'Incorrect API key provided: sk-te***', code: 'invalid_api_key' } } } },
      // Every QA answer of another is unparseable: it explores, but writes no QA (no_qa).
      { match: { kind: 'qa', contains: 'harmonic series' }, respond: { malformed: 'invalid_json' } },
    ]);
    const input: BatchInput = { run_id: 'meta-fail', config: smallConfig({ max_workers: 2 }), seeds, output_dir: tempDir() };
    try {
      const sub = await submitBatch(t.client, input, { taskQueue: queue, mode: 'math', seedCount: seeds.length });
      const result: BatchResult = await sub.handle.result();
      assert.equal(result.status, 'complete');
      assert.equal(result.seeds_succeeded, 2);
      assert.equal(result.seeds_failed, 1);
      assert.equal(result.seeds_no_qa, 1);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.deepEqual(stats.errors_by_type.LlmAuth, 1, JSON.stringify(stats.errors_by_type));

      // The failed seed: Failed in Temporal, its error as the failure, its summary in the failure's details.
      const failed = seedHandle('meta-fail', 'Fibonacci sequence');
      const fd = await failed.describe();
      assert.equal(fd.status.name, 'FAILED');
      assert.equal(await fd.staticSummary(), 'seed 2/4 · Fibonacci sequence');
      assert.match((await fd.staticDetails()) ?? '', /Fibonacci sequence/);
      const err = await failed.result().then(
        () => assert.fail('the failed seed completed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError, String(err));
      const cause = err.cause;
      assert.ok(cause instanceof ApplicationFailure, String(cause));
      assert.equal(cause.type, 'LlmAuth');
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /HTTP 401/);
      assert.equal((cause.details?.[0] as SeedSummary).status, 'failed');
      assert.match(await currentDetails(failed), /^\*\*failed\*\* · 0 QA: .*HTTP 401/);

      // The no-QA seed: Failed too (a paid seed without QA is a failure), its type no_qa:<reason>.
      const noQa = seedHandle('meta-fail', 'harmonic series');
      assert.equal((await noQa.describe()).status.name, 'FAILED');
      const noQaErr = (await noQa.result().then(() => null, (e: WorkflowFailedError) => e))!;
      assert.match((noQaErr.cause as ApplicationFailure).type ?? '', /^no_qa:/);
      assert.match(noQaErr.cause!.message, /^no QA: the QA of all 2 selected paths was rejected/);

      // A seed that succeeded: Completed; its activities tell what they do.
      const ok = seedHandle('meta-fail', 'prime numbers');
      const od = await ok.describe();
      assert.equal(od.status.name, 'COMPLETED');
      assert.equal(await od.staticSummary(), 'seed 1/4 · prime numbers');
      const summaries = await activitySummaries(ok);
      assert.ok(summaries.includes('choose action · depth 1 · branch 0'), summaries.join('\n'));
      assert.ok(summaries.includes('choose action · depth 3 · branch 0'), summaries.join('\n'));
      // (Calculator calls run inside chooseAction: no activity of their own; test/workflows/in-call-tools.test.ts.)
      assert.ok(summaries.includes('synthesize QA · path 1/2'), summaries.join('\n'));
      assert.ok(summaries.includes('synthesize QA · path 2/2'), summaries.join('\n'));
      assert.equal(summaries.at(-1), 'write seed result · succeeded');
      assert.match(await currentDetails(ok), /^\*\*done\*\* · 2 QA: 2 QA from 2 paths, 10 nodes\n\nseed 1\/4 · prime numbers$/);

      // The batch: its summary (set by submitBatch) and its own activities.
      const bd = await sub.handle.describe();
      assert.equal(await bd.staticSummary(), 'qasynth meta-fail · math · 4 seeds · max_workers 2');
      const batchSummaries = await activitySummaries(sub.handle);
      assert.equal(batchSummaries[0], 'prepare run (manifest)');
      assert.equal(batchSummaries.at(-1), 'write outputs (complete)');
      assert.match(await currentDetails(sub.handle), /^qasynth meta-fail · math · 4 seeds · max_workers 2\n\n\*\*done\*\* — 4\/4 seeds \(1 failed, 1 without QA\), 4 QA/);

      // These histories (a failure end behind its patch marker, a parent recording it) replay deterministically.
      const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
      for (const h of [sub.handle, failed, noQa, ok]) {
        await Worker.runReplayHistory({ workflowBundle, replayName: h.workflowId }, await h.fetchHistory(), h.workflowId);
      }
    } finally {
      sim.clearScript();
    }
  });

  test('a batch started without a summary (as by `temporal workflow start`) names itself in its current details; a running seed says phase, node x of N, depth and last tool', async () => {
    const slow = await startSimulator({ latencyMs: 150 });
    const q = uniqueQueue('meta-slow');
    const w = await startTestWorker({ t, taskQueue: q, llmBaseUrl: slow.url });
    try {
      // The first seed's QA calls wait at the endpoint until its details have been seen saying it writes QA (a
      // state that otherwise lasts two short calls).
      slow.script([{ match: { kind: 'qa', contains: 'compound interest' }, respond: { hold: 'qa' } }]);
      const input: BatchInput = { run_id: 'meta-plain', config: smallConfig({ max_workers: 1 }), seeds: ['compound interest', 'Pythagorean triples'], output_dir: tempDir() };
      // A plain start: no static summary, no search attributes, as `temporal workflow start` would do it.
      const h = await t.client.workflow.start('synthesizeBatch', { taskQueue: q, workflowId: batchWorkflowId('meta-plain'), args: [input] });
      assert.equal(await (await h.describe()).staticSummary(), undefined);
      let batchDetails = '';
      await waitFor(async () => /^qasynth meta-plain · math · 2 seeds · max_workers 1\n\n\*\*running\*\*/.test((batchDetails = await currentDetails(h))), 30_000, 'the batch to name itself');

      const seed = seedHandle('meta-plain', 'compound interest');
      let details = '';
      await waitFor(
        async () => {
          details = await currentDetails(seed).catch(() => '');
          return /^\*\*exploring\*\* · node [2-9] of 10 · depth [1-3]\/3 · last calculator \S.* · 0 QA\n\nseed 1\/2 · compound interest$/.test(details);
        },
        60_000,
        `a running seed's details to show node x of 10 and its last tool (last seen: ${JSON.stringify(details)})`,
      );
      await waitFor(
        async () => /^\*\*writing QA\*\* · node 10 of 10 · depth \d\/3 · last calculator .* · path [12]\/2 · [01] QA/.test((details = await currentDetails(seed).catch(() => ''))),
        60_000,
        `the seed to say it writes QA (last seen: ${JSON.stringify(details)})`,
      );
      slow.release('qa');
      const result = await h.result();
      assert.equal(result.seeds_succeeded, 2);
      assert.match(await currentDetails(h), /^qasynth meta-plain · math · 2 seeds · max_workers 1\n\n\*\*done\*\*/);
      assert.ok(batchDetails);
    } finally {
      await w.stop();
      await slow.close();
    }
  });
});
