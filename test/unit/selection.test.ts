import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TreeNode } from '../../src/shared/types';
import { candidatePaths, scorePath, selectTrajectories } from '../../src/domain/selection';

function node(id: string, parent: string | null, depth: number, obsLen: number, tool: string | null, children: string[] = []): TreeNode {
  return {
    node_id: id,
    observation: 'x'.repeat(obsLen),
    intent: `intent ${id}`,
    action: tool ? { tool_name: tool, parameters: {} } : null,
    parent_id: parent,
    children_ids: children,
    depth,
  };
}

// root ─ a(10, calc) ─ b(30, calc)        leaf, candidate 0
//      ─ c(20, py)   ─ d(40, calc)        leaf, candidate 1
//      ─ e(5, calc)                        leaf at depth 1: below min_depth 2
const tree: TreeNode[] = [
  node('d0_t0_b0', null, 0, 5, null, ['a', 'c', 'e']),
  node('a', 'd0_t0_b0', 1, 10, 'calculator', ['b']),
  node('b', 'a', 2, 30, 'calculator'),
  node('c', 'd0_t0_b0', 1, 20, 'python_interpreter', ['d']),
  node('d', 'c', 2, 40, 'calculator'),
  node('e', 'd0_t0_b0', 1, 5, 'calculator'),
];

test('candidates: leaves with depth ≥ min_depth, root excluded from paths', () => {
  const c = candidatePaths(tree, 2);
  assert.deepEqual(c.map((p) => p.map((n) => n.node_id)), [['a', 'b'], ['c', 'd']]);
  assert.equal(candidatePaths(tree, 1).length, 3);
  assert.equal(candidatePaths(tree, 3).length, 0);
});

test('hand-computed scores; trajectory_id uses the candidate index, not the rank', () => {
  const sel = selectTrajectories(tree, { min_depth: 2, max_selected_traj: 3, toolCount: 2, sourceId: 'src_s' });
  // path b: depth 2/5·40 = 16; avg obs 20 = min → info 0; 1 tool of 2 → 15; total 31
  // path d: depth 16; avg obs 30 = max → info 30; 2 tools of 2 → 30; total 76
  assert.deepEqual(
    sel.map((s) => [s.trajectory_id, s.candidate_index, s.score, s.score_parts]),
    [
      ['src_s_traj_1', 1, 76, { depth: 16, info: 30, diversity: 30 }],
      ['src_s_traj_0', 0, 31, { depth: 16, info: 0, diversity: 15 }],
    ],
  );
  assert.deepEqual(sel[0]!.path.map((n) => n.node_id), ['c', 'd']);
});

test('max_selected_traj caps the selection; no candidates → []', () => {
  assert.equal(selectTrajectories(tree, { min_depth: 2, max_selected_traj: 1, toolCount: 2, sourceId: 's' }).length, 1);
  assert.deepEqual(selectTrajectories(tree, { min_depth: 5, max_selected_traj: 3, toolCount: 2, sourceId: 's' }), []);
  assert.deepEqual(selectTrajectories([tree[0]!], { min_depth: 1, max_selected_traj: 3, toolCount: 2, sourceId: 's' }), []);
});

test('ties keep candidate order (stable sort); equal averages give info 0', () => {
  const flat: TreeNode[] = [
    node('r', null, 0, 1, null, ['p', 'q', 'z']),
    node('p', 'r', 1, 7, 'calculator'),
    node('q', 'r', 1, 7, 'calculator'),
    node('z', 'r', 1, 7, 'calculator'),
  ];
  const sel = selectTrajectories(flat, { min_depth: 1, max_selected_traj: 2, toolCount: 1, sourceId: 's' });
  assert.deepEqual(sel.map((s) => s.trajectory_id), ['s_traj_0', 's_traj_1']);
  assert.equal(sel[0]!.score_parts.info, 0);
  assert.equal(sel[0]!.score, 8 + 0 + 30);
});

test('depth saturates at 5 steps; toolCount 0 counts as 1', () => {
  const path = Array.from({ length: 7 }, (_, i) => node(`n${i}`, i ? `n${i - 1}` : 'r', i + 1, 3, i % 2 ? 'a' : 'b'));
  const s = scorePath(path, { minAvgObs: 3, maxAvgObs: 3, toolCount: 0 });
  assert.deepEqual(s.score_parts, { depth: 40, info: 0, diversity: 60 });
});

test('observation length counts code points (as Python len)', () => {
  const t: TreeNode[] = [
    node('r', null, 0, 1, null, ['p', 'q']),
    { ...node('p', 'r', 1, 0, 'calculator'), observation: '😀😀' }, // 2 code points, 4 UTF-16 units
    { ...node('q', 'r', 1, 0, 'calculator'), observation: 'ab' },
  ];
  const sel = selectTrajectories(t, { min_depth: 1, max_selected_traj: 2, toolCount: 1, sourceId: 's' });
  assert.ok(sel.every((x) => x.score_parts.info === 0));
});

test('paths with error steps rank below clean ones; the original score orders within each group', () => {
  const mk = (id: string, parent: string | null, depth: number, obs: string, isError = false): TreeNode => ({
    node_id: id, observation: obs, intent: '', action: depth ? { tool_name: 'calculator', parameters: {} } : null,
    parent_id: parent, children_ids: [], depth, is_error: isError,
  });
  const root = mk('d0_t0_b0', null, 0, 'root');
  // Leaf A: long observations (best original score) but one error step. Leaf B: short, clean.
  const a1 = mk('d1_t1_b0', 'd0_t0_b0', 1, 'x'.repeat(500), true);
  const a2 = mk('d2_t2_b0', 'd1_t1_b0', 2, 'x'.repeat(500));
  const b1 = mk('d1_t3_b1', 'd0_t0_b0', 1, 'short');
  const b2 = mk('d2_t4_b0', 'd1_t3_b1', 2, 'short');
  root.children_ids = [a1.node_id, b1.node_id];
  a1.children_ids = [a2.node_id];
  b1.children_ids = [b2.node_id];
  const sel = selectTrajectories([root, a1, a2, b1, b2], { min_depth: 2, max_selected_traj: 2, toolCount: 1, sourceId: 'src_q' });
  assert.deepEqual(sel.map((s) => s.trajectory_id), ['src_q_traj_1', 'src_q_traj_0']);
  assert.deepEqual(sel.map((s) => s.error_steps), [0, 1]);
  assert.ok(sel[1].score > sel[0].score, 'the error path had the higher original score');
});
