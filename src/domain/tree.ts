/**
 * The original's trajectory-tree sampler (spec §1.4) as a pure async driver. The LLM call and the tool call
 * are injected, so a workflow can pass activity proxies and a test can pass fakes. Workflow-safe.
 *
 * Expansion is recursive depth-first and strictly sequential (each effect is awaited before the next one
 * starts), so the node ids and the order of effects are deterministic for a given sequence of results.
 */
import type { ChooseActionResult, Observation, PathStep, SynthesisConfig, ToolAction, TreeNode } from '../shared/types';
import { samplingSeedFor } from './ids';
import { canonicalJson } from './format';

export const ROOT_NODE_ID = 'd0_t0_b0';

/** A counting semaphore without timers (workflow-safe): `acquire` resolves with the release function. */
export class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          const next = this.waiting.shift();
          if (next) next();
          else this.free += 1;
        });
      };
      if (this.free > 0) {
        this.free -= 1;
        grant();
      } else this.waiting.push(grant);
    });
  }
}
export const ROOT_INTENT = 'Start exploration';

export interface ChooseActionRequest {
  /** Root → current, excluding the root and the current node. */
  history: PathStep[];
  current: TreeNode;
  branch: number;
  /**
   * Branch indices from the root to the node this call creates, dot-separated (`0.1.0`); unlike node ids it does
   * not depend on the order concurrent branches finish in (the call's place, src/domain/ids.ts actionCallPlace).
   */
  branchPath: string;
  /** 0-based attempt number within this action slot. */
  attempt: number;
  temperature: number;
  samplingSeed: number;
  /** Signatures of actions already run in this seed (newest last, at most MAX_EXECUTED_SHOWN). */
  executedActions: string[];
}

export interface TreeSamplerDeps {
  chooseAction(req: ChooseActionRequest): Promise<ChooseActionResult>;
  runTool(action: ToolAction, node: { depth: number; branch: number }): Promise<Observation>;
  /** Progress hook, called synchronously after each node (root included) is created. */
  onNode?(node: TreeNode, totalNodes: number): void;
  /** Checked before every action choice; true stops the whole expansion (e.g. the budget is spent). */
  shouldStop?(): boolean;
}

export type TreeSamplerConfig = Pick<
  SynthesisConfig,
  'max_depth' | 'branching_factor' | 'depth_threshold' | 'max_retries' | 'seed_description'
>;

export interface SampledTree {
  /** Creation order, root first. */
  nodes: TreeNode[];
  /** chooseAction calls made (successful or not). */
  llm_calls: number;
  /** HTTP requests those calls took (retries and capability fallbacks included; ≥ llm_calls). */
  llm_requests: number;
  /** Calls whose token usage was estimated (the server reported none). */
  usage_estimated_calls: number;
  /** chooseAction results with ok:false. */
  llm_failed_outputs: number;
  /** Reason key → count, over all failed chooseAction results (see reasonKey). */
  failed_output_reasons: Record<string, number>;
  /** The full text of the most recent failed chooseAction reason (what the model got wrong), or null. */
  last_failed_reason: string | null;
  input_tokens: number;
  output_tokens: number;
  /** Reason key of the last failed attempt → number of branches skipped for it. */
  skipped_branches: Record<string, number>;
  /** Tool name → executions. */
  tool_calls: Record<string, number>;
  /** Tool name → executions whose observation was flagged as an error. */
  tool_errors: Record<string, number>;
  /** Actions refused because the same tool with the same arguments already ran in this seed. */
  duplicate_actions: number;
  /** True when `shouldStop` ended the expansion early: the tree is partial. */
  stopped: boolean;
}

/** How many earlier actions the model is shown as "already done" (the original's later version used 40). */
export const MAX_EXECUTED_SHOWN = 40;

/** Identity of an action for de-duplication: tool name + canonical JSON of its arguments. */
export function actionSignature(action: ToolAction): string {
  return `${action.tool_name} ${canonicalJson(action.parameters)}`;
}

/** The observation of a refused duplicate action: says what happened and where the earlier result is. */
export function duplicateObservation(action: ToolAction, earlierNodeId: string): string {
  return (
    `[Refused] ${action.tool_name} was already called with exactly these arguments in this exploration ` +
    `(node ${earlierNodeId}); repeating it would return the same result. Choose a different tool call.`
  );
}

/**
 * The stable statistics key of a reason: the text before the first colon (`unknown_tool: foo` → `unknown_tool`).
 * Details after the colon vary (tool names, parser messages) and would explode the key space.
 */
export function reasonKey(reason: string): string {
  const i = reason.indexOf(':');
  const key = (i === -1 ? reason : reason.slice(0, i)).trim();
  return key || 'unknown';
}

/** Temperature of attempt n (0-based): 0.7 + 0.1·n, rounded to one decimal (no 0.7999999). */
export function actionTemperature(attempt: number): number {
  return Math.round((0.7 + 0.1 * attempt) * 10) / 10;
}

/** Root observation, as the original. */
export function rootObservation(seedText: string, seedDescription: string): string {
  return seedDescription ? `Starting point (${seedDescription}): ${seedText}` : `Starting point: ${seedText}`;
}

/**
 * Tree size without failures: N = Σ_{k=1..D} b^min(k,t) non-root nodes, L = b^min(t,D) leaves (all at depth D).
 * Computed in O(min(D, t)) steps (every level below t has b^t nodes), saturating at Infinity for absurd trees
 * (max_depth 1,000,000, branching_factor 1,000) instead of looping or overflowing.
 */
export function expectedTreeSize(maxDepth: number, branching: number, threshold: number): { nodes: number; leaves: number } {
  const top = Math.min(maxDepth, threshold);
  let nodes = 0;
  for (let k = 1; k <= top; k++) {
    nodes += branching ** k;
    if (!Number.isFinite(nodes)) return { nodes: Infinity, leaves: Infinity };
    if (branching === 1) {
      nodes = top;
      break;
    }
  }
  const leaves = branching ** top;
  nodes += Math.max(0, maxDepth - threshold) * leaves;
  return { nodes, leaves };
}

function inc(rec: Record<string, number>, key: string, by = 1): void {
  rec[key] = (rec[key] ?? 0) + by;
}

function stepOf(node: TreeNode): PathStep {
  return {
    intent: node.intent,
    tool_name: node.action?.tool_name ?? '',
    parameters: node.action?.parameters ?? {},
    observation: node.observation,
  };
}

/**
 * Samples one seed's tree. `concurrency` (config `explore_concurrency`, default 1) is how many node creations
 * (action choice + tool call) may be in flight at once: 1 is the original's depth-first order, one effect at a
 * time; more explores sibling subtrees at once, with the same node counts (the formula above) and the same
 * seed-wide de-duplication of actions. Deterministic for a given order of results (a workflow replays it).
 */
export async function sampleTree(opts: {
  config: TreeSamplerConfig;
  seedText: string;
  sourceId: string;
  deps: TreeSamplerDeps;
  concurrency?: number;
}): Promise<SampledTree> {
  const { config, seedText, sourceId, deps } = opts;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
  const out: SampledTree = {
    nodes: [],
    llm_calls: 0,
    llm_requests: 0,
    usage_estimated_calls: 0,
    llm_failed_outputs: 0,
    failed_output_reasons: {},
    last_failed_reason: null,
    input_tokens: 0,
    output_tokens: 0,
    skipped_branches: {},
    tool_calls: {},
    tool_errors: {},
    duplicate_actions: 0,
    stopped: false,
  };
  /** Signature → node that ran it (seed-wide, across branches). */
  const executed = new Map<string, string>();
  const root: TreeNode = {
    node_id: ROOT_NODE_ID,
    observation: rootObservation(seedText, config.seed_description),
    intent: ROOT_INTENT,
    action: null,
    parent_id: null,
    children_ids: [],
    depth: 0,
  };
  out.nodes.push(root);
  deps.onNode?.(root, out.nodes.length);

  /** Creation index of the next node (`t` in its id), taken when the node's action is chosen. */
  let created = 1;
  /** Node id → branch path from the root (ChooseActionRequest.branchPath); the root's is empty. */
  const branchPaths = new Map<string, string>([[root.node_id, '']]);
  const slots = concurrency > 1 ? new Semaphore(concurrency) : null;

  const expand = async (current: TreeNode, history: PathStep[]): Promise<void> => {
    const d = current.depth;
    if (d >= config.max_depth) return;
    const branches = d < config.depth_threshold ? config.branching_factor : 1;
    if (!slots) {
      // The original's order: depth first, one effect at a time.
      for (let branch = 0; branch < branches; branch++) {
        await grow(current, history, branch);
        if (out.stopped) return;
      }
      return;
    }
    // Sibling subtrees at once; at most `concurrency` node creations (LLM + tool call) in flight seed-wide.
    await Promise.all(Array.from({ length: branches }, (_, branch) => grow(current, history, branch)));
  };

  /** Creates the `branch`-th child of `current` (bounded re-sampling of the action, then the tool), then its subtree. */
  const grow = async (current: TreeNode, history: PathStep[], branch: number): Promise<void> => {
    const d = current.depth;
    const parentPath = branchPaths.get(current.node_id) ?? '';
    const branchPath = parentPath ? `${parentPath}.${branch}` : String(branch);
    const release = slots ? await slots.acquire() : () => {};
    let child: TreeNode | null = null;
    try {
      let chosen: { intent: string; action: ToolAction; observation?: Observation } | null = null;
      let lastReason = 'no_attempt';
      for (let attempt = 0; attempt < config.max_retries; attempt++) {
        if (out.stopped || deps.shouldStop?.()) {
          out.stopped = true;
          return;
        }
        const result = await deps.chooseAction({
          history,
          current,
          branch,
          branchPath,
          attempt,
          temperature: actionTemperature(attempt),
          samplingSeed: samplingSeedFor(sourceId, current.node_id, branch, attempt),
          executedActions: [...executed.keys()].slice(-MAX_EXECUTED_SHOWN),
        });
        out.llm_calls += 1;
        out.llm_requests += result.requests ?? 1;
        if (result.usage_estimated) out.usage_estimated_calls += 1;
        out.input_tokens += result.usage?.input_tokens ?? 0;
        out.output_tokens += result.usage?.output_tokens ?? 0;
        if (result.ok) {
          chosen = { intent: result.intent, action: result.action, ...(result.observation ? { observation: result.observation } : {}) };
          break;
        }
        out.llm_failed_outputs += 1;
        lastReason = result.reason;
        out.last_failed_reason = result.reason;
        inc(out.failed_output_reasons, reasonKey(result.reason));
        // The prompt does not fit the context window: re-sampling the same prompt cannot help.
        if (reasonKey(result.reason) === 'context_overflow') break;
      }
      if (!chosen) {
        inc(out.skipped_branches, reasonKey(lastReason));
        return;
      }
      const nodeId = `d${d + 1}_t${created++}_b${branch}`;
      branchPaths.set(nodeId, branchPath);
      const signature = actionSignature(chosen.action);
      const earlier = executed.get(signature);
      let obs: Observation;
      if (earlier) {
        // Same tool, same arguments, same seed: refuse instead of paying for the same result again.
        out.duplicate_actions += 1;
        obs = { text: duplicateObservation(chosen.action, earlier), error: true };
      } else {
        executed.set(signature, nodeId);
        // An in-call tool's result came with the action (src/domain/routing.ts IN_CALL_TOOLS); else its activity.
        obs = chosen.observation ?? (await deps.runTool(chosen.action, { depth: d + 1, branch }));
        inc(out.tool_calls, chosen.action.tool_name);
        if (obs.error) inc(out.tool_errors, chosen.action.tool_name);
      }
      child = {
        node_id: nodeId,
        observation: obs.text,
        intent: chosen.intent,
        action: chosen.action,
        parent_id: current.node_id,
        children_ids: [],
        depth: d + 1,
        is_error: !!obs.error,
        ...(obs.sources?.length ? { sources: obs.sources } : {}),
      };
      out.nodes.push(child);
      current.children_ids.push(child.node_id);
      deps.onNode?.(child, out.nodes.length);
    } finally {
      release();
    }
    await expand(child, current.parent_id === null ? [] : [...history, stepOf(current)]);
  };

  await expand(root, []);
  return out;
}
