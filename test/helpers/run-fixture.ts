/**
 * A small hand-made run folder for the edge cases a simulated run does not produce: a failed seed without a tree,
 * an old result file (no `tree`, QA without `evidence`), a tree with error and refused nodes, a QA whose trajectory
 * is lost (evidence only), rejected QA (seed `rejected_qas`), a seed without a result, and a statistics file with a
 * yield funnel. Every value below is fixed, so tests can assert exact numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CompactNode, QaRecord, RejectedQaRecord, SeedResultFile, TrajectoryRecord, TreeNode, YieldFunnel } from '../../src/shared/types';

export const FIXTURE_RUN_ID = 'edge';

const counters = (nodes: number): SeedResultFile['counters'] => ({
  llm_calls: 3,
  llm_requests: 3,
  llm_failed_outputs: 0,
  input_tokens: 100,
  output_tokens: 20,
  tool_calls: { web_search: nodes },
  tool_errors: {},
  skipped_branches: {},
  nodes,
  leaves: 1,
  qa_rejected: {},
  duplicate_actions: 0,
  cost_usd: 0,
});

function node(id: string, parent: string | null, depth: number, observation: string, extra: Partial<TreeNode> = {}): TreeNode {
  return { node_id: id, observation, intent: `look up ${id}`, action: { tool_name: 'web_search', parameters: { query: `q ${id}` } }, parent_id: parent, children_ids: [], depth, ...extra };
}

function qa(sourceId: string, traj: string, n: number, question: string, answer: string, extra: Partial<QaRecord> = {}): QaRecord {
  return {
    question,
    answer,
    trajectory_id: traj,
    reasoning_steps: [],
    source_id: sourceId,
    qa_id: `${traj}_qa_${n}`,
    metadata: { seed_data: sourceId, seed_description: '', trajectory_depth: 2, synthesis_date: '2026-01-01T00:00:00.000Z', environment_mode: 'web' },
    ...extra,
  };
}

/** The fixture's funnel (statistics `funnel`). */
export const FIXTURE_FUNNEL: YieldFunnel = {
  seeds: 4,
  seeds_with_qa: 2,
  nodes: 9,
  paths: 3,
  qa_written: 5,
  qa_grounded: 4,
  qa_verified: 4,
  qa_kept: 3,
  losses: [
    { stage: 'grounding', reason: 'ungrounded', count: 1 },
    { stage: 'dedup', reason: 'near_duplicate', count: 1 },
  ],
};

/** Writes the fixture run under `outputDir` and returns its folder. */
export function writeRunFixture(outputDir: string): string {
  const dir = path.join(outputDir, FIXTURE_RUN_ID);
  fs.mkdirSync(path.join(dir, 'seeds'), { recursive: true });
  const seeds = [
    { source_id: 'src_failed', text: 'a seed that failed' },
    { source_id: 'src_old', text: 'an old result file' },
    { source_id: 'src_tree', text: 'a whole tree with <b>errors</b>' },
    { source_id: 'src_missing', text: 'never ran' },
  ];
  const config = { environment_mode: 'web', available_tools: [], model_name: 'm', max_depth: 2, branching_factor: 2 };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ run_id: FIXTURE_RUN_ID, config_hash: 'x', config, seeds, duplicates_dropped: 0, started_at: '2026-01-01T00:00:00.000Z' }));

  const base = { run_id: FIXTURE_RUN_ID, started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:01:00.000Z' };
  const failed: SeedResultFile = { ...base, source_id: 'src_failed', index: 0, seed_data: seeds[0]!.text, status: 'failed', error: 'LLM endpoint refused the key (401)', error_type: 'LlmAuth', qas: [], trajectories: [], counters: counters(0) };

  // Old result file: no tree, QA without evidence (their trajectory has the full observations).
  const oldTraj: TrajectoryRecord = {
    trajectory_id: 'src_old_traj_0',
    source_id: 'src_old',
    seed_data: seeds[1]!.text,
    total_depth: 2,
    nodes: [node('d1_t1_b0', 'd0_t0_b0', 1, 'Old page one says 1987.'), node('d2_t2_b0', 'd1_t1_b0', 2, '')],
  };
  const oldQa = qa('src_old', 'src_old_traj_0', 0, 'In which year did the old thing happen?', '1987');
  const old: SeedResultFile = { ...base, source_id: 'src_old', index: 1, seed_data: seeds[1]!.text, status: 'succeeded', qas: [oldQa], trajectories: [oldTraj], counters: counters(2) };

  // Whole tree: root, ok/error/refused nodes; one selected path; a QA whose trajectory is lost (evidence only).
  const tree: CompactNode[] = [
    { node_id: 'd0_t0_b0', parent_id: null, depth: 0, tool_name: '', intent: 'Start exploration', outcome: 'ok' },
    { node_id: 'd1_t1_b0', parent_id: 'd0_t0_b0', depth: 1, tool_name: 'web_search', intent: 'first', outcome: 'ok' },
    { node_id: 'd2_t2_b0', parent_id: 'd1_t1_b0', depth: 2, tool_name: 'web_visit', intent: 'second <i>', outcome: 'ok' },
    { node_id: 'd2_t3_b1', parent_id: 'd1_t1_b0', depth: 2, tool_name: 'web_visit', intent: 'failed visit', outcome: 'error' },
    { node_id: 'd1_t4_b1', parent_id: 'd0_t0_b0', depth: 1, tool_name: 'web_search', intent: 'repeat', outcome: 'refused' },
    { node_id: 'd1_t5_b2', parent_id: 'd0_t0_b0', depth: 1, tool_name: 'web_search', intent: 'third', outcome: 'ok' },
    { node_id: 'd2_t6_b0', parent_id: 'd1_t5_b2', depth: 2, tool_name: 'web_visit', intent: 'fourth', outcome: 'ok' },
  ];
  const treeTraj: TrajectoryRecord = {
    trajectory_id: 'src_tree_traj_0',
    source_id: 'src_tree',
    seed_data: seeds[2]!.text,
    total_depth: 2,
    nodes: [
      node('d1_t1_b0', 'd0_t0_b0', 1, 'Search results: Ada Lovelace, 1815.', { sources: ['http://127.0.0.1/ada'] }),
      { ...node('d2_t2_b0', 'd1_t1_b0', 2, 'The page says she was born in London.', { sources: ['http://127.0.0.1/ada/bio'] }), action: { tool_name: 'web_visit', parameters: { url: 'http://127.0.0.1/ada/bio', goal: 'birthplace' } } },
    ],
  };
  const evidence = {
    steps: [
      { node_id: 'd1_t1_b0', tool_name: 'web_search', parameters: { query: 'q d1_t1_b0' }, sources: ['http://127.0.0.1/ada'], observation_excerpt: 'Search results: Ada Lovelace, 1815.', is_error: false },
      { node_id: 'd2_t2_b0', tool_name: 'web_visit', parameters: { url: 'http://127.0.0.1/ada/bio', goal: 'birthplace' }, sources: ['http://127.0.0.1/ada/bio'], observation_excerpt: 'The page says she was born in London.', is_error: false },
    ],
    sources: ['http://127.0.0.1/ada', 'http://127.0.0.1/ada/bio'],
    grounding: { method: 'exact' as const, node_id: 'd2_t2_b0' },
  };
  const treeQa = qa('src_tree', 'src_tree_traj_0', 0, 'Where was the person found first born? <script>alert(1)</script>', 'London', { evidence });
  // Trajectory `src_tree_traj_9` is in no file: only the evidence excerpts remain.
  const lostQa = qa('src_tree', 'src_tree_traj_9', 1, 'In which year was she born?', '1815', { evidence: { ...evidence, steps: evidence.steps.slice(0, 1), grounding: null } });
  const rejected: RejectedQaRecord[] = [
    { ...qa('src_tree', 'src_tree_traj_0', 2, 'Where was she born, in which city?', 'London', { evidence }), rejection: { stage: 'dedup', reason: 'near_duplicate', duplicate_of: treeQa.qa_id } },
    { ...qa('src_tree', 'src_tree_traj_0', 3, 'What colour is the sky?', 'blue', { evidence }), rejection: { stage: 'grounding', reason: 'ungrounded' } },
  ];
  const whole: SeedResultFile = {
    ...base,
    source_id: 'src_tree',
    index: 2,
    seed_data: seeds[2]!.text,
    status: 'succeeded',
    qas: [treeQa, lostQa],
    trajectories: [treeTraj],
    counters: counters(6),
    tree,
    rejected_qas: rejected,
  };
  for (const r of [failed, old, whole]) fs.writeFileSync(path.join(dir, 'seeds', `${r.source_id}.json`), JSON.stringify(r));

  const ts = 'web_20260101_000000';
  fs.writeFileSync(path.join(dir, `synthesized_qa_${ts}.jsonl`), [oldQa, treeQa, lostQa].map((q) => JSON.stringify(q)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, `trajectories_${ts}.jsonl`), [oldTraj, treeTraj].map((t) => JSON.stringify(t)).join('\n') + '\n');
  const statistics = {
    run_id: FIXTURE_RUN_ID,
    environment_mode: 'web',
    model_name: 'm',
    completion: 'complete',
    started_at: base.started_at,
    finished_at: base.finished_at,
    wall_time_seconds: 60,
    seeds: { total: 4, succeeded: 2, failed: 1, no_qa: 0, budget_exhausted: 0, missing: 1, duplicates_dropped: 0 },
    failed_seeds: [{ source_id: 'src_failed', seed_data: seeds[0]!.text, status: 'failed', error: failed.error, error_type: 'LlmAuth' }],
    failed_seeds_total: 1,
    errors_by_type: { LlmAuth: 1 },
    total_qas: 3,
    total_trajectories: 2,
    total_nodes: 8,
    avg_trajectory_depth: 2,
    llm: { calls: 9, requests: 10, failed_outputs: 0, input_tokens: 300, output_tokens: 60, usage_estimated_calls: 0, estimated_cost_usd: null },
    tools: { calls: { web_search: 5, web_visit: 3 }, errors: { web_visit: 1 }, duplicate_actions_refused: 1 },
    skipped_branches: {},
    qa_rejected: { answer_in_question: 2 },
    funnel: FIXTURE_FUNNEL,
    config,
  };
  fs.writeFileSync(path.join(dir, `statistics_${ts}.json`), JSON.stringify(statistics, null, 2));
  return dir;
}
