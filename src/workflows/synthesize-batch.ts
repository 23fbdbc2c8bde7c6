/**
 * `synthesizeBatch`: one run, as a sliding window over its seeds (the shape of Temporal's batch-sliding-window
 * sample). It keeps `max_workers` seed workflows running — through every continue-as-new, never draining:
 *
 * 1. **Input**: validated by the same schema as the CLI; seeds inline, or by reference (`seeds_file`, read by an
 *    activity in pages, so no history ever holds the seed list).
 * 2. **State**: a cursor into the seeds, the running seeds (≤ max_workers), counters — all that is carried
 *    across continue-as-new.
 * 3. **Messages**: the `progress` query; `pause` / `resume`; the `setMaxWorkers` and `retryFailed` updates; and
 *    the seeds' own reports: a seed reports by its end (its child workflow's completion) to the run that started
 *    it; once a continue-as-new is due, the seeds still running are asked to report by signal instead, and the
 *    seeds started after that report so from the start (`seedFinished` / `seedStopped`, sent by workflow id, so
 *    they reach the latest run).
 * 4. **Prepare**: the run's manifest (and, by reference, the normalized seed file).
 * 5. **Window**: start a seed whenever fewer than max_workers run (skipping seeds already finished in an earlier
 *    execution, a page at a time); a seed that ends without reporting (terminated, timed out) is inspected and
 *    recorded with the reason; the circuit breaker and the budget may stop the launching.
 * 6. **Continue as new** when the server suggests it — with the running seeds still running — or, once every
 *    seed has ended, write the outputs.
 *
 * Executions started before the sliding window (no `qasynth-sliding-window` marker in their history) replay the
 * earlier loop, `legacyWindow`, which drained its children before continuing as new.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { OutputActivities } from '../activities/outputs';
import type { InspectActivities } from '../activities/inspect';
import { FailureType, seedWorkflowId, taskQueues } from '../shared/constants';
import { ModeAttr, RunIdAttr, StatusAttr } from '../shared/search-attributes';
import type {
  BatchCompletion,
  BatchCarry,
  BatchInput,
  BatchProgress,
  BatchResult,
  Seed,
  SeedAllowance,
  SeedSummary,
  SynthesisConfig,
  PrepareSeedsInput,
  PrepareSeedsResult,
  ReadSeedPageInput,
  SeedPage,
} from '../shared/types';
import { hasBudget, seedAllowance } from '../domain/budget';
import { duplicatesDropped } from '../domain/ids';
import { emptySeedCounters } from '../domain/statistics';
import { CONTINUE_AS_NEW_MAX_EVENTS, continueAsNewEvents, countSeed, emptyBatchCounters, noteFailedSeed, RunningWindow, SEED_PAGE } from '../domain/batch';
import { breakerStep, breakerReason } from '../domain/breaker';
import { absurdRun } from '../domain/limits';
import { LEGACY_CONTINUE_AS_NEW_EVENTS, OUTPUT_ACTIVITY, WRITE_OUTPUTS_ACTIVITY } from './options';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  retryFailedUpdate,
  reportBySignalSignal,
  seedFinishedSignal,
  seedStoppedSignal,
  setMaxWorkersUpdate,
} from './messages';
import { failureType, rootMessage, seedSummaryOfFailure, synthesizeSeed } from './synthesize-seed';
import { batchSummary, seedWorkflowDetails, seedWorkflowSummary } from '../domain/metadata';

/**
 * Most seeds running at once: Temporal's default limit of pending child workflows per workflow execution
 * (`limit.numPendingChildExecutions.error`, 2,000); past it the parent's workflow task fails forever.
 */
export const MAX_WORKERS_LIMIT = 2000;

/**
 * Seeds checked per `finishedSeeds` activity when a run resumes or retries: one activity per page instead of
 * one child workflow per finished seed; ~300 bytes per summary keeps the result far below the payload limit.
 */
export const FINISHED_SEEDS_PAGE = 500;

/** How often the window looks after seeds started by an earlier run of the parent that have not reported. */
export const WATCH_INTERVAL = '2 minutes';

/** Patch ids (workflow versioning): new command sequences are taken only by executions that start with them. */
const PATCH_BREAKER = 'qasynth-circuit-breaker';
const PATCH_FINISHED_PAGES = 'qasynth-finished-seed-pages';
const PATCH_SLIDING_WINDOW = 'qasynth-sliding-window';
/** Continue-as-new at 3,000 events; top the window up at most max_workers starts after it was due, below 4,500 events. */
const PATCH_EARLY_CONTINUE_AS_NEW = 'qasynth-early-continue-as-new';
/** Child starts are not awaited one by one: the starts of one activation go out in one workflow task. */
const PATCH_BATCHED_STARTS = 'qasynth-batched-starts';
/** Continue-as-new thresholds that leave room for the window's tail: `continueAsNewEvents(max_workers)`. */
const PATCH_CAN_ROOM = 'qasynth-continue-as-new-room';
/**
 * The window's waits carry the WATCH_INTERVAL timer only while there is something to watch (seeds of an earlier
 * run, or of an earlier execution of this run): before, every wait started a timer and cancelled it when a seed
 * ended — 2 of the parent's ~6 events per seed, for a watch() that had nothing to do.
 */
const PATCH_WATCH_WHEN_NEEDED = 'qasynth-watch-when-needed';
/**
 * Seeds report by their own end (`report_by_result`): the child's completion, which reaches this run, instead of a
 * `seedFinished` signal — no signal and no workflow task to deliver it, ~5 fewer events per seed over both
 * histories. Once a continue-as-new is due, the seeds still running are asked to report by signal
 * (`reportBySignal`): their end would reach the closed run; seeds started after that report by signal.
 */
const PATCH_REPORT_BY_RESULT = 'qasynth-report-by-result';

/** The seed activities (src/activities/seeds.ts) as the workflow calls them. */
interface SeedPageActivities {
  prepareSeeds(input: PrepareSeedsInput): Promise<PrepareSeedsResult>;
  readSeedPage(input: ReadSeedPageInput): Promise<SeedPage>;
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
  // ── 1. Input ──────────────────────────────────────────────────────────────────────────────────────────────
  // The validator (zod) is loaded here, on first use, not with the module: a module imported at the top is
  // initialised again for every workflow execution, and every seed workflow would pay for building the schemas.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseBatchInput } = require('../config/schema') as typeof import('../config/schema');
  const parsed = parseBatchInput(input);
  if (!parsed.ok) throw invalidInput(parsed.issues);
  const config: SynthesisConfig = parsed.config;
  /** Inline seeds (null: by reference, read in pages). */
  const inlineSeeds: Seed[] | null = input.seeds_file ? null : parsed.seeds;
  const { run_id, output_dir } = input;
  const info = workflowInfo();
  const queues = taskQueues(info.taskQueue);
  const output = proxyActivities<OutputActivities & InspectActivities & SeedPageActivities>({ ...OUTPUT_ACTIVITY, taskQueue: queues.output });
  const writer = proxyActivities<OutputActivities>({ ...WRITE_OUTPUTS_ACTIVITY, taskQueue: queues.output });
  const sliding = patched(PATCH_SLIDING_WINDOW);

  // ── 2. State ──────────────────────────────────────────────────────────────────────────────────────────────
  // A carry from an older version may lack counters and flags added since: fill them with their defaults.
  const state: BatchCarry = carry ? { ...carry, counters: { ...emptyBatchCounters(), ...carry.counters } } : {
    next_index: 0,
    started_at_ms: info.startTime.getTime(),
    counters: emptyBatchCounters(),
    paused: false,
    max_workers: config.max_workers,
    prepared: false,
    budget_exhausted: false,
    check_existing: true,
  };
  const window = new RunningWindow(state.running ?? []);
  const seedsTotal = () => state.seeds_total ?? inlineSeeds?.length ?? 0;
  let phase: BatchProgress['phase'] = state.prepared ? 'running' : 'preparing';

  // ── 3. Messages ───────────────────────────────────────────────────────────────────────────────────────────
  const progress = (): BatchProgress => ({
    run_id,
    mode: config.environment_mode,
    seeds_total: seedsTotal(),
    running: window.ids(),
    paused: state.paused,
    max_workers: state.max_workers,
    counters: state.counters,
    phase,
    pause_reason: state.pause_reason ?? null,
    started_at_ms: state.started_at_ms,
    seeds_started: state.next_index,
    failed_seeds: state.failed_seeds ?? [],
  });
  const showDetails = () => {
    const c = state.counters;
    // First line: what this run is (however it was started: the CLI sets the same as its summary, a start
    // with `temporal workflow start` sets none), then where it is.
    setCurrentDetails(
      `${batchSummary(run_id, config.environment_mode, seedsTotal() || null, state.max_workers)}\n\n` +
        `**${phase}**${state.paused ? ' (paused)' : ''} — ${c.seeds_done}/${seedsTotal()} seeds ` +
        `(${c.seeds_failed} failed, ${c.seeds_no_qa} without QA), ${c.qa} QA, ${window.size}/${state.max_workers} running` +
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
      return { seeds_done: state.counters.seeds_done, seeds_total: seedsTotal() };
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
      return { previous, current: n };
    },
    {
      validator: (n: number) => {
        if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS_LIMIT) {
          throw new Error(
            `max_workers: expected an integer 1..${MAX_WORKERS_LIMIT} (the Temporal server's limit of pending child ` +
              `workflows per workflow), got ${JSON.stringify(n)}`,
          );
        }
      },
    },
  );

  // Circuit breaker (config pause_after_failures): only in executions that started with it (replay safety).
  const breakerOn = config.pause_after_failures > 0 && patched(PATCH_BREAKER);
  /** Counts a finished seed (and lets the circuit breaker see it). */
  const record = (s: SeedSummary) => {
    countSeed(state.counters, s);
    noteFailedSeed(state, s);
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
  // The seeds' reports. A report for a seed that is not running (a repeat) is ignored.
  const stopped = new Set<string>();
  if (sliding) {
    setHandler(seedFinishedSignal, (s: SeedSummary) => {
      if (window.take(s.source_id)) record(s);
    });
    setHandler(seedStoppedSignal, ({ source_id }: { source_id: string }) => {
      if (window.take(source_id)) stopped.add(source_id);
    });
  }

  upsertSearchAttributes([
    { key: RunIdAttr, value: run_id },
    { key: ModeAttr, value: config.environment_mode },
    { key: StatusAttr, value: 'running' },
  ]);

  // ── 4. Prepare ────────────────────────────────────────────────────────────────────────────────────────────
  if (!state.prepared) {
    let duplicates = duplicatesDropped(parsed.duplicates);
    let preparedSeeds: PrepareSeedsResult | undefined;
    if (input.seeds_file) {
      const prep = await output.prepareSeeds.executeWithOptions({ summary: 'prepare seeds (validate the seed file)' }, [
        { run_id, output_dir, seeds_file: input.seeds_file, number_of_seed: config.number_of_seed },
      ]);
      preparedSeeds = prep;
      // The seed count is known only now: a run nobody means is refused before anything is paid.
      const absurd = input.force ? null : absurdRun(config, prep.seeds_total);
      if (absurd) throw invalidInput([`config: ${absurd}`]);
      state.seeds_total = prep.seeds_total;
      duplicates = prep.duplicates_dropped;
    }
    state.duplicates_dropped = duplicates;
    const prepared = await output.prepareRun.executeWithOptions({ summary: 'prepare run (manifest)' }, [{
      run_id,
      output_dir,
      config,
      // The manifest lists inline seeds; a by-reference run's are recorded as prepared (file, size, sha256, count).
      ...(preparedSeeds ? { prepared_seeds: preparedSeeds } : { seeds: inlineSeeds ?? [] }),
      duplicates_dropped: duplicates,
      started_at: new Date(state.started_at_ms).toISOString(),
      ...(input.retry_failed ? { retry_failed: true } : {}),
    }]);
    state.prepared = true;
    // A new run folder has no seed results: spare every seed the "already done?" check.
    // (Runs recorded before prepareRun returned a count have no result: keep checking.)
    state.check_existing = (prepared?.existing_seed_results ?? 1) > 0;
    // Every execution of a run (resume, retry) writes the same output files: named after the run's first start.
    const first = prepared?.started_at ? Date.parse(prepared.started_at) : NaN;
    state.run_started_at_ms = Number.isFinite(first) ? first : state.started_at_ms;
    phase = 'running';
  }
  showDetails();

  /** Funds the next seed from the run budget; null: no budget; 'spent': start no more seeds. */
  const budgeted = hasBudget(config.budget);
  const nextAllowance = (): SeedAllowance | null | 'spent' => {
    if (!budgeted) return null;
    const c = state.counters;
    const allowance = seedAllowance({
      budget: config.budget,
      used: { llm_calls: c.llm_calls, input_tokens: c.input_tokens, output_tokens: c.output_tokens, cost_usd: c.cost_usd },
      reserved: window.toCarry().map((r) => r.allowance).filter((a): a is SeedAllowance => a !== null),
      freeSlots: state.max_workers - window.size,
      minCalls: config.min_depth + 1,
    });
    return allowance ?? 'spent';
  };

  const earlyCan = patched(PATCH_EARLY_CONTINUE_AS_NEW);
  // With room for the window's tail, from the current max_workers (a control update can change it). `hard` counts
  // only with earlyCan.
  const canRoom = earlyCan && patched(PATCH_CAN_ROOM);
  const watchWhenNeeded = patched(PATCH_WATCH_WHEN_NEEDED);
  const canThresholds = (): { due: number; hard: number } =>
    canRoom ? continueAsNewEvents(state.max_workers) : earlyCan ? CONTINUE_AS_NEW_MAX_EVENTS : { ...CONTINUE_AS_NEW_MAX_EVENTS, due: LEGACY_CONTINUE_AS_NEW_EVENTS };
  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > canThresholds().due;

  // ── 5. Window ─────────────────────────────────────────────────────────────────────────────────────────────
  let cancelled = false;
  if (sliding) {
    cancelled = await slidingWindow();
  } else {
    cancelled = await legacyWindow();
  }

  // ── 6. Continue as new, or write the outputs ─────────────────────────────────────────────────────────────
  if (!cancelled && (window.size > 0 || (!state.budget_exhausted && state.next_index < seedsTotal()))) {
    await condition(allHandlersFinished);
    await continueAsNew<typeof synthesizeBatch>(input, { ...state, running: window.toCarry() });
  }

  // Outputs are written even when the batch was cancelled: what finished is kept.
  return await CancellationScope.nonCancellable(async () => {
    phase = 'writing';
    showDetails();
    const completion: BatchCompletion = cancelled ? 'cancelled' : state.budget_exhausted ? 'budget_exhausted' : 'complete';
    const written = await writer.writeOutputs.executeWithOptions({ summary: `write outputs (${completion})` }, [{
      run_id,
      output_dir,
      mode: config.environment_mode,
      timestamp: fileTimestamp(state.run_started_at_ms ?? state.started_at_ms),
      completion,
    }]);
    // A retryFailed update arrived during the run: run its failed seeds again now, as a new pass.
    const unfinished = written.seeds_failed + (written.seeds_no_qa ?? 0) + written.seeds_missing;
    if (state.retry_requested && !cancelled && completion === 'complete' && unfinished > 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof synthesizeBatch>({ ...input, retry_failed: true }, {
        next_index: 0,
        started_at_ms: state.started_at_ms,
        counters: emptyBatchCounters(),
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
      seeds_total: seedsTotal(),
      duplicates_dropped: state.duplicates_dropped ?? duplicatesDropped(parsed.duplicates),
      status: completion,
    };
  });

  /**
   * The sliding window: starts seeds while fewer than max_workers run, until every seed has started and
   * reported, the budget is spent, the server suggests a continue-as-new, or the run is cancelled (then running
   * seeds are asked to stop and waited for). Returns whether it was cancelled.
   */
  async function slidingWindow(): Promise<boolean> {
    const pages = seedPages();
    const handles = new Map<string, Promise<void>>();
    /** A seed that ended without reporting: inspect what became of it and record that. */
    const inspect = async (seed: { source_id: string; index: number }, text: string, workflowRunId?: string) => {
      const summary = await output.inspectSeed.executeWithOptions({ summary: `inspect seed ${seed.index + 1} (ended without reporting)` }, [{
        workflow_id: seedWorkflowId(run_id, seed.source_id),
        workflow_run_id: workflowRunId,
        run_id,
        output_dir,
        source_id: seed.source_id,
        index: seed.index,
        seed_text: text,
      }]);
      if (window.take(seed.source_id)) record(summary);
    };
    /** Seeds started by an earlier run: no handle here, so look after them now and then (one activity). */
    const watch = async () => {
      const inherited = window.inherited(info.runId);
      if (!inherited.length) return;
      const closed = new Set(
        await output.closedSeedWorkflows.executeWithOptions({ summary: `check ${inherited.length} seeds started before continue-as-new` }, [
          { workflow_ids: inherited.map((r) => seedWorkflowId(run_id, r.source_id)) },
        ]),
      );
      // A seed still running is left alone; one that ended without reporting is inspected.
      for (const r of inherited) if (closed.has(seedWorkflowId(run_id, r.source_id)) && window.has(r.source_id)) await inspect(r, '');
    };
    const batchedStarts = patched(PATCH_BATCHED_STARTS);
    const reportByResult = patched(PATCH_REPORT_BY_RESULT);
    /** Asks a seed started with `report_by_result` to report by signal; false: it has ended (or was never started). */
    const askToSignal = (source_id: string): Promise<boolean> =>
      getExternalWorkflowHandle(seedWorkflowId(run_id, source_id))
        .signal(reportBySignalSignal)
        .then(
          () => true,
          (err: unknown) => {
            if (isCancellation(err)) throw err;
            return false;
          },
        );
    /**
     * Once a continue-as-new is due: the seeds this run started that are still running are asked to report by
     * signal (their end would reach this run, closed by then), and the seeds this run starts from then on report
     * by signal from the start — so the window is topped up as before until the run continues as new. A seed whose
     * ask failed had ended: its end is on its way to this run (`ended`, waited for before the continue-as-new).
     * Seeds of earlier runs were asked already. Every start is acknowledged first (a seed not yet started
     * cannot be asked).
     */
    let handedOver = false;
    let ended: string[] = [];
    const handOver = async (): Promise<void> => {
      handedOver = true;
      await Promise.all(pendingStarts);
      const mine = window.toCarry().filter((r) => r.parent_run_id === info.runId && handles.has(r.source_id));
      const asked = await Promise.all(mine.map((r) => askToSignal(r.source_id)));
      ended = mine.filter((_, i) => !asked[i]).map((r) => r.source_id);
    };
    /** Seeds found still running from an earlier execution of this run (see startSeed): they are watched too. */
    let alreadyStarted = 0;
    /**
     * Waits until `ready()`, running watch() when WATCH_INTERVAL passes without it. With PATCH_WATCH_WHEN_NEEDED
     * the timer is set only when watch() has seeds to look at (it returns at once otherwise); a seed found already
     * started during the wait ends the wait, so that the next one sets the timer.
     */
    const waitOrWatch = async (ready: () => boolean): Promise<void> => {
      if (watchWhenNeeded && window.inherited(info.runId).length === 0) {
        const seen = alreadyStarted;
        await condition(() => ready() || alreadyStarted !== seen);
        return;
      }
      if (!(await condition(ready, WATCH_INTERVAL))) await watch();
    };
    /** Starts one seed's child workflow and watches its end (a seed that ends without reporting is inspected). */
    const startSeed = async (seed: Seed, index: number, allowance: SeedAllowance | null): Promise<void> => {
      let child: ChildWorkflowHandle<typeof synthesizeSeed>;
      try {
        child = await startChild(synthesizeSeed, {
        workflowId: seedWorkflowId(run_id, seed.source_id),
        args: [{
          run_id,
          config,
          seed,
          index,
          output_dir,
          allowance,
          check_existing: false,
          notify_parent: true,
          ...(reportByResult && !handedOver ? { report_by_result: true } : {}),
          seeds_total: seedsTotal(),
        }],
        // The seed may outlive this run of the parent (continue-as-new): then it reports by signal, by workflow id.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // The Web UI's list and child view: `seed 12/500 · <text>`, the whole seed in the details.
        staticSummary: seedWorkflowSummary(index, seedsTotal(), seed.text),
        staticDetails: seedWorkflowDetails(run_id, seed.source_id, seed.text),
        typedSearchAttributes: [
          { key: RunIdAttr, value: run_id },
          { key: ModeAttr, value: config.environment_mode },
          { key: StatusAttr, value: 'running' },
        ],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        // Still running from an earlier execution of this run (it was restarted while its seeds ran): it reports
        // here (by workflow id); watched like a seed inherited across continue-as-new.
        window.add({ source_id: seed.source_id, index, allowance, parent_run_id: '', started_at_ms: Date.now() });
        alreadyStarted += 1;
        // Started with report_by_result, it would report to the execution that started it: ask for a signal.
        // (A seed that has ended by now is found by watch() and inspected.)
        if (reportByResult) await askToSignal(seed.source_id);
        return;
      }
      // A seed that ends without reporting (terminated, timed out, a bug) is inspected; its report is the rule.
      handles.set(
        seed.source_id,
        child.result().then(
          (summary) => {
            // Its report, when it reports by result (a seed that reported by signal was taken already).
            if (reportByResult && window.take(seed.source_id)) record(summary);
          },
          async (err: unknown) => {
            if (!window.has(seed.source_id)) return;
            // A failed or no-QA seed ends as a failed workflow after writing its result and reporting it: its
            // summary is in the failure (the report may not have arrived yet). Its normal end, not a fault.
            const failed = seedSummaryOfFailure(err);
            if (failed) {
              if (window.take(seed.source_id)) record(failed);
              return;
            }
            if (isCancellation(err) || (err instanceof ChildWorkflowFailure && isCancellation(err.cause))) {
              window.take(seed.source_id);
              stopped.add(seed.source_id);
              return;
            }
            await inspect({ source_id: seed.source_id, index }, seed.text, child.firstExecutionRunId);
          },
        ),
      );
    };
    /** Child starts not yet acknowledged by the server (batched starts), and the first that failed. */
    const pendingStarts = new Set<Promise<void>>();
    let startFailure: unknown;
    /** Seeds started since the continue-as-new became due (null: not due yet). */
    let startsSinceDue: number | null = null;
    try {
      for (;;) {
        if (startFailure !== undefined) throw startFailure;
        const more = !state.budget_exhausted && state.next_index < seedsTotal();
        const hasRoom = () => !state.paused && window.size < state.max_workers;
        // Continue as new with the running seeds still running (they report to the next run) — after filling
        // the window, so that as many seeds run through the continue-as-new as before it.
        // Seeds that end as fast as they start would keep the window from ever being full: top it up with at
        // most max_workers starts after the continue-as-new was due, then go.
        if (shouldContinueAsNew()) startsSinceDue ??= 0;
        if (reportByResult && !handedOver && shouldContinueAsNew()) {
          await handOver();
          continue;
        }
        if (
          shouldContinueAsNew() &&
          (!(more && hasRoom()) ||
            (earlyCan && ((startsSinceDue ?? 0) >= state.max_workers || workflowInfo().historyLength > canThresholds().hard)))
        ) {
          // Starts still on their way: seeds may end meanwhile; look at the window again once they are acknowledged.
          if (pendingStarts.size > 0) {
            await Promise.all(pendingStarts);
            continue;
          }
          // Seeds that had ended when asked: their end reaches this run; take it in (a condition, so that a
          // cancellation meanwhile takes the cancel path), then top the window up again.
          if (ended.some((id) => window.has(id))) {
            await condition(() => ended.every((id) => !window.has(id)));
            continue;
          }
          break;
        }
        if (!more) {
          // Nothing more to start: wait for the running seeds (looking after inherited ones now and then).
          if (window.size === 0) break;
          await waitOrWatch(() => window.size === 0 || shouldContinueAsNew() || startFailure !== undefined);
          continue;
        }
        const next = await pages.get(state.next_index);
        if (next.finished) {
          // Finished in an earlier execution of this run: counted, never run again.
          state.next_index += 1;
          record(next.finished);
          continue;
        }
        if (!hasRoom()) {
          await waitOrWatch(() => hasRoom() || shouldContinueAsNew() || startFailure !== undefined);
          continue;
        }
        let allowance = nextAllowance();
        if (allowance === 'spent' && window.size > 0) {
          // Running seeds may hand back unused allowance: wait for them before calling the run spent.
          await condition(() => window.size === 0 || nextAllowance() !== 'spent');
          allowance = nextAllowance();
        }
        if (allowance === 'spent') {
          state.budget_exhausted = true;
          continue;
        }
        const index = state.next_index++;
        if (startsSinceDue !== null) startsSinceDue += 1;
        const seed = next.seed;
        window.add({ source_id: seed.source_id, index, allowance, parent_run_id: info.runId, started_at_ms: Date.now() });
        if (batchedStarts) {
          // Not awaited: every start of this activation goes to the server in one workflow task completion.
          const p = startSeed(seed, index, allowance).catch((err: unknown) => {
            startFailure ??= err;
          });
          pendingStarts.add(p);
          void p.then(() => pendingStarts.delete(p));
        } else {
          await startSeed(seed, index, allowance);
        }
        if (startFailure !== undefined) throw startFailure;
      }
      // Every start acknowledged before the window is handed on (continue-as-new) or the outputs are written.
      await Promise.all(pendingStarts);
      if (startFailure !== undefined) throw startFailure;
      return false;
    } catch (err) {
      if (!isCancellation(err)) throw err;
      // Cancelled: ask the running seeds to stop, and wait (bounded) for them to say so.
      await CancellationScope.nonCancellable(async () => {
        phase = 'cancelling';
        showDetails();
        await Promise.allSettled(window.ids().map((id) => getExternalWorkflowHandle(seedWorkflowId(run_id, id)).cancel()));
        await condition(() => window.size === 0, '2 minutes');
      });
      return true;
    }
  }

  /** Seeds by index, a page at a time: inline seeds checked against finished results, or read from the file. */
  function seedPages() {
    let page: { start: number; seeds: Seed[] | null; finished: (SeedSummary | null)[] | null } | null = null;
    return {
      async get(index: number): Promise<{ seed: Seed; finished: SeedSummary | null }> {
        const inPage = page && index >= page.start && index < page.start + (page.seeds?.length ?? page.finished?.length ?? 0);
        if (!inPage) {
          if (inlineSeeds) {
            const finished = state.check_existing
              ? await output.finishedSeeds.executeWithOptions({ summary: `finished seeds? ${index + 1}–${Math.min(index + FINISHED_SEEDS_PAGE, inlineSeeds.length)}` }, [
                  { run_id, output_dir, source_ids: inlineSeeds.slice(index, index + FINISHED_SEEDS_PAGE).map((x) => x.source_id) },
                ])
              : null;
            page = { start: index, seeds: null, finished: finished ?? inlineSeeds.slice(index, index + FINISHED_SEEDS_PAGE).map(() => null) };
          } else {
            const r = await output.readSeedPage.executeWithOptions({ summary: `read seeds from ${index + 1}` }, [
              { run_id, output_dir, start: index, ...SEED_PAGE, with_finished: state.check_existing },
            ]);
            page = { start: index, seeds: r.seeds, finished: r.finished };
          }
        }
        const p = page!;
        const seed = inlineSeeds ? inlineSeeds[index]! : p.seeds![index - p.start]!;
        return { seed, finished: p.finished?.[index - p.start] ?? null };
      },
    };
  }

  /**
   * The loop of executions started before the sliding window (replayed from their histories): each child
   * awaited as a promise, and every running child drained before a continue-as-new. Returns whether cancelled.
   */
  async function legacyWindow(): Promise<boolean> {
    const seeds = inlineSeeds!;
    const running = new Map<string, SeedAllowance | null>();
    const launch = (seed: Seed, index: number, allowance: SeedAllowance | null, checkExisting: boolean): Promise<void> => {
      running.set(seed.source_id, allowance);
      window.add({ source_id: seed.source_id, index, allowance, parent_run_id: info.runId, started_at_ms: 0 });
      return executeChild(synthesizeSeed, {
        workflowId: seedWorkflowId(run_id, seed.source_id),
        args: [{ run_id, config, seed, index, output_dir, allowance, check_existing: checkExisting }],
        staticSummary: seedWorkflowSummary(index, seeds.length, seed.text),
        typedSearchAttributes: [
          { key: RunIdAttr, value: run_id },
          { key: ModeAttr, value: config.environment_mode },
          { key: StatusAttr, value: 'running' },
        ],
      })
        .then(record, async (err: unknown) => {
          if (isCancellation(err) || (err instanceof ChildWorkflowFailure && isCancellation(err.cause))) throw err;
          // A seed that failed (or found no QA) recorded its own result and ends as failed: count it as it is.
          const failed = seedSummaryOfFailure(err);
          if (failed) return record(failed);
          // The child could not record its own failure (timeout, termination, bug): record it here.
          const summary = await output.writeSeedResult.executeWithOptions({ summary: `write seed result · failed (${seed.source_id})` }, [{
            output_dir,
            result: {
              run_id,
              source_id: seed.source_id,
              index,
              seed_data: seed.text,
              status: 'failed',
              error: rootMessage(err),
              error_type: failureType(err),
              started_at: new Date().toISOString(),
              finished_at: new Date().toISOString(),
              qas: [],
              trajectories: [],
              counters: emptySeedCounters(),
            },
          }]);
          record(summary);
        })
        .finally(() => {
          running.delete(seed.source_id);
          window.take(seed.source_id);
        });
    };
    // Resumed or retried runs skip their finished seeds a page at a time (replay safety: new executions only).
    const usePages = state.check_existing && patched(PATCH_FINISHED_PAGES);
    let page: { start: number; finished: (SeedSummary | null)[] } | null = null;
    const finishedResult = async (index: number): Promise<SeedSummary | null> => {
      if (!page || index < page.start || index >= page.start + page.finished.length) {
        const ids = seeds.slice(index, index + FINISHED_SEEDS_PAGE).map((x) => x.source_id);
        page = { start: index, finished: await output.finishedSeeds({ run_id, output_dir, source_ids: ids }) };
      }
      return page.finished[index - page.start] ?? null;
    };
    const inFlight = new Set<Promise<void>>();
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
      // (Until the last seed ends the phase stays `running`; it said `draining` once, which read as 'stopping'.)
      await Promise.all(inFlight);
      return false;
    } catch (err) {
      if (!isCancellation(err)) throw err;
      await CancellationScope.nonCancellable(async () => {
        phase = 'cancelling';
        await Promise.allSettled(inFlight);
      });
      return true;
    }
  }
}
