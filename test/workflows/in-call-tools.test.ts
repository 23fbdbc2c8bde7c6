/**
 * Tools run inside the LLM call that chose them (src/domain/routing.ts IN_CALL_TOOLS: the calculator): the same
 * QA, paths and tool counts as when the calculator runs as its own activity, and no activity or marker of its own —
 * the chooseAction result carries the observation. With both LLM activities and `local_llm`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { submitBatch } from '../../src/api';
import type { BatchInput, QaRecord, TrajectoryRecord } from '../../src/shared/types';
import { readJsonl, simHarness, smallConfig, testTemporal, type SimHarness, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
let h: SimHarness;
before(async () => {
  t = await testTemporal();
  h = await simHarness(t, 'in-call');
});
after(async () => {
  await h?.stop();
  await t.close();
});

const SEEDS = ['prime numbers', 'Fibonacci sequence'];

/** What the run's seed histories hold: tool calls as activities or markers, and chooseAction results with an observation. */
async function toolEvents(runId: string): Promise<{ runToolActivities: number; runToolMarkers: number; observationsInCall: number }> {
  let runToolActivities = 0;
  let runToolMarkers = 0;
  let observationsInCall = 0;
  const json = (p: { data?: Uint8Array | null } | undefined | null) => (p?.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : null);
  for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}" AND WorkflowType = "synthesizeSeed"` })) {
    const events = (await (t.client.workflow.getHandle(wf.workflowId, wf.runId) as WorkflowHandle).fetchHistory()).events ?? [];
    const types = new Map<string, string>();
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) {
        types.set(String(e.eventId), s.activityType?.name ?? '');
        if (s.activityType?.name === 'runTool') runToolActivities++;
      }
      const done = e.activityTaskCompletedEventAttributes;
      if (done && types.get(String(done.scheduledEventId)) === 'chooseAction' && json(done.result?.payloads?.[0])?.observation) observationsInCall++;
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName === 'core_local_activity') {
        const type = json(m.details?.data?.payloads?.[0])?.activity_type;
        if (type === 'runTool') runToolMarkers++;
        if (type === 'chooseAction' && json(m.details?.result?.payloads?.[0])?.observation) observationsInCall++;
      }
    }
  }
  return { runToolActivities, runToolMarkers, observationsInCall };
}

async function run(runId: string, overrides: Record<string, unknown>) {
  const input: BatchInput = { run_id: runId, config: smallConfig(overrides), seeds: SEEDS, output_dir: h.outDir };
  const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
  assert.equal(result.seeds_succeeded, SEEDS.length);
  const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
  const strip = (q: QaRecord) => ({ question: q.question, answer: q.answer, qa_id: q.qa_id });
  const steps = (tr: TrajectoryRecord) => JSON.stringify(tr.nodes);
  return {
    qa: readJsonl<QaRecord>(result.qa_path).map(strip),
    paths: readJsonl<TrajectoryRecord>(result.trajectories_path).map(steps),
    toolCalls: stats.tools.calls as Record<string, number>,
    events: await toolEvents(runId),
  };
}

describe('in-call tools', () => {
  test('the calculator runs inside chooseAction: the same QA, paths and tool counts as as its own activity, and no activity or marker of its own', async () => {
    const own = await run('in-call-off', { local_tools: false });
    const inCall = await run('in-call-on', {});
    const inCallLocal = await run('in-call-local-llm', { local_llm: true });
    const calculator = own.toolCalls.calculator ?? 0;
    assert.ok(calculator > 0, `the trees call the calculator (${JSON.stringify(own.toolCalls)})`);
    const others = Object.entries(own.toolCalls).filter(([k]) => k !== 'calculator').reduce((a, [, v]) => a + v, 0);

    // local_tools: false — every tool call is a runTool activity on the workflow's queue.
    assert.equal(own.events.runToolActivities, calculator + others);
    assert.equal(own.events.observationsInCall, 0);
    for (const r of [inCall, inCallLocal]) {
      assert.deepEqual(r.qa, own.qa, 'the same QA');
      assert.deepEqual(r.paths, own.paths, 'the same paths, observations included');
      assert.deepEqual(r.toolCalls, own.toolCalls, 'the same tool calls counted');
      // Each calculator call came back with its chooseAction; only the other tools ran as their own (local) activities.
      assert.equal(r.events.observationsInCall, calculator);
      assert.equal(r.events.runToolActivities + r.events.runToolMarkers, others);
    }
  });
});
