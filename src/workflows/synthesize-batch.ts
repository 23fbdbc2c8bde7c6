/**
 * `synthesizeBatch`: one run. Validates its input, records a run manifest, keeps at most `max_workers`
 * `synthesizeSeed` children running, continues as new (after draining its children) when the server
 * suggests it, and finally writes the output files from the seeds' durable results.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OutputActivities } from '../activities/outputs';
import { FailureType, seedWorkflowId, taskQueues } from '../shared/constants';
import { ModeAttr, RunIdAttr, StatusAttr } from '../shared/search-attributes';
import type {
  BatchCompletion,
  BatchCarry,
  BatchCounters,
  BatchInput,
  BatchProgress,
  BatchResult,
  Seed,
  SeedAllowance,
  SeedSummary,
  SynthesisConfig,
} from '../shared/types';
import { hasBudget, seedAllowance } from '../domain/budget';
import { duplicatesDropped } from '../domain/ids';
import { emptySeedCounters } from '../domain/statistics';
import { CONTINUE_AS_NEW_EVENTS, OUTPUT_ACTIVITY } from './options';
import { pauseSignal, progressQuery, resumeSignal, retryFailedUpdate, setMaxWorkersUpdate } from './messages';
import { failureType, rootMessage, synthesizeSeed } from './synthesize-seed';
import { breakerStep, breakerReason } from '../domain/breaker';

export const MAX_WORKERS_LIMIT = 1000;

/**
 * Seeds checked per `finishedSeeds` activity when a run resumes or retries: one activity per page instead of
 * one child workflow per finished seed; ~300 bytes per summary keeps the result far below the payload limit.
 */
export const FINISHED_SEEDS_PAGE = 500;

/** Patch ids (workflow versioning): new command sequences are taken only by executions that start with them. */
const PATCH_BREAKER = 'qasynth-circuit-breaker';
const PATCH_FINISHED_PAGES = 'qasynth-finished-seed-pages';

function emptyCounters(): BatchCounters {
  return {
    seeds_done: 0,
    seeds_succeeded: 0,
    seeds_failed: 0,
    seeds_no_qa: 0,
    seeds_budget_exhausted: 0,
    seeds_cached: 0,
    qa: 0,
    trajectories: 0,
    llm_calls: 0,
    llm_requests: 0,
    tool_calls: 0,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: 0,
  };
}

/** `YYYYmmdd_HHMMSS` (UTC) of the batch start: names the output files the same on every retry. */
export function fileTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`
  );
}

function invalidInput(issues: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.InvalidInput,
    nonRetryable: true,
    message: `invalid batch input:\n${issues.map((i) => `  ${i}`).join('\n')}`,
    details: [issues],
  });
}

export async function synthesizeBatch(input: BatchInput, carry?: BatchCarry): Promise<BatchResult> {
  // The validator (zod) is loaded here, on first use, not with the module: a module imported at the top is
  // initialised again for every workflow execution, and every seed workflow would pay for building the schemas.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseBatchInput } = require('../config/schema') as typeof import('../config/schema');
  const parsed = parseBatchInput(input);
  if (!parsed.ok) throw invalidInput(parsed.issues);
  const config: SynthesisConfig = parsed.config;
  const seeds: Seed[] = parsed.seeds;

  const { run_id, output_dir } = input;
  const output = proxyActivities<OutputActivities>({
    ...OUTPUT_ACTIVITY,
    taskQueue: taskQueues(workflowInfo().taskQueue).output,
  });
  // A carry from an older version may lack counters and flags added since: fill them with their defaults.
  const state: BatchCarry = carry ? { ...carry, counters: { ...emptyCounters(), ...carry.counters } } : {
    next_index: 0,
    started_at_ms: workflowInfo().startTime.getTime(),
    counters: emptyCounters(),
    paused: false,
    max_workers: config.max_workers,
    prepared: false,
    budget_exhausted: false,
    check_existing: true,
  };
  /** Running seeds → what each may spend (null: no budget). */
  const running = new Map<string, SeedAllowance | null>();
  let phase: BatchProgress['phase'] = state.prepared ? 'running' : 'preparing';

  const progress = (): BatchProgress => ({
    run_id,
    mode: config.environment_mode,
    seeds_total: seeds.length,
    running: [...running.keys()],
    paused: state.paused,
    max_workers: state.max_workers,
    counters: state.counters,
    phase,
    pause_reason: state.pause_reason ?? null,
  });
  const showDetails = () => {
    const c = state.counters;
    setCurrentDetails(
      `**${phase}**${state.paused ? ' (paused)' : ''} — ${c.seeds_done}/${seeds.length} seeds ` +
        `(${c.seeds_failed} failed, ${c.seeds_no_qa} without QA), ${c.qa} QA, ${running.size}/${state.max_workers} running` +
        (state.pause_reason ? `\n\n**${state.pause_reason}**` : ''),
    );
  };
  setHandler(progressQuery, progress);
  setHandler(pauseSignal, () => {
    state.paused = true;
    showDetails();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    if (state.pause_reason) {
      // Resumed after the circuit breaker paused the run: the user fixed the cause; count afresh.
      state.pause_reason = null;
      state.breaker = undefined;
      upsertSearchAttributes([{ key: StatusAttr, value: 'running' }]);
    }
    showDetails();
  });
  setHandler(
    retryFailedUpdate,
    () => {
      state.retry_requested = true;
      return { seeds_done: state.counters.seeds_done, seeds_total: seeds.length };
    },
    {
      validator: () => {
        if (phase === 'done') throw new Error('the run has finished; start it again with retry_failed (qasynth run … --retry-failed)');
      },
    },
  );
  setHandler(
    setMaxWorkersUpdate,
    (n: number) => {
      const previous = state.max_workers;
      state.max_workers = n;
      showDetails();
      return previous;
    },
    {
      validator: (n: number) => {
        if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS_LIMIT) {
          throw new Error(`max_workers: expected an integer 1..${MAX_WORKERS_LIMIT}, got ${JSON.stringify(n)}`);
        }
      },
    },
  );

  upsertSearchAttributes([
    { key: RunIdAttr, value: run_id },
    { key: ModeAttr, value: config.environment_mode },
    { key: StatusAttr, value: 'running' },
  ]);

  if (!state.prepared) {
    const prepared = await output.prepareRun({
      run_id,
      output_dir,
      config,
      seeds,
      duplicates_dropped: duplicatesDropped(parsed.duplicates),
      started_at: new Date(state.started_at_ms).toISOString(),
      ...(input.retry_failed ? { retry_failed: true } : {}),
    });
    state.prepared = true;
    // A new run folder has no seed results: spare every child its "already done?" activity.
    // (Runs recorded before prepareRun returned a count have no result: keep checking.)
    state.check_existing = (prepared?.existing_seed_results ?? 1) > 0;
    // Every execution of a run (resume, retry) writes the same output files: named after the run's first start.
    const first = prepared?.started_at ? Date.parse(prepared.started_at) : NaN;
    state.run_started_at_ms = Number.isFinite(first) ? first : state.started_at_ms;
    phase = 'running';
  }
  showDetails();

  // Circuit breaker (config pause_after_failures): only in executions that started with it (replay safety).
  const breakerOn = config.pause_after_failures > 0 && patched(PATCH_BREAKER);
  const record = (s: SeedSummary) => {
    const c = state.counters;
    c.seeds_done += 1;
    if (s.status === 'succeeded') c.seeds_succeeded += 1;
    else if (s.status === 'budget_exhausted') c.seeds_budget_exhausted += 1;
    else if (s.status === 'no_qa') c.seeds_no_qa = (c.seeds_no_qa ?? 0) + 1;
    else c.seeds_failed += 1;
    if (s.cached) c.seeds_cached += 1;
    c.qa += s.qa_count;
    c.trajectories += s.trajectory_count;
    c.llm_calls += s.llm_calls;
    c.llm_requests = (c.llm_requests ?? 0) + (s.llm_requests ?? s.llm_calls);
    c.tool_calls += s.tool_calls;
    c.input_tokens += s.input_tokens ?? 0;
    c.output_tokens += s.output_tokens ?? 0;
    c.cost_usd += s.cost_usd ?? 0;
    if (breakerOn && !s.cached) {
      state.breaker = breakerStep(state.breaker, s);
      if (!state.pause_reason && state.breaker && state.breaker.count >= config.pause_after_failures) {
        state.paused = true;
        state.pause_reason = breakerReason(run_id, state.breaker, s);
        upsertSearchAttributes([{ key: StatusAttr, value: 'paused' }]);
      }
    }
    showDetails();
  };

  const launch = (seed: Seed, index: number, allowance: SeedAllowance | null, checkExisting: boolean): Promise<void> => {
    running.set(seed.source_id, allowance);
    return executeChild(synthesizeSeed, {
      workflowId: seedWorkflowId(run_id, seed.source_id),
      args: [{ run_id, config, seed, index, output_dir, allowance, check_existing: checkExisting }],
      staticSummary: seed.text.length > 120 ? `${seed.text.slice(0, 117)}...` : seed.text,
      typedSearchAttributes: [
        { key: RunIdAttr, value: run_id },
        { key: ModeAttr, value: config.environment_mode },
        { key: StatusAttr, value: 'running' },
      ],
    })
      .then(record, async (err: unknown) => {
        if (isCancellation(err) || (err instanceof ChildWorkflowFailure && isCancellation(err.cause))) throw err;
        // The child could not record its own failure (timeout, termination, bug): record it here.
        const error = rootMessage(err);
        const summary = await output.writeSeedResult({
          output_dir,
          result: {
            run_id,
            source_id: seed.source_id,
            index,
            seed_data: seed.text,
            status: 'failed',
            error,
            error_type: failureType(err),
            started_at: new Date().toISOString(),
            finished_at: new Date().toISOString(),
            qas: [],
            trajectories: [],
            counters: emptySeedCounters(),
          },
        });
        record(summary);
      })
      .finally(() => running.delete(seed.source_id));
  };

  const shouldContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > CONTINUE_AS_NEW_EVENTS;

  /** Funds the next seed from the run budget; null when the budget is spent (start no more seeds). */
  const budgeted = hasBudget(config.budget);
  const nextAllowance = (): SeedAllowance | null | 'spent' => {
    if (!budgeted) return null;
    const c = state.counters;
    const allowance = seedAllowance({
      budget: config.budget,
      used: { llm_calls: c.llm_calls, input_tokens: c.input_tokens, output_tokens: c.output_tokens, cost_usd: c.cost_usd },
      reserved: [...running.values()].filter((a): a is SeedAllowance => a !== null),
      freeSlots: state.max_workers - running.size,
      minCalls: config.min_depth + 1,
    });
    return allowance ?? 'spent';
  };

  // Resumed or retried runs skip their finished seeds a page at a time (replay safety: new executions only).
  const usePages = state.check_existing && patched(PATCH_FINISHED_PAGES);
  let page: { start: number; finished: (SeedSummary | null)[] } | null = null;
  /** The final result of seed `index` when it has one (it is not run again), else null. */
  const finishedResult = async (index: number): Promise<SeedSummary | null> => {
    if (!page || index < page.start || index >= page.start + page.finished.length) {
      const ids = seeds.slice(index, index + FINISHED_SEEDS_PAGE).map((x) => x.source_id);
      page = { start: index, finished: await output.finishedSeeds({ run_id, output_dir, source_ids: ids }) };
    }
    return page.finished[index - page.start] ?? null;
  };

  const inFlight = new Set<Promise<void>>();
  let cancelled = false;
  try {
    while (state.next_index < seeds.length && !state.budget_exhausted && !shouldContinueAsNew()) {
      if (usePages) {
        const done = await finishedResult(state.next_index);
        if (done) {
          state.next_index += 1;
          record(done);
          continue;
        }
      }
      await condition(() => !state.paused && inFlight.size < state.max_workers);
      if (shouldContinueAsNew()) break;
      let allowance = nextAllowance();
      if (allowance === 'spent' && running.size > 0) {
        // Running seeds may hand back unused allowance: wait for them before calling the run spent.
        await condition(() => running.size === 0 || nextAllowance() !== 'spent');
        allowance = nextAllowance();
      }
      if (allowance === 'spent') {
        state.budget_exhausted = true;
        break;
      }
      const index = state.next_index++;
      const p = launch(seeds[index]!, index, allowance, state.check_existing && !usePages);
      inFlight.add(p);
      p.then(
        () => inFlight.delete(p),
        () => inFlight.delete(p),
      );
    }
    phase = 'draining';
    await Promise.all(inFlight);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
  }

  if (!cancelled && !state.budget_exhausted && state.next_index < seeds.length) {
    await condition(allHandlersFinished);
    await continueAsNew<typeof synthesizeBatch>(input, { ...state });
  }

  // Outputs are written even when the batch was cancelled: what finished is kept.
  return await CancellationScope.nonCancellable(async () => {
    if (cancelled) {
      phase = 'cancelling';
      await Promise.allSettled(inFlight);
    }
    phase = 'writing';
    showDetails();
    const completion: BatchCompletion = cancelled ? 'cancelled' : state.budget_exhausted ? 'budget_exhausted' : 'complete';
    const written = await output.writeOutputs({
      run_id,
      output_dir,
      mode: config.environment_mode,
      timestamp: fileTimestamp(state.run_started_at_ms ?? state.started_at_ms),
      completion,
    });
    // A retryFailed update arrived during the run: run its failed seeds again now, as a new pass.
    const unfinished = written.seeds_failed + (written.seeds_no_qa ?? 0) + written.seeds_missing;
    if (state.retry_requested && !cancelled && completion === 'complete' && unfinished > 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof synthesizeBatch>({ ...input, retry_failed: true }, {
        next_index: 0,
        started_at_ms: state.started_at_ms,
        counters: emptyCounters(),
        paused: false,
        max_workers: state.max_workers,
        prepared: false,
        budget_exhausted: false,
        check_existing: true,
      });
    }
    phase = 'done';
    upsertSearchAttributes([
      {
        key: StatusAttr,
        value: completion === 'complete' && (written.seeds_failed || written.seeds_no_qa) ? 'completed_with_failures' : completion,
      },
    ]);
    showDetails();
    await condition(allHandlersFinished);
    return {
      ...written,
      run_id,
      seeds_total: seeds.length,
      duplicates_dropped: duplicatesDropped(parsed.duplicates),
      status: completion,
    };
  });
}
