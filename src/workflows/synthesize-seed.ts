/**
 * `synthesizeSeed`: one seed, start to finish — tree sampling (one activity per action choice and per tool
 * call), selection (pure code), one QA synthesis activity per selected path, then a durable result file.
 * A finished seed is never paid for twice: its result file is checked first.
 */
import {
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LlmActivities } from '../activities/llm';
import type { ToolActivities } from '../activities/tools';
import type { OutputActivities } from '../activities/outputs';
import { MODE_TOOLS, taskQueues, toolTaskQueue } from '../shared/constants';
import { StatusAttr } from '../shared/search-attributes';
import type { LlmCallAccounting, QaRecord, RejectedQaRecord, SeedCounters, SeedInput, SeedResultFile, SeedSummary, SynthesisConfig } from '../shared/types';
import { callCost, emptySpend, mayCall, qaReserve } from '../domain/budget';
import { withConfigDefaults } from '../config/defaults';
import { truncate } from '../domain/format';
import { ACTION_HISTORY_OBSERVATION_CHARS, QA_OBSERVATION_CHARS } from '../domain/prompts';
import { sampleTree } from '../domain/tree';
import { selectTrajectories } from '../domain/selection';
import { buildEvidence, buildQaRecord, buildTrajectoryRecord, compactNode } from '../domain/records';
import { emptySeedCounters } from '../domain/statistics';
import { validateQa } from '../domain/validate';
import { groundAnswer, ungroundedReason, type Grounding } from '../domain/grounding';
import { qaId } from '../domain/ids';
import { seedFinishedSignal, seedStoppedSignal } from './messages';
import { HEARTBEAT_TIMEOUT_SECONDS, LLM_ACTIVITY, LOCAL_TOOL_ACTIVITY, OUTPUT_ACTIVITY, TOOL_ACTIVITY } from './options';
import { llmRoute, toolRoute } from '../domain/routing';

/** Patch id: executions with this marker route activities as src/domain/routing.ts says. */
const PATCH_ROUTING = 'qasynth-routing-v2';

/**
 * Patch id: executions with this marker check that each QA's answer is grounded in its path (config `grounding`),
 * which may cost another QA attempt. Executions recorded before it replay without the check.
 */
const PATCH_GROUNDING = 'qasynth-grounding';

/**
 * Activity proxies for this seed. Executions that started before the routing of src/domain/routing.ts (their
 * histories have no `qasynth-routing-v2` marker) keep the dedicated queues they started with.
 */
function proxies(config: SynthesisConfig) {
  const base = workflowInfo().taskQueue;
  const q = taskQueues(base);
  const routed = patched(PATCH_ROUTING);
  const llmQueue = routed ? (llmRoute(config, base) as { taskQueue: string }).taskQueue : q.llm;
  const toolProxies = new Map<string, ToolActivities>();
  return {
    llm: proxyActivities<LlmActivities>({
      ...LLM_ACTIVITY,
      startToCloseTimeout: `${config.llm_timeout_seconds} seconds`,
      heartbeatTimeout: `${Math.min(HEARTBEAT_TIMEOUT_SECONDS, config.llm_timeout_seconds)} seconds`,
      taskQueue: llmQueue,
    }),
    /** A tool's activity: local, on the workflow's queue, or on the tool's own queue (see routing.ts). */
    tool: (name: string): ToolActivities => {
      let p = toolProxies.get(name);
      if (!p) {
        const route = routed ? toolRoute(config, base, name) : { kind: 'activity' as const, taskQueue: toolTaskQueue(base, name) };
        p =
          route.kind === 'local'
            ? proxyLocalActivities<ToolActivities>({ ...LOCAL_TOOL_ACTIVITY, startToCloseTimeout: `${config.tool_timeout_seconds} seconds` })
            : proxyActivities<ToolActivities>({
                ...TOOL_ACTIVITY,
                startToCloseTimeout: `${config.tool_timeout_seconds} seconds`,
                heartbeatTimeout: `${Math.min(HEARTBEAT_TIMEOUT_SECONDS, config.tool_timeout_seconds)} seconds`,
                taskQueue: route.taskQueue,
              });
        toolProxies.set(name, p);
      }
      return p;
    },
    output: proxyActivities<OutputActivities>({ ...OUTPUT_ACTIVITY, taskQueue: q.output }),
  };
}

/**
 * What actually went wrong, for the user: the message of the first ApplicationFailure in the cause chain (the
 * classified error an activity threw, which names the fix: "LLM endpoint refused the credentials (HTTP 401) …
 * Fix: …"), not the wrappers around it ("Activity task failed") nor the raw HTTP error beneath it. Without an
 * ApplicationFailure (a timeout, a termination), the innermost message.
 */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let msg = e?.message || String(err);
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof ApplicationFailure && e.message) return e.message;
    if (e.message) msg = e.message;
    e = e.cause as typeof e;
  }
  return msg;
}

/**
 * The stable kind of a failure: the `type` of the first ApplicationFailure in the cause chain (`LlmAuth`,
 * `ToolAuth`, …), else the failure's class (`TimeoutFailure`, `TerminatedFailure`, …).
 */
export function failureType(err: unknown): string {
  let e = err as { name?: string; type?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof ApplicationFailure && typeof e.type === 'string' && e.type) return e.type;
    if (!e.cause) break;
    e = e.cause as typeof e;
  }
  return (err as { name?: string })?.name || 'Error';
}

/** HTTP requests an LLM activity reported in its failure's details (`provider_requests`), else 0. */
function failedCallRequests(err: unknown): number {
  let e = err as { details?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof ApplicationFailure) {
      for (const d of e.details ?? []) {
        const n = (d as { provider_requests?: unknown } | null)?.provider_requests;
        if (typeof n === 'number') return n;
      }
    }
    e = e.cause as typeof e;
  }
  return 0;
}

/** `reason ×n, reason ×m` of a count map, most frequent first. */
function countsText(rec: Record<string, number>): string {
  return Object.entries(rec)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * One seed, start to finish (see the module comment). Started by a sliding-window parent (`notify_parent`), it
 * reports its end to the parent by signal, by the parent's workflow id — the parent may have continued as new
 * since it started this seed — and, when cancelled, that it stopped.
 */
export async function synthesizeSeed(input: SeedInput): Promise<SeedSummary> {
  const parentId = input.notify_parent ? workflowInfo().parent?.workflowId : undefined;
  if (!parentId) return runSeed(input);
  /** A report that cannot be delivered (the parent is gone: terminated by a user) is not the seed's failure. */
  const report = async (send: () => Promise<void>) => {
    try {
      await send();
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
  };
  const parent = getExternalWorkflowHandle(parentId);
  try {
    const summary = await runSeed(input);
    await report(() => parent.signal(seedFinishedSignal, summary));
    return summary;
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => report(() => parent.signal(seedStoppedSignal, { source_id: input.seed.source_id })));
    }
    throw err;
  }
}

async function runSeed(input: SeedInput): Promise<SeedSummary> {
  const { seed, run_id, output_dir } = input;
  // Children started by an older version carry a config without keys added since (replayed histories):
  // complete it with their defaults. (The parent validated it; no zod here, see src/config/defaults.ts.)
  const config: SynthesisConfig = withConfigDefaults(input.config);
  const { llm, tool, output } = proxies(config);

  if (input.check_existing !== false) {
    const cached = await output.loadSeedResult({ run_id, output_dir, source_id: seed.source_id });
    if (cached) return { ...cached, cached: true };
  }

  const startedAt = new Date().toISOString();
  const counters: SeedCounters = emptySeedCounters();
  // Budget: every LLM call is charged here; no call starts once the seed's allowance is spent, and
  // exploration stops early enough to leave one QA attempt per path to select.
  const allowance = input.allowance ?? null;
  const spent = emptySpend();
  /** Every finished LLM call, counted as it happens (a seed that fails later still reports what it spent). */
  const charge = (model: string, r: LlmCallAccounting) => {
    const usage = r.usage;
    counters.llm_calls += 1;
    counters.llm_requests = (counters.llm_requests ?? 0) + (r.requests ?? 1);
    if (r.usage_estimated) counters.usage_estimated_calls = (counters.usage_estimated_calls ?? 0) + 1;
    counters.input_tokens += usage.input_tokens;
    counters.output_tokens += usage.output_tokens;
    spent.llm_calls += 1;
    spent.input_tokens += usage.input_tokens;
    spent.output_tokens += usage.output_tokens;
    spent.cost_usd += callCost(config.prices, model, usage);
  };
  const reserve = qaReserve(allowance, config.max_selected_traj, config.min_depth);
  let budgetHit = false;
  const toolNames = config.available_tools.length ? config.available_tools : [...MODE_TOOLS[config.environment_mode]];
  const qaModel = config.qa_model_name ?? config.model_name;
  const summaryModel =
    typeof config.environment_kwargs.web_visit_summary_model === 'string'
      ? config.environment_kwargs.web_visit_summary_model
      : config.model_name;
  const base: Omit<SeedResultFile, 'status' | 'finished_at' | 'qas' | 'trajectories'> = {
    run_id,
    source_id: seed.source_id,
    index: input.index,
    seed_data: seed.text,
    started_at: startedAt,
    counters,
  };

  let result: SeedResultFile;
  try {
    setCurrentDetails(`**exploring** \`${seed.source_id}\``);
    const tree = await sampleTree({
      config,
      concurrency: config.explore_concurrency,
      seedText: seed.text,
      sourceId: seed.source_id,
      deps: {
        shouldStop: () => !mayCall(allowance, spent, reserve),
        chooseAction: async (req) => {
          const r = await llm.chooseAction({
            model: config.model_name,
            tool_calling: config.tool_calling,
            temperature: req.temperature,
            sampling_seed: req.samplingSeed,
            seed_text: seed.text,
            seed_description: config.seed_description,
            sampling_tips: config.sampling_tips,
            qa_examples: config.qa_examples.slice(0, 2),
            tools: toolNames,
            // The prompt shows only the start of each earlier observation: send no more (history size).
            history: req.history.map((s) => ({ ...s, observation: truncate(s.observation, ACTION_HISTORY_OBSERVATION_CHARS) })),
            current_observation: req.current.observation,
            attempt: req.attempt,
            executed_actions: req.executedActions,
            ...(config.max_tokens ? { max_tokens: config.max_tokens } : {}),
          });
          charge(config.model_name, r);
          return r;
        },
        runTool: (action) =>
          tool(action.tool_name).runTool({
            mode: config.environment_mode,
            environment_kwargs: config.environment_kwargs,
            tool_name: action.tool_name,
            parameters: action.parameters,
            summary_model: summaryModel,
          }),
        onNode: (node, total) =>
          setCurrentDetails(
            `**exploring** \`${seed.source_id}\`: ${total} nodes, last \`${node.node_id}\` ` +
              `(${node.action?.tool_name ?? 'root'})`,
          ),
      },
    });
    counters.llm_failed_outputs += tree.llm_failed_outputs;
    counters.tool_calls = tree.tool_calls;
    counters.tool_errors = tree.tool_errors;
    counters.skipped_branches = tree.skipped_branches;
    counters.duplicate_actions = tree.duplicate_actions;
    counters.nodes = tree.nodes.length - 1;
    budgetHit = tree.stopped;

    const selected = selectTrajectories(tree.nodes, {
      min_depth: config.min_depth,
      max_selected_traj: config.max_selected_traj,
      toolCount: toolNames.length,
      sourceId: seed.source_id,
    });
    counters.leaves = tree.nodes.filter((n) => n.children_ids.length === 0 && n.depth > 0).length;

    const qas: QaRecord[] = [];
    const rejectedQas: RejectedQaRecord[] = [];
    let lastRejection: string | undefined;
    // Decided once per seed, before the first QA attempt (the marker goes into the history here).
    const grounding = selected.length > 0 && config.grounding && patched(PATCH_GROUNDING);
    for (const [rank, sel] of selected.entries()) {
      setCurrentDetails(`**writing QA** ${rank + 1}/${selected.length} for \`${seed.source_id}\``);
      const steps = sel.path.map((n) => ({
        intent: n.intent,
        tool_name: n.action?.tool_name ?? '',
        parameters: n.action?.parameters ?? {},
        // The QA prompt shows at most QA_OBSERVATION_CHARS of each observation: send no more (history size).
        observation: truncate(n.observation, QA_OBSERVATION_CHARS),
      }));
      const evidencePath = sel.path.filter((n) => n.depth > 0);
      let rejection: string | undefined;
      /** The last attempt's QA when only grounding rejected it: kept in rejected_qas if no attempt is grounded. */
      let ungrounded: QaRecord | null = null;
      for (let attempt = 0; attempt < config.max_retries; attempt++) {
        if (!mayCall(allowance, spent)) {
          budgetHit = true;
          break;
        }
        const res = await llm.synthesizeQa({
          model: qaModel,
          temperature: round1(0.7 + 0.1 * attempt),
          seed_text: seed.text,
          seed_description: config.seed_description,
          synthesis_tips: config.synthesis_tips,
          qa_examples: config.qa_examples,
          steps,
          previous_rejection: rejection,
          ...(config.max_tokens ? { max_tokens: config.max_tokens } : {}),
        });
        charge(qaModel, res);
        let problem = res.ok ? validateQa(res) : res.reason;
        let grounded: Grounding | null = null;
        if (res.ok && !problem && grounding) {
          grounded = groundAnswer(res.answer, evidencePath);
          if (!grounded) problem = ungroundedReason(res.answer);
        }
        const record = (qa: { question: string; answer: string; reasoning_steps: unknown[] }): QaRecord =>
          buildQaRecord({
            question: qa.question,
            answer: qa.answer,
            reasoning_steps: qa.reasoning_steps,
            trajectory_id: sel.trajectory_id,
            source_id: seed.source_id,
            qa_id: qaId(sel.trajectory_id, rank),
            seed_data: seed.text,
            seed_description: config.seed_description,
            trajectory_depth: sel.path.length,
            synthesis_date: new Date().toISOString(),
            environment_mode: config.environment_mode,
            attempts: attempt + 1,
          });
        if (res.ok && !problem) {
          qas.push({ ...record(res), evidence: buildEvidence(evidencePath, grounded) });
          rejection = undefined;
          ungrounded = null;
          break;
        }
        if (!res.ok) counters.llm_failed_outputs += 1;
        ungrounded = res.ok && grounding && !grounded && problem?.startsWith('ungrounded') ? { ...record(res), evidence: buildEvidence(evidencePath, null) } : null;
        rejection = problem ?? 'unknown';
        // The path's prompt does not fit the model's context window: another attempt would be refused too.
        if (!res.ok && rejection.startsWith('context_overflow')) break;
      }
      if (ungrounded) {
        // A paid answer is never dropped silently: the last ungrounded QA goes to the rejected-QA file.
        rejectedQas.push({ ...ungrounded, rejection: { stage: 'grounding', reason: 'ungrounded' } });
        lastRejection = rejection;
      } else if (rejection) {
        const key = rejection.split(':')[0]!;
        counters.qa_rejected[key] = (counters.qa_rejected[key] ?? 0) + 1;
        lastRejection = rejection;
      }
    }
    counters.cost_usd = spent.cost_usd;
    // Zero QA is not a success: say why, so the user (and the run's circuit breaker) can act on it.
    let noQa: { error: string; error_type: string } | null = null;
    if (qas.length === 0 && !budgetHit) {
      if (selected.length === 0) {
        const reasons = countsText(tree.failed_output_reasons);
        const key = Object.entries(tree.failed_output_reasons).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'no_path';
        noQa = {
          error_type: `no_qa:${key}`,
          error:
            `no QA: exploration found no path of depth ≥ min_depth ${config.min_depth} (${counters.nodes} nodes` +
            (reasons ? `; unusable model answers: ${reasons}; last: ${tree.last_failed_reason}` : '') + ')',
        };
      } else {
        // Paths lost to the cheap validators (qa_rejected) and to later checks (rejected_qas, by reason), together.
        const lost: Record<string, number> = { ...counters.qa_rejected };
        for (const r of rejectedQas) lost[r.rejection.reason] = (lost[r.rejection.reason] ?? 0) + 1;
        const key = Object.entries(lost).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'rejected';
        noQa = {
          error_type: `no_qa:${key}`,
          error:
            `no QA: the QA of all ${selected.length} selected paths was rejected after ${config.max_retries} attempts each ` +
            `(${countsText(lost)}; last: ${lastRejection ?? 'unknown'})`,
        };
      }
    }
    result = {
      ...base,
      status: budgetHit ? 'budget_exhausted' : noQa ? 'no_qa' : 'succeeded',
      ...(noQa ?? {}),
      finished_at: new Date().toISOString(),
      qas,
      trajectories: selected.map((s) => buildTrajectoryRecord(s, seed.source_id, seed.text)),
      tree: tree.nodes.map(compactNode),
      ...(rejectedQas.length ? { rejected_qas: rejectedQas } : {}),
    };
  } catch (err) {
    if (isCancellation(err)) throw err;
    counters.cost_usd = spent.cost_usd;
    counters.llm_requests = (counters.llm_requests ?? 0) + failedCallRequests(err);
    result = {
      ...base,
      status: 'failed',
      error: rootMessage(err),
      error_type: failureType(err),
      finished_at: new Date().toISOString(),
      qas: [],
      trajectories: [],
    };
  }

  const summary = await output.writeSeedResult({ output_dir, result });
  upsertSearchAttributes([{ key: StatusAttr, value: result.status }]);
  const done = `${result.qas.length} QA from ${result.trajectories.length} paths, ${counters.nodes} nodes`;
  setCurrentDetails(
    result.status === 'failed' || result.status === 'no_qa'
      ? `**${result.status === 'failed' ? 'failed' : 'no QA'}**: ${result.error}`
      : result.status === 'budget_exhausted'
        ? `**stopped, budget spent**: ${done}`
        : `**done**: ${done}`,
  );
  return summary;
}
