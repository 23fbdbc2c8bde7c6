/** Output records, key order compatible with the original (spec §3). Workflow-safe. */
import type { EnvironmentMode, QaRecord, TrajectoryRecord, TreeNode, CompactNode, EvidenceStep, QaEvidence } from '../shared/types';
import type { SelectedPath } from './selection';

export function buildQaRecord(args: {
  question: string;
  answer: string;
  reasoning_steps: unknown[];
  trajectory_id: string;
  source_id: string;
  qa_id: string;
  seed_data: string;
  seed_description: string;
  trajectory_depth: number;
  /** ISO timestamp, passed in (workflow time), never read from a clock here. */
  synthesis_date: string;
  environment_mode: EnvironmentMode;
  /** QA-synthesis attempts used for this record (HEAD's `qa_synthesis_attempts`). */
  attempts: number;
  /**
   * Why the earlier attempts were rejected, one reason per attempt (e.g. `answer_in_question: …`, `ungrounded: …`):
   * written as `metadata.qa_rejections` after `qa_synthesis_attempts`, only when there were any.
   */
  rejections?: string[];
}): QaRecord {
  return {
    question: args.question,
    answer: args.answer,
    trajectory_id: args.trajectory_id,
    reasoning_steps: args.reasoning_steps,
    source_id: args.source_id,
    qa_id: args.qa_id,
    metadata: {
      seed_data: args.seed_data,
      seed_description: args.seed_description,
      trajectory_depth: args.trajectory_depth,
      synthesis_date: args.synthesis_date,
      environment_mode: args.environment_mode,
      qa_synthesis_attempts: args.attempts,
      ...(args.rejections?.length ? { qa_rejections: [...args.rejections] } : {}),
    },
  };
}

/** A node in the original's field order (plus `is_error` and `sources` when set). */
export function nodeRecord(n: TreeNode): TreeNode {
  const out: TreeNode = {
    node_id: n.node_id,
    observation: n.observation,
    intent: n.intent,
    action: n.action ? { tool_name: n.action.tool_name, parameters: n.action.parameters } : null,
    parent_id: n.parent_id,
    children_ids: [...n.children_ids],
    depth: n.depth,
  };
  if (n.is_error !== undefined) out.is_error = n.is_error;
  if (n.sources?.length) out.sources = [...n.sources];
  return out;
}

export function buildTrajectoryRecord(sel: SelectedPath, source_id: string, seed_data: string): TrajectoryRecord {
  return {
    trajectory_id: sel.trajectory_id,
    source_id,
    seed_data,
    total_depth: sel.path.length,
    nodes: sel.path.map(nodeRecord),
    score: sel.score,
  };
}

/** A tree node as kept for reports (see CompactNode): what draws the tree, no observation. */
export function compactNode(n: TreeNode): CompactNode {
  return {
    node_id: n.node_id,
    parent_id: n.parent_id,
    depth: n.depth,
    tool_name: n.action?.tool_name ?? '',
    intent: n.intent.length > 120 ? `${n.intent.slice(0, 119)}…` : n.intent,
    outcome: n.is_error ? (n.observation.startsWith('[Refused]') ? 'refused' : 'error') : 'ok',
  };
}

/** Most characters of an observation kept in a QA's evidence. */
export const EVIDENCE_EXCERPT_CHARS = 500;

/**
 * The evidence of a QA written from `path` (root excluded): each tool call with its sources and the start of its
 * observation, and all sources in path order. `grounding` is set by the grounding check.
 */
export function buildEvidence(path: readonly TreeNode[], grounding: QaEvidence['grounding'] = null): QaEvidence {
  const steps: EvidenceStep[] = path.map((n) => ({
    node_id: n.node_id,
    tool_name: n.action?.tool_name ?? '',
    parameters: n.action?.parameters ?? {},
    sources: [...(n.sources ?? [])],
    observation_excerpt: n.observation.length > EVIDENCE_EXCERPT_CHARS ? `${n.observation.slice(0, EVIDENCE_EXCERPT_CHARS - 1)}…` : n.observation,
    is_error: !!n.is_error,
  }));
  return { steps, sources: [...new Set(steps.flatMap((s) => s.sources))], grounding };
}
