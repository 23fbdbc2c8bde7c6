/**
 * Limits a run can hit, checked before anything is paid. Each check names the limit it protects and the fix.
 *
 * A value that passes validation must not run into a server limit later: a seed workflow whose history outgrows
 * Temporal's limit is terminated by the server after it has paid for hundreds of calls; a parent with more
 * pending children than the server allows fails its workflow task forever. Pure; used by the config schema (so
 * the CLI and the workflows refuse alike) and by `--dry-run`.
 */
import { SOLVER_OBSERVATION_CHARS } from './verification';
import { llmRoute } from './routing';
import type { SynthesisConfig } from '../shared/types';
import { expectedTreeSize } from './tree';
import { ACTION_HISTORY_OBSERVATION_CHARS, QA_OBSERVATION_CHARS } from './prompts';

/**
 * The Temporal server's default limits (docs.temporal.io/workflow-execution/limits, and the dynamic config keys
 * that change them). A self-hosted cluster may set other values; these are what a new user meets.
 */
export const TEMPORAL_LIMITS = {
  /** `limit.historyCount.error`: events in one workflow execution's history. */
  historyEvents: 51_200,
  /** `limit.historySize.error`: bytes of one workflow execution's history. */
  historyBytes: 50 * 1024 * 1024,
  /** `limit.blobSize.error`: bytes of one payload (an activity's input or result, a workflow input). */
  payloadBytes: 2 * 1024 * 1024,
  /** `limit.numPendingChildExecutions.error`: child workflows of one execution not yet closed. */
  pendingChildren: 2_000,
} as const;

/**
 * Sizes of what one call puts into a history. The history estimate uses expected sizes (generous: twice a mode's
 * typical observation, 1.5 attempts per call), the payload check the worst case (the caps of
 * src/shared/constants.ts and the seed length limit). A run that outgrows its history anyway is terminated by the
 * server and reported as `HistoryLimit`, with the calls it made (src/activities/inspect.ts).
 */
const SIZES = {
  /** An observation at its cap (MAX_OBSERVATION_CHARS), as UTF-8 bytes with JSON escaping (×1.5). */
  maxObservationBytes: 8000 * 1.5,
  /** A seed at the seed length limit (20,000 characters), and a typical one. */
  maxSeedBytes: 20_000 * 1.5,
  typicalSeedBytes: 2_000,
  /** One signature in the executed-actions list shown to the model (at most 40). */
  executedActionBytes: 200,
  /** Tool schemas, prompt scaffolding and event overhead per call. */
  fixedBytes: 4_000,
  /** A history step beside its (truncated) observation: intent, tool, arguments. */
  stepBytes: 600,
  /** A stored answer: an action, or a QA with its reasoning steps. */
  actionAnswerBytes: 1_000,
  qaAnswerBytes: 6_000,
  /** Attempts per call, on average, when the model sometimes answers badly. */
  attempts: 1.5,
} as const;

/** A mode's typical observation (characters): what --dry-run assumes (src/domain/estimate.ts). */
const TYPICAL_OBSERVATION_CHARS: Record<SynthesisConfig['environment_mode'], number> = { web: 2500, math: 200, python: 300, rag: 1800 };

/**
 * History events per tree node for each attempt of its action choice: an activity (scheduled, started,
 * completed) and the workflow task that follows it (scheduled, started, completed).
 */
const EVENTS_PER_ACTIVITY_CALL = 6;
/**
 * Seconds a workflow task that local activities keep open lasts before the SDK completes it and asks for another
 * (80 % of the default 10 s workflow task timeout; sdk-core's workflow task heartbeat).
 */
const WORKFLOW_TASK_HEARTBEAT_SECONDS = 8;

/**
 * History events per attempt of an LLM call that runs as a local activity (config `local_llm`), worst case: its
 * marker, a workflow task (3 events) for every WORKFLOW_TASK_HEARTBEAT_SECONDS the call may last
 * (llm_timeout_seconds), and a timer with its workflow task (5) for a retry backoff too long to wait in the worker.
 * A call shorter than that costs 1 event plus a share of one workflow task.
 */
export function localLlmEventsPerCall(llmTimeoutSeconds: number): number {
  return 1 + 3 * Math.ceil(llmTimeoutSeconds / WORKFLOW_TASK_HEARTBEAT_SECONDS) + 5;
}

/** The node's tool: a local-activity marker, or an activity and its workflow task (network tools). */
const EVENTS_PER_LOCAL_TOOL = 1;
const EVENTS_PER_REMOTE_TOOL = 6;

export interface SeedHistoryEstimate {
  /** Nodes of the tree without failures (the original's formula). */
  nodes: number;
  /** QA calls (selected paths). */
  qa_paths: number;
  /** Events of one seed workflow's history if every action and QA needs all max_retries attempts. */
  worst_events: number;
  /** Bytes of one seed workflow's history, expected (see SIZES). */
  expected_bytes: number;
  /** The largest single payload a seed may send (the deepest action choice, or a QA call), worst case. */
  largest_payload_bytes: number;
  /** Whether the LLM calls run as local activities (config `local_llm`; counted with localLlmEventsPerCall). */
  local_llm: boolean;
}

/** What one seed workflow's history may grow to. Saturates instead of overflowing on huge trees. */
export function seedHistoryEstimate(
  config: Pick<SynthesisConfig, 'max_depth' | 'branching_factor' | 'depth_threshold' | 'max_retries' | 'min_depth' | 'max_selected_traj' | 'environment_mode' | 'local_tools' | 'sampling_tips' | 'synthesis_tips' | 'qa_examples'> &
    Partial<Pick<SynthesisConfig, 'verification' | 'local_llm' | 'llm_timeout_seconds' | 'cache' | 'task_queues' | 'rate_limits'>>,
): SeedHistoryEstimate {
  const D = config.max_depth;
  const b = config.branching_factor;
  const t = config.depth_threshold;
  const { nodes, leaves } = expectedTreeSize(D, b, t);
  const qaPaths = D >= config.min_depth ? Math.min(leaves, config.max_selected_traj) : 0;
  const localTools = config.local_tools !== false && config.environment_mode !== 'web';
  const localLlm = llmRoute({ ...config, rate_limits: config.rate_limits ?? {} }, 'q').kind === 'local';
  const EVENTS_PER_CALL = localLlm ? localLlmEventsPerCall(config.llm_timeout_seconds ?? 300) : EVENTS_PER_ACTIVITY_CALL;
  const examples = (n: number) => config.qa_examples.slice(0, n).reduce((c, e) => c + (e.question.length + e.answer.length + (e.reasoning?.length ?? 0)) * 1.5, 0);
  const observation = Math.min(SIZES.maxObservationBytes, 2 * TYPICAL_OBSERVATION_CHARS[config.environment_mode] * 1.5);
  const executed = Math.min(Number.isFinite(nodes) ? nodes : 40, 40) * SIZES.executedActionBytes;
  const actionFixed = SIZES.fixedBytes + config.sampling_tips.length * 1.5 + examples(2) + executed;
  const historyStep = SIZES.stepBytes + ACTION_HISTORY_OBSERVATION_CHARS * 1.5;
  // The input of the call that creates a node at depth k carries k − 1 (truncated) history steps and the parent's
  // observation; each attempt stores its input and answer; the node stores its tool call and observation once.
  const A = SIZES.attempts;
  const perNode = (k: number) => A * (actionFixed + SIZES.typicalSeedBytes + (k - 1) * historyStep + observation + SIZES.actionAnswerBytes) + observation + SIZES.stepBytes;
  let bytes = 0;
  const top = Math.min(D, t);
  for (let k = 1; k <= top && Number.isFinite(bytes); k++) bytes += b ** k * perNode(k);
  if (D > t) {
    // Below depth_threshold every level has b^t nodes: sum the tail in closed form (Σ_{k=t+1..D} (k − 1)).
    const levels = D - t;
    const sumDepths = ((D - 1) * D) / 2 - ((t - 1) * t) / 2;
    bytes += b ** t * (levels * perNode(1) + A * historyStep * sumDepths);
  }
  const qaInput = (steps: number, seed: number, obs: number) =>
    SIZES.fixedBytes + seed + config.synthesis_tips.length * 1.5 + examples(config.qa_examples.length) + steps * (Math.min(obs, QA_OBSERVATION_CHARS * 1.5) + SIZES.stepBytes);
  bytes += qaPaths * A * (qaInput(D, SIZES.typicalSeedBytes, observation) + SIZES.qaAnswerBytes);
  const largestAction = actionFixed + SIZES.maxSeedBytes + Math.max(0, D - 1) * historyStep + SIZES.maxObservationBytes;
  const largestPayload = Math.max(largestAction, qaInput(D, SIZES.maxSeedBytes, SIZES.maxObservationBytes));
  // Verification (when on), per QA: k baseline calls, each solver attempt's steps (LLM call + tool call, the
  // input carrying the earlier steps' observations), and at most one judge call per answer.
  const v = config.verification?.enabled ? config.verification : null;
  let verifyEvents = 0;
  if (v) {
    const calls = v.baseline_attempts + v.solver_attempts * v.solver_max_steps + v.baseline_attempts + v.solver_attempts;
    const tools = v.solver_attempts * Math.max(0, v.solver_max_steps - 1);
    verifyEvents = qaPaths * (calls * EVENTS_PER_CALL + tools * (localTools ? EVENTS_PER_LOCAL_TOOL : EVENTS_PER_REMOTE_TOOL));
    const solverObs = Math.min(observation, SOLVER_OBSERVATION_CHARS * 1.5) + SIZES.stepBytes;
    const perAttempt = v.solver_max_steps * SIZES.fixedBytes + ((v.solver_max_steps * (v.solver_max_steps - 1)) / 2) * solverObs + (v.solver_max_steps - 1) * observation;
    bytes += qaPaths * (calls * SIZES.fixedBytes + v.solver_attempts * perAttempt);
  }
  const events =
    nodes * (config.max_retries * EVENTS_PER_CALL + (localTools ? EVENTS_PER_LOCAL_TOOL : EVENTS_PER_REMOTE_TOOL)) +
    qaPaths * config.max_retries * EVENTS_PER_CALL +
    verifyEvents +
    20;
  return { nodes, qa_paths: qaPaths, worst_events: events, expected_bytes: Math.round(bytes), largest_payload_bytes: Math.round(largestPayload), local_llm: localLlm };
}

/** Share of a history limit the estimate may use: the rest is margin for what the estimate does not see. */
const HISTORY_MARGIN = 0.8;

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'an unbounded number of');

/**
 * Config values that would run into a Temporal limit, as `{path, message}` (message in the schema's "expected X"
 * style, naming the limit and the fix); empty when the config fits.
 */
export function limitIssues(config: Parameters<typeof seedHistoryEstimate>[0] & Pick<SynthesisConfig, 'max_workers'>): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (config.max_workers > TEMPORAL_LIMITS.pendingChildren) {
    out.push({
      path: ['max_workers'],
      message:
        `expected at most ${n(TEMPORAL_LIMITS.pendingChildren)}: each running seed is a child workflow, and the Temporal ` +
        `server allows ${n(TEMPORAL_LIMITS.pendingChildren)} pending children per workflow (limit.numPendingChildExecutions.error); ` +
        'for more parallelism run several batches',
    });
  }
  const e = seedHistoryEstimate(config);
  const tree = `a tree of ${n(e.nodes)} nodes (max_depth ${config.max_depth}, branching_factor ${config.branching_factor}, depth_threshold ${config.depth_threshold})`;
  const fix =
    'lower max_depth, branching_factor or depth_threshold (or max_retries' +
    (config.verification?.enabled ? ", or verification's baseline_attempts, solver_attempts and solver_max_steps)" : ')');
  if (e.worst_events > TEMPORAL_LIMITS.historyEvents) {
    out.push({
      path: ['max_depth'],
      message:
        `expected a tree whose seed workflow fits Temporal's history limit of ${n(TEMPORAL_LIMITS.historyEvents)} events ` +
        `(limit.historyCount.error): ${tree} may need ${n(e.worst_events)}; ${fix}` +
        (e.local_llm
          ? `, or set local_llm: false or a lower llm_timeout_seconds (a local LLM call may hold a workflow task for its whole ${config.llm_timeout_seconds ?? 300} s, ${localLlmEventsPerCall(config.llm_timeout_seconds ?? 300)} events)`
          : ''),
    });
  } else if (e.expected_bytes > TEMPORAL_LIMITS.historyBytes * HISTORY_MARGIN) {
    out.push({
      path: ['max_depth'],
      message:
        `expected a tree whose seed workflow fits Temporal's history limit of 50 MB (limit.historySize.error): ${tree} is ` +
        `expected to need ${n(e.expected_bytes / 1024 / 1024)} MB; ${fix}`,
    });
  } else if (e.largest_payload_bytes > TEMPORAL_LIMITS.payloadBytes) {
    out.push({
      path: ['max_depth'],
      message:
        `expected calls that fit Temporal's payload limit of 2 MB (limit.blobSize.error): at depth ${config.max_depth} one ` +
        `call may carry ${n(e.largest_payload_bytes / 1024)} KB; lower max_depth, or shorten qa_examples and the tips`,
    });
  }
  return out;
}

/**
 * Runs a person almost certainly did not mean: more than this many nodes per seed, or more LLM calls in all.
 * They are refused unless forced (`--force`, or `"force": true` in the workflow input).
 */
export const ABSURD = { nodesPerSeed: 1_000, totalLlmCalls: 100_000_000 } as const;

/** Why a run is absurd (a sentence naming the figure and how to go on), or null. */
export function absurdRun(config: Pick<SynthesisConfig, 'max_depth' | 'branching_factor' | 'depth_threshold' | 'min_depth' | 'max_selected_traj'>, seeds: number): string | null {
  const { nodes, leaves } = expectedTreeSize(config.max_depth, config.branching_factor, config.depth_threshold);
  const qa = config.max_depth >= config.min_depth ? Math.min(leaves, config.max_selected_traj) : 0;
  const total = (nodes + qa) * seeds;
  if (nodes > ABSURD.nodesPerSeed) {
    return `each seed's tree would have ${n(nodes)} nodes (more than ${n(ABSURD.nodesPerSeed)}): ${n(total)} LLM calls in all. ` +
      'If that is really meant, pass --force (or "force": true in the workflow input); check it first with --dry-run';
  }
  if (total > ABSURD.totalLlmCalls) {
    return `the run would make about ${n(total)} LLM calls (more than ${n(ABSURD.totalLlmCalls)}). If that is really meant, ` +
      'pass --force (or "force": true in the workflow input); check it first with --dry-run, and consider a budget';
  }
  return null;
}
