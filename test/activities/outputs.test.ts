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
import type { RejectedQaRecord, SeedResultFile, SynthesisConfig, YieldFunnel } from '../../src/shared/types';
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

describe('writeOutputs: dedup, the rejected-QA file and the yield funnel', () => {
  const seeds4 = (() => {
    const n = normalizeSeeds(['Olympics', 'rivers', 'painters', 'never run'], null);
    assert.ok(n.ok);
    return n.seeds;
  })();
  const qa = (i: number, k: number, question: string, answer: string) => ({
    question,
    answer,
    trajectory_id: `${seeds4[i].source_id}_traj_${k}`,
    reasoning_steps: [],
    source_id: seeds4[i].source_id,
    qa_id: `${seeds4[i].source_id}_traj_${k}_qa_${k}`,
    metadata: { seed_data: seeds4[i].text, seed_description: '', trajectory_depth: 2, synthesis_date: 'x', environment_mode: 'math' as const },
  });
  const traj = (i: number, k: number) => ({ trajectory_id: `${seeds4[i].source_id}_traj_${k}`, source_id: seeds4[i].source_id, seed_data: seeds4[i].text, total_depth: 2, nodes: [] });
  const node = (node_id: string, parent_id: string | null, depth: number) => ({ node_id, parent_id, depth, tool_name: 'calculator', intent: '', outcome: 'ok' as const });
  const base = (i: number) => ({ run_id: 'r', source_id: seeds4[i].source_id, index: i, seed_data: seeds4[i].text, started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:01.000Z' });

  // Seed 0: 5 QA (the 5th is a third "Salvador Dalí": answer cap 2), 1 rejected by grounding, 1 path whose QA failed
  // the cheap validators, 1 skipped branch; 7 paths.
  const seed0: SeedResultFile = {
    ...base(0),
    status: 'succeeded',
    qas: [
      qa(0, 0, 'Which city hosted the Olympic Games in 1990?', 'Seattle'),
      qa(0, 1, 'What is the boiling point of water at sea level?', '100 °C'),
      qa(0, 2, 'Which painter was born in Figueres?', 'Salvador Dalí'),
      qa(0, 3, 'Who painted The Persistence of Memory?', 'salvador dali'),
      qa(0, 4, 'Which surrealist founded a theatre-museum?', 'SALVADOR DALI.'),
    ],
    rejected_qas: [{ ...qa(0, 5, 'Which moon is the largest?', 'Zorvath'), rejection: { stage: 'grounding', reason: 'ungrounded' } }],
    trajectories: Array.from({ length: 7 }, (_, k) => traj(0, k)),
    counters: { ...emptySeedCounters(), nodes: 8, skipped_branches: { invalid_json: 1 }, qa_rejected: { answer_in_question: 1 } },
  };
  // Seed 1: an exact and a near duplicate of seed 0's first question, one new question; 1 dropped by verification.
  // Its tree: 1 leaf at depth 1 (below min_depth 2) and 6 at depth 2, of which 4 were selected.
  const seed1: SeedResultFile = {
    ...base(1),
    status: 'succeeded',
    qas: [
      qa(1, 0, 'which city hosted Olympic games in 1990', 'Seattle'),
      qa(1, 1, 'In 2004, which city hosted the Olympic Games?', 'Athens'),
      qa(1, 2, 'Which river flows through the city that hosted the 1990 Olympic Games?', 'Columbia River'),
    ],
    rejected_qas: [{ ...qa(1, 3, 'What is 2 + 2?', '4'), rejection: { stage: 'verification', reason: 'solved_without_tools' } }],
    trajectories: Array.from({ length: 4 }, (_, k) => traj(1, k)),
    counters: { ...emptySeedCounters(), nodes: 8 },
    tree: [
      node('d0_t0_b0', null, 0),
      node('d1_t1_b0', 'd0_t0_b0', 1),
      node('d1_t2_b1', 'd0_t0_b0', 1),
      ...Array.from({ length: 6 }, (_, k) => node(`d2_t${3 + k}_b${k}`, 'd1_t2_b1', 2)),
    ],
  };
  const seed2: SeedResultFile = { ...base(2), status: 'failed', error: 'HTTP 401', error_type: 'LlmAuth', qas: [], trajectories: [], counters: emptySeedCounters() };

  async function run(runId: string, cfg: SynthesisConfig) {
    const dir = tempDir();
    await runActivity(out.prepareRun, { run_id: runId, output_dir: dir, config: cfg, seeds: seeds4, duplicates_dropped: 0, started_at: '2026-01-01T00:00:00.000Z' });
    for (const r of [seed1, seed2, seed0]) await runActivity(out.writeSeedResult, { output_dir: dir, result: { ...r, run_id: runId } });
    const args = { run_id: runId, output_dir: dir, mode: 'math' as const, timestamp: '20260101_000000', completion: 'complete' as const };
    return { dir, args, result: await runActivity(out.writeOutputs, args) };
  }

  test('first occurrence kept, duplicates listed with the QA they duplicate; the funnel matches the files; a retry writes identical files', async () => {
    const { args, result } = await run('r', config);
    const kept = readJsonl<{ qa_id: string }>(result.qa_path);
    const rejected = readJsonl<RejectedQaRecord>(result.rejected_qa_path!);
    assert.equal(path.basename(result.rejected_qa_path!), 'rejected_qa_math_20260101_000000.jsonl');
    const id = (i: number, k: number) => `${seeds4[i].source_id}_traj_${k}_qa_${k}`;
    assert.deepEqual(kept.map((q) => q.qa_id), [id(0, 0), id(0, 1), id(0, 2), id(0, 3), id(1, 2)]);
    assert.deepEqual(
      rejected.map((r) => [r.qa_id, r.rejection]),
      [
        [id(0, 4), { stage: 'dedup', reason: 'answer_cap', duplicate_of: id(0, 2) }],
        [id(0, 5), { stage: 'grounding', reason: 'ungrounded' }],
        [id(1, 0), { stage: 'dedup', reason: 'exact_duplicate', duplicate_of: id(0, 0) }],
        [id(1, 1), { stage: 'dedup', reason: 'near_duplicate', duplicate_of: id(0, 0) }],
        [id(1, 3), { stage: 'verification', reason: 'solved_without_tools' }],
      ],
    );
    // Rejected records are whole QA records plus the rejection.
    assert.equal(rejected[0]!.question, 'Which surrealist founded a theatre-museum?');
    assert.equal(result.qa_count, 5);
    assert.equal(result.rejected_qa_count, 5);

    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as { funnel: YieldFunnel; rejected_qa_file: string; total_qas: number };
    assert.equal(stats.rejected_qa_file, path.basename(result.rejected_qa_path!));
    assert.equal(stats.total_qas, 5, 'total_qas counts the QA file');
    const rows = readJsonl<{ qa: number }>(path.join(path.dirname(result.statistics_path), 'seed_statistics_math_20260101_000000.jsonl'));
    assert.deepEqual(rows.map((r) => r.qa), [4, 1, 0, 0], 'per-seed rows count the QA kept in the QA file');
    const f = stats.funnel;
    assert.deepEqual(
      { ...f, losses: undefined },
      { seeds: 4, seeds_with_qa: 2, nodes: 16, paths: 11, qa_written: 10, qa_grounded: 9, qa_verified: 8, qa_kept: 5, losses: undefined },
    );
    assert.deepEqual(f.losses, [
      { stage: 'exploration', reason: 'invalid_json', count: 1 },
      { stage: 'exploration', reason: 'seed_failed:LlmAuth', count: 1 },
      { stage: 'exploration', reason: 'seed_not_run', count: 1 },
      { stage: 'selection', reason: 'over_max_selected_traj', count: 2 },
      { stage: 'selection', reason: 'below_min_depth', count: 1 },
      { stage: 'synthesis', reason: 'answer_in_question', count: 1 },
      { stage: 'grounding', reason: 'ungrounded', count: 1 },
      { stage: 'verification', reason: 'solved_without_tools', count: 1 },
      { stage: 'dedup', reason: 'answer_cap', count: 1 },
      { stage: 'dedup', reason: 'exact_duplicate', count: 1 },
      { stage: 'dedup', reason: 'near_duplicate', count: 1 },
    ]);
    // The type's invariants, checked against the files.
    assert.ok(f.qa_written >= f.qa_grounded && f.qa_grounded >= f.qa_verified && f.qa_verified >= f.qa_kept);
    assert.equal(f.qa_kept, kept.length);
    assert.equal(f.qa_written - f.qa_kept, rejected.length);
    for (const stage of ['grounding', 'verification', 'dedup'] as const) {
      const lost = f.losses.filter((l) => l.stage === stage).reduce((n, l) => n + l.count, 0);
      assert.equal(lost, rejected.filter((r) => r.rejection.stage === stage).length, stage);
    }

    // Deterministic: a retried writeOutputs writes the same QA and rejected files, byte for byte.
    const before = [fs.readFileSync(result.qa_path, 'utf8'), fs.readFileSync(result.rejected_qa_path!, 'utf8')];
    const again = await runActivity(out.writeOutputs, args);
    assert.deepEqual([fs.readFileSync(again.qa_path, 'utf8'), fs.readFileSync(again.rejected_qa_path!, 'utf8')], before);
  });

  test('dedup off: every verified QA is kept; grounding and verification losses still go to the rejected file', async () => {
    const { result } = await run('nodedup', { ...config, dedup: { ...config.dedup, enabled: false } });
    assert.equal(readJsonl(result.qa_path).length, 8);
    const rejected = readJsonl<RejectedQaRecord>(result.rejected_qa_path!);
    assert.deepEqual(rejected.map((r) => r.rejection.stage), ['grounding', 'verification']);
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as { funnel: YieldFunnel };
    assert.equal(stats.funnel.qa_kept, 8);
    assert.equal(stats.funnel.losses.filter((l) => l.stage === 'dedup').length, 0);
  });
});
