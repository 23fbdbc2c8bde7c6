/** Budgets on a real dev server: caps hold, seeds stop gracefully, outputs are still written. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startSimulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import type { QaRecord } from '../../src/shared/types';
import { readJsonl, smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const seeds = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series'];

async function run(runId: string, config: Record<string, unknown>) {
  const sim = await startSimulator();
  const queue = uniqueQueue('budget');
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  try {
    const sub = await submitBatch(t.client, { run_id: runId, config, seeds, output_dir: tempDir() }, { taskQueue: queue });
    const result = await sub.handle.result();
    return { result, answered: sim.requests().filter((r) => r.status === 200).length };
  } finally {
    await worker.stop();
    await sim.close();
  }
}

test('a run cap on LLM calls is never exceeded; the batch ends budget_exhausted and writes what it made', async () => {
  // Each seed needs 10 action calls + 2 QA calls; 30 calls cannot fund all 5 seeds.
  const { result, answered } = await run('run-cap', smallConfig({ max_workers: 2, budget: { max_llm_calls: 30 } }));
  assert.ok(answered <= 30, `${answered} LLM calls for a cap of 30`);
  assert.equal(result.status, 'budget_exhausted');
  assert.equal(result.seeds_failed, 0);
  assert.ok(result.seeds_missing >= 1, 'seeds the budget could not fund were not started');
  assert.equal(result.seeds_succeeded + result.seeds_budget_exhausted + result.seeds_missing, seeds.length);
  const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
  assert.equal(stats.completion, 'budget_exhausted');
  assert.equal(stats.llm.calls, answered);
  assert.equal(readJsonl<QaRecord>(result.qa_path).length, result.qa_count);
  assert.ok(result.qa_count >= 1, 'what was funded produced QA');
});

test('a per-seed cap stops each seed gracefully, keeping calls for its QA; cost is estimated from prices', async () => {
  const config = smallConfig({
    max_workers: 3,
    budget: { per_seed_max_llm_calls: 6, max_cost_usd: 100 },
    prices: { 'qasynth-sim': { input_per_million: 2, output_per_million: 8 } },
  });
  const { result, answered } = await run('seed-cap', config);
  assert.equal(result.status, 'complete');
  assert.equal(result.seeds_budget_exhausted, seeds.length, 'every seed hit its cap');
  assert.ok(answered <= 6 * seeds.length);
  const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
  for (const row of stats.per_seed) {
    assert.equal(row.status, 'budget_exhausted');
    assert.ok(row.llm_calls <= 6, `seed ${row.index}: ${row.llm_calls} calls`);
    assert.ok(row.qa >= 1, 'the reserve left room for QA');
  }
  assert.ok(stats.llm.estimated_cost_usd > 0);
  const expected = (stats.llm.input_tokens * 2 + stats.llm.output_tokens * 8) / 1e6;
  assert.ok(Math.abs(stats.llm.estimated_cost_usd - expected) < 1e-6);
  assert.ok(Math.abs(result.estimated_cost_usd - expected) < 1e-6);
});
