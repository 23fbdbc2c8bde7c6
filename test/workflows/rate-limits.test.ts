/**
 * Server-side rate limits: a tool's task queue limit (rate_limits.tool_calls_per_second) holds, read from the
 * times the server started each tool activity. A lower bound only: a slow machine cannot make it fail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { seedWorkflowId } from '../../src/shared/constants';
import { sourceIdFor } from '../../src/domain/ids';
import { smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

async function calculatorStartTimes(workflowId: string): Promise<number[]> {
  const events = (await t.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<string, string>();
  const starts: number[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.taskQueue?.name ?? '');
    const st = e.activityTaskStartedEventAttributes;
    if (st && scheduled.get(String(st.scheduledEventId))?.endsWith('-tool-calculator')) {
      const ts = e.eventTime!;
      starts.push(Number(ts.seconds) * 1000 + Math.round((ts.nanos ?? 0) / 1e6));
    }
  }
  return starts;
}

test('tool_calls_per_second caps how fast the server hands out that tool\'s activities', async () => {
  const sim = await startSimulator();
  const queue = uniqueQueue('rate');
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url, rateLimits: { tool_calls_per_second: { calculator: 1 } } });
  try {
    const config = smallConfig({ max_depth: 6, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, rate_limits: { tool_calls_per_second: { calculator: 1 } } });
    const sub = await submitBatch(t.client, { run_id: 'rate', config, seeds: ['prime numbers'], output_dir: tempDir() }, { taskQueue: queue });
    const result = await sub.handle.result();
    assert.equal(result.seeds_succeeded, 1);
    const starts = await calculatorStartTimes(seedWorkflowId('rate', sourceIdFor('prime numbers')));
    assert.equal(starts.length, 6);
    const spanMs = starts[starts.length - 1]! - starts[0]!;
    // 6 calls at 1/s need ≥ 5 s between the first and last start; the server's limiter lets a burst of up to 2
    // through at once (seen: 3.3 s once), so ≥ 3 s. Without the limit they start ~0.1 s apart (< 1 s in all).
    assert.ok(spanMs >= 3000, `6 calculator calls at 1/s started within ${spanMs} ms`);
  } finally {
    await worker.stop();
    await sim.close();
  }
});
