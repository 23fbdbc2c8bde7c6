/**
 * Everything the run report and `qasynth show` display, gathered from a run folder: the seeds in input order with
 * their result (or none), each seed's tree (the compact `tree`, or — for result files written before trees were
 * kept — the nodes of its selected paths), the selected node ids, the kept and rejected QA.
 *
 * Holds the whole run in memory: meant for the runs a person reads (up to a few thousand seeds).
 */
import type { CompactNode, QaRecord, RejectedQaRecord, SeedResultFile, TrajectoryRecord } from '../shared/types';
import { keptQas, readSeedResultFile, rejectedQas, runSeeds, type RunFolder } from '../export/run-folder';
import { agentSteps, type AgentStep } from '../export/records';

/** How a seed's tree was obtained: the whole tree, only its selected paths (old result file), or none. */
export type TreeSource = 'tree' | 'paths' | 'none';

export interface SeedView {
  source_id: string;
  text: string;
  index: number;
  /** null: the seed has no result (never ran, or the run was cancelled first). */
  result: SeedResultFile | null;
  tree: CompactNode[];
  tree_source: TreeSource;
  /** Node ids on the selected paths (the trajectories), root included. */
  selected: Set<string>;
}

export interface RunData {
  run: RunFolder;
  seeds: SeedView[];
  kept: QaRecord[];
  rejected: RejectedQaRecord[];
  /** trajectory_id → trajectory, for the QA's steps. */
  trajectories: Map<string, TrajectoryRecord>;
}

/** The root's id in every seed's tree (src/domain/tree.ts names nodes `d<depth>_t<index>_b<branch>`). */
const ROOT_ID = 'd0_t0_b0';

/** A tree from the selected paths alone (results written before `tree` existed): the root, then the paths' nodes. */
export function treeFromPaths(trajectories: readonly TrajectoryRecord[]): CompactNode[] {
  const nodes = new Map<string, CompactNode>();
  for (const t of trajectories) {
    for (const n of t.nodes) {
      if (n.parent_id && !nodes.has(n.parent_id) && n.depth === 1) {
        nodes.set(n.parent_id, { node_id: n.parent_id, parent_id: null, depth: 0, tool_name: '', intent: 'Start exploration', outcome: 'ok' });
      }
      if (!nodes.has(n.node_id)) {
        nodes.set(n.node_id, {
          node_id: n.node_id,
          parent_id: n.parent_id,
          depth: n.depth,
          tool_name: n.action?.tool_name ?? '',
          intent: (n.intent ?? '').slice(0, 120),
          outcome: n.is_error ? 'error' : 'ok',
        });
      }
    }
  }
  return [...nodes.values()].sort((a, b) => a.depth - b.depth);
}

/** The seed's view: its tree (whole, from paths, or none) and the selected node ids. */
export function seedView(source_id: string, text: string, index: number, result: SeedResultFile | null): SeedView {
  const trajectories = result?.trajectories ?? [];
  const selected = new Set<string>();
  for (const t of trajectories) {
    for (const n of t.nodes) selected.add(n.node_id);
    if (t.nodes.length) selected.add(ROOT_ID);
  }
  if (result?.tree?.length) return { source_id, text, index, result, tree: result.tree, tree_source: 'tree', selected };
  if (trajectories.length) return { source_id, text, index, result, tree: treeFromPaths(trajectories), tree_source: 'paths', selected };
  return { source_id, text, index, result, tree: [], tree_source: 'none', selected };
}

/**
 * Reads the run folder into a RunData (see the module comment). With `onlySource`, only that seed and its QA are
 * kept (the other seeds' result files are not read): what `qasynth show <run> <id>` needs.
 */
export async function loadRunData(run: RunFolder, onlySource?: string): Promise<RunData> {
  const seeds: SeedView[] = [];
  const trajectories = new Map<string, TrajectoryRecord>();
  const wanted = (sourceId: string) => onlySource === undefined || sourceId === onlySource;
  let index = 0;
  for await (const seed of runSeeds(run)) {
    const i = index++;
    if (!wanted(seed.source_id)) continue;
    const result = readSeedResultFile(run, seed.source_id);
    for (const t of result?.trajectories ?? []) trajectories.set(t.trajectory_id, t);
    seeds.push(seedView(seed.source_id, seed.text || result?.seed_data || '', i, result));
  }
  const kept: QaRecord[] = [];
  for await (const qa of keptQas(run)) if (wanted(qa.source_id)) kept.push(qa);
  const rejected: RejectedQaRecord[] = [];
  for await (const qa of rejectedQas(run)) if (wanted(qa.source_id)) rejected.push(qa);
  return { run, seeds, kept, rejected, trajectories };
}

/** The seed a qa_id or trajectory_id belongs to (`<source_id>_traj_<n>[_qa_<rank>]`, src/domain/ids.ts), else the id itself. */
export function sourceIdOf(id: string): string {
  return id.replace(/_traj_\d+(_qa_\d+)?$/, '');
}

/** One step of a QA's path for display: from its trajectory (full observation) or its evidence (excerpt). */
export type QaStep = AgentStep;

/** The steps of a QA's path (trajectory nodes with an action, else evidence steps, else none): as the export reads them. */
export function qaSteps(qa: QaRecord, trajectory: TrajectoryRecord | undefined): QaStep[] {
  return agentSteps(qa, trajectory ?? null).steps;
}

/** Every source of a QA: evidence.sources, else the union of its steps' sources, in path order. */
export function qaSources(qa: QaRecord, steps: readonly QaStep[]): string[] {
  if (qa.evidence?.sources?.length) return qa.evidence.sources;
  return [...new Set(steps.flatMap((s) => s.sources))];
}
