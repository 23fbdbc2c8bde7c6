/**
 * LLM calls as local activities (config `local_llm`, src/domain/routing.ts): the same QA as with activities, the
 * calls recorded as markers instead of activity events, and the retry rules of LLM activities kept — a 429's
 * Retry-After honoured, the same failure to the same request 3 times declared permanent (the attempt state lives
 * in the worker's memory instead of heartbeat details), provider requests counted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { submitBatch } from '../../src/api';
import type { BatchInput, QaRecord } from '../../src/shared/types';
import { readJsonl, simHarness, smallConfig, testTemporal, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const SEEDS = ['prime numbers', 'Fibonacci sequence'];

/** Activity types scheduled, and local-activity markers recorded, over the batch's seed workflows. */
async function eventsOf(runId: string): Promise<{ activities: string[]; markers: number }> {
  const activities: string[] = [];
  let markers = 0;
  for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}" AND WorkflowType = "synthesizeSeed"` })) {
    const h = await (t.client.workflow.getHandle(wf.workflowId, wf.runId) as WorkflowHandle).fetchHistory();
    for (const e of h.events ?? []) {
      const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (type) activities.push(type);
      if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') markers++;
    }
  }
  return { activities, markers };
}

describe('local_llm', () => {
  test('the same QA as with activities; LLM calls are local-activity markers, no LLM activity is scheduled', async () => {
    const h = await simHarness(t, 'local-llm');
    try {
      const run = async (runId: string, localLlm: boolean) => {
        const input: BatchInput = { run_id: runId, config: smallConfig({ local_llm: localLlm }), seeds: SEEDS, output_dir: h.outDir };
        const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
        assert.equal(result.seeds_succeeded, SEEDS.length);
        return result;
      };
      const before = h.sim.requests().length;
      const local = await run('local-llm-on', true);
      const localRequests = h.sim.requests().length - before;
      const remote = await run('local-llm-off', false);
      const strip = (q: QaRecord) => ({ question: q.question, answer: q.answer, qa_id: q.qa_id });
      assert.deepEqual(readJsonl<QaRecord>(local.qa_path).map(strip), readJsonl<QaRecord>(remote.qa_path).map(strip));

      const on = await eventsOf('local-llm-on');
      assert.deepEqual(on.activities.filter((a) => a === 'chooseAction' || a === 'synthesizeQa'), [], 'no LLM activity scheduled');
      const stats = JSON.parse(fs.readFileSync(local.statistics_path, 'utf8'));
      assert.equal(stats.llm.calls, localRequests, 'every LLM call counted');
      // One marker per LLM call and per calculator call (both local).
      assert.ok(on.markers >= stats.llm.calls, `markers ${on.markers} ≥ LLM calls ${stats.llm.calls}`);
      const off = await eventsOf('local-llm-off');
      assert.equal(off.activities.filter((a) => a === 'chooseAction').length, stats.total_nodes, 'as activities: one chooseAction per node');
    } finally {
      await h.stop();
    }
  });

  test('a 429 with Retry-After is retried in the worker and counted as a provider request', async () => {
    const h = await simHarness(t, 'local-llm-429');
    try {
      h.sim.script([{ match: { kind: 'qa' }, times: 2, respond: { status: 429, headers: { 'retry-after': '1' } } }]);
      const input: BatchInput = { run_id: 'local-429', config: smallConfig({ local_llm: true, max_workers: 1, max_selected_traj: 1 }), seeds: ['prime numbers'], output_dir: h.outDir };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_succeeded, 1);
      assert.equal(result.qa_count, 1);
      const refused = h.sim.requests().filter((r) => r.status === 429);
      assert.equal(refused.length, 2);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.llm.requests, h.sim.requests().length, 'provider requests = what the endpoint saw, 429s included');
      assert.equal(stats.llm.requests, stats.llm.calls + 2);
    } finally {
      await h.stop();
    }
  });

  test('the same HTTP 500 to the same request 3 times is permanent, as with activities (attempt state in memory)', async () => {
    const h = await simHarness(t, 'local-llm-500');
    try {
      h.sim.script([
        { match: { contains: 'golden ratio' }, respond: { status: 500, body: { error: { message: 'Jinja2 TemplateError: Conversation roles must alternate', type: 'server_error' } } } },
      ]);
      const input: BatchInput = {
        run_id: 'local-500',
        config: smallConfig({ local_llm: true, max_depth: 2, pause_after_failures: 0 }),
        seeds: ['prime numbers', 'golden ratio'],
        output_dir: h.outDir,
      };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_succeeded, 1);
      assert.equal(result.seeds_failed, 1);
      assert.equal(h.sim.requests().filter((r) => r.status === 500).length, 3, 'three identical answers, then it stops');
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.failed_seeds[0].error_type, 'LlmEndpointMisconfigured');
      assert.match(stats.failed_seeds[0].error, /same failure to the same request 3 times.*TemplateError/);
      const row = stats.per_seed.find((s: { source_id: string }) => s.source_id === stats.failed_seeds[0].source_id);
      assert.equal(row.llm_requests, 3);
    } finally {
      await h.stop();
    }
  });
});
