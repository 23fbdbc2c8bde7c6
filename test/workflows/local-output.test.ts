/**
 * The seed result is written where the seed workflow runs when that worker owns the output folder (a local
 * activity, no activity on the output queue and no copy of the result in the seed's history); a worker started
 * without the output role (`--no-output`) leaves it to the output queue's activity. Both give the same files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { submitBatch } from '../../src/api';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import type { BatchInput, QaRecord } from '../../src/shared/types';
import { ALL_ROLES } from '../../src/worker/worker';
import { readJsonl, smallConfig, startTestWorker, tempDir, testTemporal, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
let sim: Simulator;
before(async () => {
  t = await testTemporal();
  sim = await startSimulator();
});
after(async () => {
  await sim?.close();
  await t.close();
});

const SEEDS = ['prime numbers', 'Fibonacci sequence'];

/** Per seed history: the writeSeedResultHere markers (and whether they failed) and the writeSeedResult activities. */
async function writes(runId: string): Promise<{ here: number; hereFailed: number; outputQueue: number; resultInHistory: boolean }> {
  let here = 0;
  let hereFailed = 0;
  let outputQueue = 0;
  let resultInHistory = false;
  const json = (p: { data?: Uint8Array | null } | undefined | null) => (p?.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : null);
  for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}" AND WorkflowType = "synthesizeSeed"` })) {
    for (const e of (await (t.client.workflow.getHandle(wf.workflowId, wf.runId) as WorkflowHandle).fetchHistory()).events ?? []) {
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName === 'core_local_activity' && json(m.details?.data?.payloads?.[0])?.activity_type === 'writeSeedResultHere') {
        here++;
        if (m.failure) hereFailed++;
      }
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'writeSeedResult') {
        outputQueue++;
        if (JSON.stringify(json(s.input?.payloads?.[0])).includes('"qas"')) resultInHistory = true;
      }
    }
  }
  return { here, hereFailed, outputQueue, resultInHistory };
}

describe('seed result written where the workflow runs', () => {
  test('by the workflow worker when it owns the output folder; else by the output queue, with the same files', async () => {
    const run = async (runId: string, queue: string) => {
      const input: BatchInput = { run_id: runId, config: smallConfig(), seeds: SEEDS, output_dir: tempDir() };
      const result = await (await submitBatch(t.client, input, { taskQueue: queue })).handle.result();
      assert.equal(result.seeds_succeeded, SEEDS.length);
      return readJsonl<QaRecord>(result.qa_path).map((q) => ({ question: q.question, answer: q.answer }));
    };

    // One worker with every role: the write is a local activity.
    const all = await startTestWorker({ t, taskQueue: 'out-here', llmBaseUrl: sim.url });
    let qaHere: unknown[];
    try {
      qaHere = await run('out-here', 'out-here');
    } finally {
      await all.stop();
    }
    assert.deepEqual(await writes('out-here'), { here: SEEDS.length, hereFailed: 0, outputQueue: 0, resultInHistory: false });

    // Workflows on a worker without the output role, outputs on another: the local write refuses, the queue writes.
    const noOutput = await startTestWorker({ t, taskQueue: 'out-there', llmBaseUrl: sim.url, roles: { ...ALL_ROLES, output: false } });
    const outputOnly = await startTestWorker({ t, taskQueue: 'out-there', llmBaseUrl: sim.url, roles: { workflows: false, llm: false, tools: false, output: true } });
    let qaThere: unknown[];
    try {
      qaThere = await run('out-there', 'out-there');
    } finally {
      await noOutput.stop();
      await outputOnly.stop();
    }
    assert.deepEqual(await writes('out-there'), { here: SEEDS.length, hereFailed: SEEDS.length, outputQueue: SEEDS.length, resultInHistory: true });
    assert.deepEqual(qaThere, qaHere);
  });
});
