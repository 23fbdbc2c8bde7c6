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
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LlmActivities } from '../activities/llm';
import type { ToolActivities } from '../activities/tools';
import type { OutputActivities, SeedResultWriter } from '../activities/outputs';
import { MODE_TOOLS, taskQueues, toolTaskQueue } from '../shared/constants';
import { StatusAttr } from '../shared/search-attributes';
import type { LlmCallAccounting, Observation, QaRecord, RejectedQaRecord, SeedCounters, SeedInput, SeedLiveProgress, SeedResultFile, SeedSummary, SynthesisConfig, ToolAction } from '../shared/types';
import { callCost, emptySpend, mayCall, qaReserve } from '../domain/budget';
import { withConfigDefaults } from '../config/defaults';
import { truncate } from '../domain/format';
import { ACTION_HISTORY_OBSERVATION_CHARS, QA_OBSERVATION_CHARS } from '../domain/prompts';
import { sampleTree } from '../domain/tree';
import { selectTrajectories } from '../domain/selection';
import { buildEvidence, buildQaRecord, buildTrajectoryRecord, compactNode } from '../domain/records';
import { countCacheOutcome, emptySeedCounters, toolLlmCharges } from '../domain/statistics';
import { failedCallSpend } from '../domain/failure-accounting';
import { validateQa } from '../domain/validate';
import { groundAnswer, ungroundedReason, type Grounding } from '../domain/grounding';
import { actionCallPlace, qaCallPlace, qaId } from '../domain/ids';
import { reportBySignalSignal, seedFinishedSignal, seedProgressQuery, seedStoppedSignal } from './messages';
import { HEARTBEAT_TIMEOUT_SECONDS, LLM_ACTIVITY, LOCAL_LLM_ACTIVITY, LOCAL_OUTPUT_ACTIVITY, LOCAL_TOOL_ACTIVITY, OUTPUT_ACTIVITY, TOOL_ACTIVITY } from './options';
import { inCallTools, llmRoute, toolRoute } from '../domain/routing';
import { expectedTreeSize } from '../domain/tree';
import { verifyQas } from './verify';
import { seedPatches, type SeedPatches } from './seed-patches';
import { chooseActionSummary, qaSummary, seedDetails, seedWorkflowSummary, toolSummary, type SeedDetailsState } from '../domain/metadata';

/**
 * The failure a failed or no-QA seed workflow ends with (the seed-fails patch, seed-patches.ts): non-retryable,
 * its message the seed's error, its type the seed's error_type (`LlmAuth`, …, `no_qa:<reason>` for a seed without
 * QA), its details `[summary]` — so a parent learns the summary from the failure too, even when the report raced it.
 */
export function seedFailure(summary: SeedSummary): ApplicationFailure {
  return ApplicationFailure.create({
    message: summary.error || (summary.status === 'no_qa' ? 'no QA' : 'failed'),
    type: summary.error_type || (summary.status === 'no_qa' ? 'no_qa' : 'SeedFailed'),
    nonRetryable: true,
    details: [summary],
  });
}

/**
 * The seed summary a seed workflow's failure carries (see seedFailure), from the failure a parent sees (a
 * ChildWorkflowFailure around an ApplicationFailure), or null for any other failure (a bug, a timeout, a
 * termination: those are inspected).
 */
export function seedSummaryOfFailure(err: unknown): SeedSummary | null {
  let e = err as { cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 3; depth++) {
    if (e instanceof ApplicationFailure) {
      const d = e.details?.[0] as Partial<SeedSummary> | undefined;
      if (d && typeof d.source_id === 'string' && (d.status === 'failed' || d.status === 'no_qa')) return d as SeedSummary;
      return null;
    }
    e = e.cause as typeof e;
  }
  return null;
}

/** A failed or no-QA summary ends the workflow as failed (executions that take the seed-fails patch, see seed-patches.ts). */
function endSeed(summary: SeedSummary, patches: SeedPatches): SeedSummary {
  if ((summary.status === 'failed' || summary.status === 'no_qa') && patches.seedFails()) throw seedFailure(summary);
  return summary;
}


/**
 * Activity proxies for this seed. Executions that started before the routing of src/domain/routing.ts (their
 * histories have no `qasynth-routing-v2` marker) keep the dedicated queues they started with.
 */
function proxies(config: SynthesisConfig, patches: SeedPatches) {
  const base = workflowInfo().taskQueue;
  const q = taskQueues(base);
  const routed = patches.routing();
  const route = routed ? llmRoute(config, base) : { kind: 'activity' as const, taskQueue: q.llm };
  // Asked only when the route is local, so older runs that keep activities record no local-llm marker.
  const localLlm = route.kind === 'local' && patches.localLlm();
  const llmQueue = route.kind === 'activity' ? route.taskQueue : base;
  /** A tool call with its activity summary (shown in the Web UI's event history). */
  type RunTool = (input: Parameters<ToolActivities['runTool']>[0], summary: string) => ReturnType<ToolActivities['runTool']>;
  const toolProxies = new Map<string, RunTool>();
  return {
    llm: localLlm
      ? proxyLocalActivities<LlmActivities>({ ...LOCAL_LLM_ACTIVITY, startToCloseTimeout: `${config.llm_timeout_seconds} seconds` })
      : proxyActivities<LlmActivities>({
          ...LLM_ACTIVITY,
          startToCloseTimeout: `${config.llm_timeout_seconds} seconds`,
          heartbeatTimeout: `${Math.min(HEARTBEAT_TIMEOUT_SECONDS, config.llm_timeout_seconds)} seconds`,
          taskQueue: llmQueue,
        }),
    /** A tool's activity: local, on the workflow's queue, or on the tool's own queue (see routing.ts). */
    tool: (name: string): RunTool => {
      let p = toolProxies.get(name);
      if (!p) {
        const route = routed ? toolRoute(config, base, name) : { kind: 'activity' as const, taskQueue: toolTaskQueue(base, name) };
        const proxy =
          route.kind === 'local'
            ? proxyLocalActivities<ToolActivities>({ ...LOCAL_TOOL_ACTIVITY, startToCloseTimeout: `${config.tool_timeout_seconds} seconds` })
            : proxyActivities<ToolActivities>({
                ...TOOL_ACTIVITY,
                startToCloseTimeout: `${config.tool_timeout_seconds} seconds`,
                heartbeatTimeout: `${Math.min(HEARTBEAT_TIMEOUT_SECONDS, config.tool_timeout_seconds)} seconds`,
                taskQueue: route.taskQueue,
              });
        const runTool = proxy.runTool;
        p = (toolInput, summary) => runTool.executeWithOptions({ summary }, [toolInput]);
        toolProxies.set(name, p);
      }
      return p;
    },
    output: proxyActivities<OutputActivities>({ ...OUTPUT_ACTIVITY, taskQueue: q.output }),
    /** The seed result's write where the workflow runs (seedPatches().localOutput; src/activities/outputs.ts). */
    outputHere: patches.localOutput() ? proxyLocalActivities<SeedResultWriter>(LOCAL_OUTPUT_ACTIVITY) : null,
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
 *
 * A seed started with `report_by_result` (parents with the `qasynth-report-by-result` patch) reports by its own
 * end instead — its result, or the failure that carries its summary — which reaches the run that started it as
 * its child workflow's completion: no signal, no workflow task to deliver it, in either history. It reports by
 * signal only once the parent asked for it (`reportBySignal`: the parent is about to continue as new, or a
 * restarted execution of the run found the seed running), since its end would then reach a closed run.
 */
export async function synthesizeSeed(input: SeedInput): Promise<SeedSummary> {
  const patches = seedPatches();
  const parentId = input.notify_parent ? workflowInfo().parent?.workflowId : undefined;
  if (!parentId) return endSeed(await runSeed(input, patches), patches);
  let bySignal = !input.report_by_result;
  setHandler(reportBySignalSignal, () => {
    bySignal = true;
  });
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
    const summary = await runSeed(input, patches);
    if (bySignal) await report(() => parent.signal(seedFinishedSignal, summary));
    return endSeed(summary, patches);
  } catch (err) {
    if (isCancellation(err) && bySignal) {
      await CancellationScope.nonCancellable(() => report(() => parent.signal(seedStoppedSignal, { source_id: input.seed.source_id })));
    }
    throw err;
  }
}

async function runSeed(input: SeedInput, patches: SeedPatches): Promise<SeedSummary> {
  const { seed, run_id, output_dir } = input;
  // Children started by an older version carry a config without keys added since (replayed histories):
  // complete it with their defaults. (The parent validated it; no zod here, see src/config/defaults.ts.)
  const config: SynthesisConfig = withConfigDefaults(input.config);
  const { llm, tool, output, outputHere } = proxies(config, patches);
  const counters: SeedCounters = emptySeedCounters();
  const spent = emptySpend();
  // The live view's query (no commands, no history events): counters so far, read from the state below.
  let livePhase: SeedLiveProgress['phase'] = 'checking';
  let liveNodes = 0;
  let liveQa = 0;
  setHandler(seedProgressQuery, (): SeedLiveProgress => ({
    source_id: seed.source_id,
    phase: livePhase,
    llm_calls: counters.llm_calls,
    llm_requests: counters.llm_requests ?? counters.llm_calls,
    input_tokens: counters.input_tokens,
    output_tokens: counters.output_tokens,
    cost_usd: spent.cost_usd,
    nodes: liveNodes,
    qa: liveQa,
  }));

  // What the Web UI's "current details" say (src/domain/metadata.ts), refreshed as the seed goes.
  const details: SeedDetailsState = {
    phase: 'checking',
    title: seedWorkflowSummary(input.index, input.seeds_total ?? 0, seed.text),
    nodes: 0,
    expected_nodes: expectedTreeSize(config.max_depth, config.branching_factor, config.depth_threshold).nodes,
    depth: 0,
    max_depth: config.max_depth,
    last_tool: null,
    qa: 0,
    paths: 0,
  };
  const showDetails = () => setCurrentDetails(seedDetails(details));

  if (input.check_existing !== false) {
    showDetails();
    const cached = await output.loadSeedResult.executeWithOptions({ summary: 'check for an earlier result' }, [
      { run_id, output_dir, source_id: seed.source_id },
    ]);
    if (cached) {
      setCurrentDetails(seedDetails({ ...details, phase: 'done', qa: cached.qa_count, outcome: `kept from an earlier attempt (${cached.qa_count} QA)` }));
      return { ...cached, cached: true };
    }
  }

  const startedAt = new Date().toISOString();
  // Budget: every LLM call is charged here (`spent`, above); no call starts once the seed's allowance is spent,
  // and exploration stops early enough to leave one QA attempt per path to select.
  const allowance = input.allowance ?? null;
  /** Every finished LLM call, counted as it happens (a seed that fails later still reports what it spent). */
  const charge = (model: string, r: LlmCallAccounting) => {
    const usage = r.usage;
    counters.llm_calls += 1;
    counters.llm_requests = (counters.llm_requests ?? 0) + (r.requests ?? 1);
    if (r.usage_estimated) counters.usage_estimated_calls = (counters.usage_estimated_calls ?? 0) + 1;
    counters.input_tokens += usage.input_tokens;
    counters.output_tokens += usage.output_tokens;
    // A call answered from the call cache is still a logical call (max_llm_calls), with no tokens and no cost.
    countCacheOutcome(counters, 'llm', r.cache);
    spent.llm_calls += 1;
    spent.input_tokens += usage.input_tokens;
    spent.output_tokens += usage.output_tokens;
    spent.cost_usd += callCost(config.prices, model, usage);
  };
  /**
   * Charges a tool's own LLM calls (Observation.llm_usage: web_visit's page summaries, or a failed call's
   * paid_usage) as the seed's own: each a call, the requests and tokens once, a hit of the tool's cache entry a cache
   * hit for each of them; a usage of 0 calls adds its requests only.
   */
  const chargeToolLlm = (obs: Pick<Observation, 'llm_usage' | 'cache'>) => {
    const u = obs.llm_usage;
    if (!u) return;
    const cache = obs.cache === 'hit' ? 'hit' : obs.cache === 'miss' ? 'miss' : undefined;
    const { calls, requests_only } = toolLlmCharges(u, cache);
    for (const c of calls) charge(u.model, c);
    counters.llm_requests = (counters.llm_requests ?? 0) + requests_only;
  };
  /**
   * Charges what a call that failed for good spent (src/domain/failure-accounting.ts): its requests, and the
   * answers it was billed for before it failed (web_visit's summaries), as its observation would have charged them.
   */
  const chargeFailedCall = (err: unknown) => {
    const failed = failedCallSpend(err);
    if (failed.paid) chargeToolLlm({ llm_usage: failed.paid });
    else counters.llm_requests = (counters.llm_requests ?? 0) + failed.requests;
  };
  const reserve = qaReserve(allowance, config.max_selected_traj, config.min_depth);
  // The call cache (README "Cache"): each LLM call names its place in the run, the sample discriminator of its key.
  const useCache = config.cache?.enabled !== false;
  let budgetHit = false;
  const toolNames = config.available_tools.length ? config.available_tools : [...MODE_TOOLS[config.environment_mode]];
  // Tools the chooseAction activity runs itself (src/domain/routing.ts); executions routed before routing-v2: none.
  const inCall = patches.routing() ? inCallTools(config, workflowInfo().taskQueue, toolNames) : [];
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


  /**
   * One tool call through the seed's routing (`summary`: its activity summary in the Web UI), its cache outcome and
   * its own LLM calls charged. `chargeFailure`: a failure is charged here too (failedCallSpend) before it is
   * rethrown — for callers that go on after it; else the seed's end charges the failure that ends it.
   */
  const callTool = async (action: ToolAction, summary: string, chargeFailure = false): Promise<Observation> => {
    let obs: Observation;
    try {
      obs = await tool(action.tool_name)(
        {
          mode: config.environment_mode,
          environment_kwargs: config.environment_kwargs,
          tool_name: action.tool_name,
          parameters: action.parameters,
          summary_model: summaryModel,
          ...(useCache ? { cache: true } : {}),
        },
        summary,
      );
    } catch (err) {
      if (chargeFailure && !isCancellation(err)) chargeFailedCall(err);
      throw err;
    }
    countCacheOutcome(counters, 'tools', obs.cache);
    chargeToolLlm(obs);
    return obs;
  };

  let result: SeedResultFile;
  try {
    livePhase = 'exploring';
    details.phase = 'exploring';
    showDetails();
    const tree = await sampleTree({
      config,
      concurrency: config.explore_concurrency,
      seedText: seed.text,
      sourceId: seed.source_id,
      deps: {
        shouldStop: () => !mayCall(allowance, spent, reserve),
        chooseAction: async (req) => {
          const r = await llm.chooseAction.executeWithOptions({ summary: chooseActionSummary(req.current.depth + 1, req.branch, req.attempt) }, [{
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
            ...(useCache ? { cache_place: actionCallPlace(seed.source_id, req.branchPath, req.attempt) } : {}),
            ...(inCall.length ? { in_call_tools: inCall } : {}),
          }]);
          charge(config.model_name, r);
          return r;
        },
        runTool: (action) => callTool(action, toolSummary(action.tool_name, action.parameters)),
        onNode: (node, total) => {
          liveNodes = total - 1; // the root is not a node explored
          details.nodes = total - 1;
          details.depth = node.depth;
          if (node.action) details.last_tool = node.action;
          showDetails();
        },
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
    livePhase = 'writing_qa';
    // Decided once per seed, before the first QA attempt (an older execution records its grounding marker here).
    const grounding = selected.length > 0 && config.grounding && patches.grounding();
    for (const [rank, sel] of selected.entries()) {
      details.phase = 'writing QA';
      details.paths = selected.length;
      details.path = rank + 1;
      details.qa = qas.length;
      showDetails();
      const steps = sel.path.map((n) => ({
        intent: n.intent,
        tool_name: n.action?.tool_name ?? '',
        parameters: n.action?.parameters ?? {},
        // The QA prompt shows at most QA_OBSERVATION_CHARS of each observation: send no more (history size).
        observation: truncate(n.observation, QA_OBSERVATION_CHARS),
      }));
      const evidencePath = sel.path.filter((n) => n.depth > 0);
      let rejection: string | undefined;
      /** The reasons the attempts so far were rejected, in order (the kept record's `metadata.qa_rejections`). */
      const rejections: string[] = [];
      /** The last attempt's QA when only grounding rejected it: kept in rejected_qas if no attempt is grounded. */
      let ungrounded: QaRecord | null = null;
      for (let attempt = 0; attempt < config.max_retries; attempt++) {
        if (!mayCall(allowance, spent)) {
          budgetHit = true;
          break;
        }
        const res = await llm.synthesizeQa.executeWithOptions({ summary: qaSummary(rank, selected.length, attempt) }, [{
          model: qaModel,
          temperature: round1(0.7 + 0.1 * attempt),
          seed_text: seed.text,
          seed_description: config.seed_description,
          synthesis_tips: config.synthesis_tips,
          qa_examples: config.qa_examples,
          steps,
          previous_rejection: rejection,
          ...(config.max_tokens ? { max_tokens: config.max_tokens } : {}),
          ...(useCache ? { cache_place: qaCallPlace(sel.trajectory_id, attempt) } : {}),
        }]);
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
            rejections,
          });
        if (res.ok && !problem) {
          qas.push({ ...record(res), evidence: buildEvidence(evidencePath, grounded) });
          liveQa = qas.length;
          rejection = undefined;
          ungrounded = null;
          break;
        }
        if (!res.ok) counters.llm_failed_outputs += 1;
        ungrounded = res.ok && grounding && !grounded && problem?.startsWith('ungrounded') ? { ...record(res), evidence: buildEvidence(evidencePath, null) } : null;
        rejection = problem ?? 'unknown';
        rejections.push(rejection);
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
    // Verification (config `verification`, off by default): every QA verified; dropped ones kept with the reason.
    let verificationDropped = 0;
    if (config.verification?.enabled && qas.length > 0 && patches.verification()) {
      // A solver's tool call that fails for good: the solver goes on without it (verify.ts runToolSafely), and what
      // it spent is charged here, since the failure does not end the seed.
      const runTool = (action: ToolAction) => callTool(action, `solver · ${toolSummary(action.tool_name, action.parameters)}`, true);
      const verified = await verifyQas({
        qas,
        config,
        toolNames,
        deps: {
          llm,
          runTool,
          inCallTools: inCall,
          useCache,
          charge,
          mayCall: () => mayCall(allowance, spent),
          countTool: (name, error) => {
            counters.tool_calls[name] = (counters.tool_calls[name] ?? 0) + 1;
            if (error) counters.tool_errors[name] = (counters.tool_errors[name] ?? 0) + 1;
          },
          countFailedOutput: () => {
            counters.llm_failed_outputs += 1;
          },
          progress: (text) => setCurrentDetails(`${text} for \`${seed.source_id}\``),
        },
      });
      verificationDropped = verified.rejected.length;
      qas.splice(0, qas.length, ...verified.kept);
      rejectedQas.push(...verified.rejected);
      if (verified.budgetHit) budgetHit = true;
    }
    counters.cost_usd = spent.cost_usd;
    // Zero QA is not a success: say why, so the user (and the run's circuit breaker) can act on it.
    let noQa: { error: string; error_type: string } | null = null;
    if (qas.length === 0 && !budgetHit) {
      if (verificationDropped > 0) {
        const reasons: Record<string, number> = {};
        for (const r of rejectedQas) if (r.rejection.stage === 'verification') reasons[r.rejection.reason] = (reasons[r.rejection.reason] ?? 0) + 1;
        const key = Object.entries(reasons).sort((a, b) => b[1] - a[1])[0]![0];
        noQa = {
          error_type: `no_qa:verification:${key}`,
          error: `no QA: verification dropped all ${verificationDropped} QA written (${countsText(reasons)}; keep: ${config.verification.keep})`,
        };
      } else if (selected.length === 0) {
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
    chargeFailedCall(err);
    counters.cost_usd = spent.cost_usd;
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

  livePhase = 'saving';
  const saveSummary = `write seed result · ${result.status}`;
  let summary: SeedSummary | null = null;
  if (outputHere) {
    // Where the workflow runs when this worker owns the output folder; else (or when it cannot) the output queue.
    try {
      summary = await outputHere.writeSeedResultHere.executeWithOptions({ summary: saveSummary }, [{ output_dir, result }]);
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
  }
  summary ??= await output.writeSeedResult.executeWithOptions({ summary: saveSummary }, [{ output_dir, result }]);
  livePhase = 'done';
  upsertSearchAttributes([{ key: StatusAttr, value: result.status }]);
  details.phase =
    result.status === 'failed' ? 'failed' : result.status === 'no_qa' ? 'no QA' : result.status === 'budget_exhausted' ? 'stopped, budget spent' : 'done';
  details.qa = result.qas.length;
  details.outcome =
    result.status === 'failed' || result.status === 'no_qa'
      ? (result.error ?? '')
      : `${result.qas.length} QA from ${result.trajectories.length} paths, ${counters.nodes} nodes`;
  showDetails();
  return summary;
}
