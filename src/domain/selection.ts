/**
 * Trajectory selection (spec §1.5): no LLM, pure scoring of root-to-leaf paths. Workflow-safe.
 */
import type { TreeNode } from '../shared/types';
import { trajectoryId } from './ids';

export interface ScoreParts {
  depth: number;
  info: number;
  diversity: number;
}

export interface SelectedPath {
  trajectory_id: string;
  /** Position of the path in the candidate list (leaf creation order); names the trajectory, as the original. */
  candidate_index: number;
  score: number;
  score_parts: ScoreParts;
  /** Steps whose observation is an error (tool failure, refused repeat). Paths with fewer rank first. */
  error_steps: number;
  /** Root → leaf, root excluded. */
  path: TreeNode[];
}

/** Length in code points (Python's len), so scores match the original on non-ASCII text. */
function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Mean observation length (code points) over a path; 0 for an empty path. */
export function averageObservationLength(path: readonly TreeNode[]): number {
  if (path.length === 0) return 0;
  return path.reduce((sum, n) => sum + codePointLength(n.observation), 0) / path.length;
}

/**
 * Scores one path, as the original:
 * - depth: min(len/5, 1)·40 (saturates at 5 steps);
 * - info: (avgObsLen − min)/(max − min)·30, min/max over this seed's candidates; an empty range counts as 1 (info 0);
 * - diversity: |distinct tool names on the path| / max(toolCount, 1)·30.
 *
 * `toolCount` is the number of tools actually offered to the model. The Oct original divided by
 * len(config.available_tools), which is 0 when the whitelist is empty (all tools) and let this term exceed 30;
 * later versions fall back to the tools the sampler found, which is what we do.
 */
export function scorePath(
  path: readonly TreeNode[],
  ctx: { minAvgObs: number; maxAvgObs: number; toolCount: number },
): { score: number; score_parts: ScoreParts } {
  const depth = Math.min(path.length / 5, 1) * 40;
  const range = ctx.maxAvgObs - ctx.minAvgObs || 1;
  const info = ((averageObservationLength(path) - ctx.minAvgObs) / range) * 30;
  const tools = new Set<string>();
  for (const n of path) if (n.action) tools.add(n.action.tool_name);
  const diversity = (tools.size / Math.max(ctx.toolCount, 1)) * 30;
  return { score: depth + info + diversity, score_parts: { depth, info, diversity } };
}

/** Path root → node, root excluded (nodes with parent_id null are roots). */
export function pathToRoot(node: TreeNode, byId: ReadonlyMap<string, TreeNode>): TreeNode[] {
  const path: TreeNode[] = [];
  let cur: TreeNode | undefined = node;
  while (cur && cur.parent_id !== null) {
    path.push(cur);
    cur = byId.get(cur.parent_id);
  }
  return path.reverse();
}

/** Candidate paths: leaves (no children) with depth ≥ minDepth, in creation order, root excluded. */
export function candidatePaths(nodes: readonly TreeNode[], minDepth: number): TreeNode[][] {
  const byId = new Map(nodes.map((n) => [n.node_id, n] as const));
  return nodes.filter((n) => n.children_ids.length === 0 && n.depth >= minDepth).map((leaf) => pathToRoot(leaf, byId));
}

/** Number of steps on a path whose observation is flagged as an error. */
export function errorSteps(path: readonly TreeNode[]): number {
  return path.reduce((n, node) => n + (node.is_error ? 1 : 0), 0);
}

export function selectTrajectories(
  nodes: readonly TreeNode[],
  opts: { min_depth: number; max_selected_traj: number; toolCount: number; sourceId: string },
): SelectedPath[] {
  const candidates = candidatePaths(nodes, opts.min_depth);
  if (candidates.length === 0) return [];
  const avgs = candidates.map(averageObservationLength);
  const ctx = { minAvgObs: Math.min(...avgs), maxAvgObs: Math.max(...avgs), toolCount: opts.toolCount };
  const scored: SelectedPath[] = candidates.map((path, i) => ({
    trajectory_id: trajectoryId(opts.sourceId, i),
    candidate_index: i,
    ...scorePath(path, ctx),
    error_steps: errorSteps(path),
    path,
  }));
  // Clean paths first (the original kept error observations and could select paths built from failures),
  // then the original score. Array.prototype.sort is stable: ties keep candidate order, as Python's sorted().
  scored.sort((a, b) => a.error_steps - b.error_steps || b.score - a.score);
  return scored.slice(0, opts.max_selected_traj);
}
