/** Output and tool activities in MockActivityEnvironment: atomic, idempotent, ordered. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runActivity } from '../helpers/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createOutputActivities } from '../../src/activities/outputs';
import { createToolActivities } from '../../src/activities/tools';
import { parseConfig } from '../../src/config/schema';
import { normalizeSeeds } from '../../src/domain/ids';
import { emptySeedCounters } from '../../src/domain/statistics';
import type { SeedResultFile, SynthesisConfig } from '../../src/shared/types';
import { readJsonl, tempDir } from '../helpers/temporal';

const out = createOutputActivities();
const parsed = parseConfig({ environment_mode: 'math' });
assert.ok(parsed.ok);
const config: SynthesisConfig = parsed.config;
const norm = normalizeSeeds(['alpha', 'beta', 'gamma'], null);
assert.ok(norm.ok);
const seeds = norm.seeds;

function result(i: number, status: 'succeeded' | 'failed', qas = 1): SeedResultFile {
  const s = seeds[i];
  return {
    run_id: 'r',
    source_id: s.source_id,
    index: i,
    seed_data: s.text,
    status,
    ...(status === 'failed' ? { error: 'boom' } : {}),
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:00:01.000Z',
    qas: Array.from({ length: qas }, (_, k) => ({
      question: `q${i}.${k}`,
      answer: `a${i}`,
      trajectory_id: `${s.source_id}_traj_${k}`,
      reasoning_steps: [],
      source_id: s.source_id,
      qa_id: `${s.source_id}_traj_${k}_qa_${k}`,
      metadata: { seed_data: s.text, seed_description: '', trajectory_depth: 2, synthesis_date: 'x', environment_mode: 'math' as const },
    })),
    trajectories: [],
    counters: { ...emptySeedCounters(), llm_calls: 3, nodes: 2, tool_calls: { calculator: 2 } },
  };
}

describe('output activities', () => {
  test('prepareRun is idempotent and refuses a different config under the same run id', async () => {
    const dir = tempDir();
    const base = { run_id: 'r', output_dir: dir, config, seeds, duplicates_dropped: 0, started_at: '2026-01-01T00:00:00.000Z' };
    await runActivity(out.prepareRun, base);
    await runActivity(out.prepareRun, { ...base, config: { ...config, max_workers: 8 } }); // speed only: same run
    const e = await runActivity(out.prepareRun, { ...base, config: { ...config, max_depth: 9 } }).catch((x: unknown) => x);
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, 'OutputConflict');
    assert.equal(e.nonRetryable, true);
    const rel = await runActivity(out.prepareRun, { ...base, output_dir: 'relative/dir' }).catch((x: unknown) => x);
    assert.ok(rel instanceof ApplicationFailure && rel.type === 'InvalidInput');
  });

  test('seed results: a success is cached, a failure is not, and a failure never overwrites a success', async () => {
    const dir = tempDir();
    assert.equal(await runActivity(out.loadSeedResult, { run_id: 'r', output_dir: dir, source_id: seeds[0].source_id }), null);
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(1, 'failed') });
    assert.equal(await runActivity(out.loadSeedResult, { run_id: 'r', output_dir: dir, source_id: seeds[1].source_id }), null, 'failed seeds re-run');
    const s = await runActivity(out.writeSeedResult, { output_dir: dir, result: result(0, 'succeeded', 2) });
    assert.deepEqual(s, { source_id: seeds[0].source_id, status: 'succeeded', cached: false, qa_count: 2, trajectory_count: 0, llm_calls: 3, tool_calls: 2, input_tokens: 0, output_tokens: 0, cost_usd: 0, llm_requests: 3 });
    const cached = await runActivity(out.loadSeedResult, { run_id: 'r', output_dir: dir, source_id: seeds[0].source_id });
    assert.equal(cached?.cached, true);
    const after = await runActivity(out.writeSeedResult, { output_dir: dir, result: result(0, 'failed') });
    assert.equal(after.status, 'succeeded');
    const files = fs.readdirSync(path.join(dir, 'r', 'seeds'));
    assert.ok(files.every((f) => f.endsWith('.json')), `no temp files left: ${files}`);
  });

  test('writeOutputs: seed input order, each record once (also when repeated), missing seeds counted', async () => {
    const dir = tempDir();
    await runActivity(out.prepareRun, { run_id: 'r', output_dir: dir, config, seeds, duplicates_dropped: 1, started_at: '2026-01-01T00:00:00.000Z' });
    // Completion order differs from input order.
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(2, 'succeeded', 2) });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(0, 'succeeded', 1) });
    const args = { run_id: 'r', output_dir: dir, mode: 'math' as const, timestamp: '20260101_000000', completion: 'complete' as const };
    const first = await runActivity(out.writeOutputs, args);
    const second = await runActivity(out.writeOutputs, args);
    assert.deepEqual(second, first);
    assert.equal(path.basename(first.qa_path), 'synthesized_qa_math_20260101_000000.jsonl');
    const qas = readJsonl<{ question: string }>(first.qa_path);
    assert.deepEqual(qas.map((q) => q.question), ['q0.0', 'q2.0', 'q2.1']);
    assert.equal(first.seeds_missing, 1);
    assert.equal(first.seeds_succeeded, 2);
    const stats = JSON.parse(fs.readFileSync(first.statistics_path, 'utf8'));
    assert.equal(stats.seeds.missing, 1);
    assert.equal(stats.seeds.duplicates_dropped, 1);
    assert.equal(stats.total_qas, 3);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'r')).filter((f) => f.includes('.tmp')), []);
  });
});

describe('tool activities', () => {
  test('runTool executes a tool of the mode and refuses tools of other modes', async () => {
    const tools = createToolActivities();
    const obs = await runActivity(tools.runTool, { mode: 'math' as const, summary_model: 'sim', environment_kwargs: {}, tool_name: 'calculator', parameters: { expressions: ['6 * 7'] } });
    assert.match(obs.text, /6 \* 7 = 42/);
    const e = await runActivity(tools.runTool, { mode: 'math' as const, summary_model: 'sim', environment_kwargs: {}, tool_name: 'python_interpreter', parameters: { code: 'print(1)' } }).catch((x: unknown) => x);
    assert.ok(e instanceof ApplicationFailure && e.type === 'InvalidInput' && e.nonRetryable);
    const bad = await runActivity(tools.runTool, { mode: 'math' as const, summary_model: 'sim', environment_kwargs: {}, tool_name: 'calculator', parameters: { expressions: 'not-a-list-but-coerced' } });
    assert.ok(typeof bad.text === 'string');
    const invalid = await runActivity(tools.runTool, { mode: 'math' as const, summary_model: 'sim', environment_kwargs: {}, tool_name: 'calculator', parameters: { expressions: 17 } });
    assert.equal(invalid.error, true);
    assert.match(invalid.text, /Invalid arguments for calculator/);
  });
});
