/** Output and tool activities in MockActivityEnvironment: atomic, idempotent, ordered. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { runActivity, runActivityIn } from '../helpers/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createOutputActivities, runFingerprint } from '../../src/activities/outputs';
import { createSeedActivities } from '../../src/activities/seeds';
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

describe('output activities: seeds by reference and large runs', () => {
  const seedActs = createSeedActivities();
  const at = '2026-01-01T00:00:00.000Z';

  test('prepareRun with prepared seeds: manifest records the file, not the list; same run fingerprint as inline; one run id either way', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'seeds.jsonl');
    fs.writeFileSync(file, ['alpha', 'beta', 'gamma', 'beta'].map((s) => JSON.stringify(s)).join('\n'));
    const prepared = await runActivity(seedActs.prepareSeeds, { run_id: 'ref', output_dir: dir, seeds_file: file, number_of_seed: null });
    const first = await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config, prepared_seeds: prepared, duplicates_dropped: 1, started_at: at });
    assert.deepEqual(first, { existing_seed_results: 0, started_at: at });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'ref', 'manifest.json'), 'utf8'));
    assert.equal(manifest.seeds, undefined);
    assert.deepEqual(manifest.seeds_source, prepared.source);
    assert.equal(manifest.seeds_total, 3);
    assert.equal(manifest.config_hash, runFingerprint(config, seeds), 'the fingerprint of the same seeds inline');
    // The same run submitted with its seeds inline is the same run; a different config is not (unless retrying).
    await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config, seeds, duplicates_dropped: 1, started_at: at });
    const e = await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config: { ...config, max_depth: 9 }, prepared_seeds: prepared, duplicates_dropped: 1, started_at: at }).catch((x: unknown) => x);
    assert.ok(e instanceof ApplicationFailure && e.type === 'OutputConflict', String(e));
    await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config: { ...config, max_depth: 9 }, prepared_seeds: prepared, duplicates_dropped: 1, started_at: at, retry_failed: true });
    const other = await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config, seeds: seeds.slice(1), duplicates_dropped: 0, started_at: at, retry_failed: true }).catch((x: unknown) => x);
    assert.ok(other instanceof ApplicationFailure && /different seed list/.test(other.message), String(other));
    const neither = await runActivity(out.prepareRun, { run_id: 'ref', output_dir: dir, config, duplicates_dropped: 0, started_at: at }).catch((x: unknown) => x);
    assert.ok(neither instanceof ApplicationFailure && neither.type === 'InvalidInput' && /got neither/.test(neither.message));
    const unprepared = await runActivity(out.prepareRun, { run_id: 'other', output_dir: dir, config, prepared_seeds: prepared, duplicates_dropped: 0, started_at: at }).catch((x: unknown) => x);
    assert.ok(unprepared instanceof ApplicationFailure && unprepared.type === 'OutputConflict' && /missing; run prepareSeeds/.test(unprepared.message));
  });

  test('writeOutputs of a by-reference run reads seeds.jsonl in order; per-seed rows in their own file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'seeds.json');
    fs.writeFileSync(file, JSON.stringify(['alpha', 'beta', 'gamma']));
    const prepared = await runActivity(seedActs.prepareSeeds, { run_id: 'r', output_dir: dir, seeds_file: file, number_of_seed: null });
    await runActivity(out.prepareRun, { run_id: 'r', output_dir: dir, config, prepared_seeds: prepared, duplicates_dropped: 0, started_at: at });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(2, 'succeeded', 2) });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(1, 'failed', 0) });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(0, 'succeeded', 1) });
    const args = { run_id: 'r', output_dir: dir, mode: 'math' as const, timestamp: '20260101_000000', completion: 'complete' as const };
    const w = await runActivity(out.writeOutputs, args);
    assert.deepEqual(readJsonl<{ question: string }>(w.qa_path).map((q) => q.question), ['q0.0', 'q2.0', 'q2.1']);
    assert.deepEqual([w.seeds_succeeded, w.seeds_failed, w.seeds_missing], [2, 1, 0]);
    const stats = JSON.parse(fs.readFileSync(w.statistics_path, 'utf8'));
    assert.equal(stats.per_seed_file, 'seed_statistics_math_20260101_000000.jsonl');
    const rows = readJsonl<{ source_id: string; status: string; index: number }>(path.join(dir, 'r', stats.per_seed_file));
    assert.deepEqual(rows, stats.per_seed);
    assert.deepEqual(rows.map((r) => [r.index, r.source_id, r.status]), seeds.map((s, i) => [i, s.source_id, i === 1 ? 'failed' : 'succeeded']));
    assert.equal(stats.failed_seeds_total, 1);
  });

  test('writeOutputs over 10,050 seeds: no per-seed rows inline, failed seeds listed up to 1,000 and counted, heartbeats with progress', async () => {
    const dir = tempDir();
    const many = normalizeSeeds(Array.from({ length: 10_050 }, (_, i) => `seed ${i}`), null);
    assert.ok(many.ok);
    await runActivity(out.prepareRun, { run_id: 'big', output_dir: dir, config, seeds: many.seeds, duplicates_dropped: 0, started_at: at });
    for (let i = 0; i < 1200; i++) {
      const s = many.seeds[i]!;
      const r: SeedResultFile = { ...result(0, 'failed', 0), run_id: 'big', source_id: s.source_id, index: i, seed_data: s.text, error_type: 'Boom' };
      fs.mkdirSync(path.join(dir, 'big', 'seeds'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'big', 'seeds', `${s.source_id}.json`), JSON.stringify(r));
    }
    const env = new MockActivityEnvironment();
    const beats: { seeds_done: number; seeds_total: number }[] = [];
    env.on('heartbeat', (d: { seeds_done: number; seeds_total: number }) => beats.push(d));
    const fast = createOutputActivities({ heartbeatMs: 0 });
    const w = await runActivityIn(env, fast.writeOutputs, { run_id: 'big', output_dir: dir, mode: 'math', timestamp: 't', completion: 'complete' });
    assert.deepEqual([w.seeds_failed, w.seeds_missing], [1200, 8850]);
    const stats = JSON.parse(fs.readFileSync(w.statistics_path, 'utf8'));
    assert.equal(stats.per_seed, undefined);
    assert.equal(readJsonl(path.join(dir, 'big', stats.per_seed_file)).length, 10_050);
    assert.equal(stats.failed_seeds.length, 1000);
    assert.equal(stats.failed_seeds_total, 1200);
    assert.deepEqual(stats.errors_by_type, { Boom: 1200 });
    assert.equal(stats.llm.calls, 3 * 1200);
    assert.ok(beats.length >= 1, 'heartbeats while writing');
    assert.ok(beats.every((b) => b.seeds_total === 10_050 && b.seeds_done <= 10_050));
  });
});
