import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SeedResultFile, SynthesisConfig } from '../../src/shared/types';
import { buildQaRecord, buildTrajectoryRecord } from '../../src/domain/records';
import { buildStatistics, emptySeedCounters, mergeCounts } from '../../src/domain/statistics';
import type { SelectedPath } from '../../src/domain/selection';
import { parseConfig } from '../../src/config/schema';

const FIXTURE = path.resolve(__dirname, '../fixtures/original/synthesized_qa_rag.jsonl');

const qa = buildQaRecord({
  question: 'Q?',
  answer: 'A',
  reasoning_steps: [{ step: 1 }],
  trajectory_id: 'src_a_traj_0',
  source_id: 'src_a',
  qa_id: 'src_a_traj_0_qa_0',
  seed_data: 'seed',
  seed_description: 'desc',
  trajectory_depth: 3,
  synthesis_date: '2025-01-01T00:00:00.000Z',
  environment_mode: 'rag',
  attempts: 2,
});

test('QA record key order equals the original fixture (metadata adds qa_synthesis_attempts last)', () => {
  const lines = fs.readFileSync(FIXTURE, 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const rec = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(qa), Object.keys(rec));
    assert.deepEqual(Object.keys(qa.metadata), [...Object.keys(rec.metadata as object), 'qa_synthesis_attempts']);
  }
  assert.equal(qa.metadata.qa_synthesis_attempts, 2);
  assert.equal('qa_rejections' in qa.metadata, false, 'no rejections given: no key');
});

test('QA record: the reasons earlier attempts were rejected follow qa_synthesis_attempts, in order', () => {
  const args = { question: 'q?', answer: 'a', reasoning_steps: [], trajectory_id: 't', source_id: 's', qa_id: 'q', seed_data: 'x', seed_description: 'd', trajectory_depth: 2, synthesis_date: '2025-01-01T00:00:00.000Z', environment_mode: 'math' as const, attempts: 3 };
  const reasons = ['answer_in_question: the answer "a" appears in the question', 'ungrounded: the answer "b" is not supported'];
  const rec = buildQaRecord({ ...args, rejections: reasons });
  assert.deepEqual(Object.keys(rec.metadata).slice(-2), ['qa_synthesis_attempts', 'qa_rejections']);
  assert.deepEqual(rec.metadata.qa_rejections, reasons);
  reasons.push('later');
  assert.equal((rec.metadata.qa_rejections as string[]).length, 2, 'a copy, not the caller\'s array');
});

test('trajectory record: original fields, root excluded, node keys in order, plus score', () => {
  const sel: SelectedPath = {
    trajectory_id: 'src_a_traj_1',
    candidate_index: 1,
    score: 55.5,
    score_parts: { depth: 16, info: 9.5, diversity: 30 },
    error_steps: 0,
    path: [
      { depth: 1, node_id: 'd1_t1_b0', observation: 'o1', intent: 'i1', action: { tool_name: 't', parameters: { q: 1 } }, parent_id: 'd0_t0_b0', children_ids: ['d2_t2_b0'], is_error: false },
      { node_id: 'd2_t2_b0', observation: 'o2', intent: 'i2', action: { tool_name: 't', parameters: {} }, parent_id: 'd1_t1_b0', children_ids: [], depth: 2 },
    ],
  };
  const t = buildTrajectoryRecord(sel, 'src_a', 'seed');
  assert.deepEqual(Object.keys(t), ['trajectory_id', 'source_id', 'seed_data', 'total_depth', 'nodes', 'score']);
  assert.equal(t.total_depth, 2);
  assert.deepEqual(Object.keys(t.nodes[0]!), ['node_id', 'observation', 'intent', 'action', 'parent_id', 'children_ids', 'depth', 'is_error']);
  assert.deepEqual(Object.keys(t.nodes[1]!), ['node_id', 'observation', 'intent', 'action', 'parent_id', 'children_ids', 'depth']);
  assert.equal(t.score, 55.5);
});

test('mergeCounts sums maps without mutating them', () => {
  const a = { x: 1, y: 2 };
  assert.deepEqual(mergeCounts(a, { y: 3, z: 1 }), { x: 1, y: 5, z: 1 });
  assert.deepEqual(a, { x: 1, y: 2 });
});

function result(source_id: string, index: number, status: 'succeeded' | 'failed', qas: number, depths: number[]): SeedResultFile {
  const counters = {
    ...emptySeedCounters(),
    llm_calls: 10,
    llm_failed_outputs: 1,
    input_tokens: 100,
    output_tokens: 20,
    tool_calls: { calculator: 4 },
    tool_errors: { calculator: 1 },
    skipped_branches: { invalid_json: 1 },
    nodes: 6,
    qa_rejected: (status === 'succeeded' ? { answer_in_question: 1 } : {}) as Record<string, number>,
  };
  return {
    run_id: 'r',
    source_id,
    index,
    seed_data: source_id,
    status,
    ...(status === 'failed' ? { error: 'boom' } : {}),
    started_at: '',
    finished_at: '',
    qas: Array.from({ length: qas }, () => qa),
    trajectories: depths.map((d) => ({ trajectory_id: 't', source_id, seed_data: source_id, total_depth: d, nodes: [] })),
    counters,
  };
}

test('buildStatistics totals, failed and missing seeds, per-seed rows in input order', () => {
  const parsed = parseConfig({ environment_mode: 'math', model_name: 'm1' });
  assert.ok(parsed.ok);
  const config: SynthesisConfig = parsed.config;
  const stats = buildStatistics({
    run_id: 'run1',
    mode: 'math',
    config,
    started_at: '2025-01-01T00:00:00.000Z',
    finished_at: '2025-01-01T00:01:30.500Z',
    completion: 'cancelled',
    seeds: [
      { source_id: 'c', seed_data: 'c', index: 2 },
      { source_id: 'a', seed_data: 'a', index: 0, result: result('a', 0, 'succeeded', 2, [2, 3]) },
      { source_id: 'b', seed_data: 'b', index: 1, result: result('b', 1, 'failed', 0, []) },
    ],
    duplicates_dropped: 4,
  });
  assert.equal(stats.run_id, 'run1');
  assert.equal(stats.environment_mode, 'math');
  assert.equal(stats.model_name, 'm1');
  assert.equal(stats.completion, 'cancelled');
  assert.equal(stats.wall_time_seconds, 90.5);
  assert.deepEqual(stats.seeds, { total: 3, succeeded: 1, failed: 1, no_qa: 0, budget_exhausted: 0, missing: 1, duplicates_dropped: 4 });
  assert.deepEqual(stats.failed_seeds, [{ source_id: 'b', seed_data: 'b', status: 'failed', error: 'boom', error_type: 'unknown' }]);
  assert.deepEqual(stats.errors_by_type, { unknown: 1 });
  assert.equal(stats.total_qas, 2);
  assert.equal(stats.total_trajectories, 2);
  assert.equal(stats.total_nodes, 12);
  assert.equal(stats.avg_trajectory_depth, 2.5);
  assert.deepEqual(stats.llm, { calls: 20, requests: 20, failed_outputs: 2, input_tokens: 200, output_tokens: 40, usage_estimated_calls: 0, estimated_cost_usd: null });
  assert.deepEqual(stats.tools, { calls: { calculator: 8 }, errors: { calculator: 2 }, duplicate_actions_refused: 0 });
  assert.deepEqual(stats.skipped_branches, { invalid_json: 2 });
  assert.deepEqual(stats.qa_rejected, { answer_in_question: 1 });
  assert.deepEqual(stats.per_seed?.map((s) => [s.source_id, s.status, s.qa, s.tool_calls, s.error]), [
    ['a', 'succeeded', 2, 4, undefined],
    ['b', 'failed', 0, 4, 'boom'],
    ['c', 'missing', 0, 0, undefined],
  ]);
  assert.equal(stats.config, config);
  assert.doesNotThrow(() => JSON.stringify(stats));
});
