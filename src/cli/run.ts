/**
 * `qasynth run` and `qasynth demo`: validate, make sure a Temporal server is there (TEMPORAL_ADDRESS or the
 * project's background dev server), run an embedded worker, submit the batch under a run id derived from
 * the inputs (so re-running the same command resumes), follow it with a progress bar, print the outputs.
 */
import OpenAI from 'openai';
import { Client } from '@temporalio/client';
import path from 'node:path';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import type { BatchResult, SynthesisConfig } from '../shared/types';
import { progressFromResult, type LiveProgress } from '../client/progress';
import { formatTotals, ProgressView } from './progress';
import { followRun } from './follow';
import { logToFile } from '../worker/runtime';
import { describeDuplicates, prepareInput, UsageError, type InputFlags, type PreparedInput } from './inputs';
import { submitBatch, queryProgress, resumeBatch } from '../api';
import { ensureBackgroundServer } from '../server/dev-server';
import { clientConnection, ensureSearchAttributes, targetFromEnv, workerConnection, type TemporalTarget } from '../worker/connection';
import { createWorkers, runWorkers } from '../worker/worker';
import { startSimulator, type Simulator } from '../llm/simulator';
import { BASE_URL_VARIABLES, resolveLlmEndpoint } from '../llm/client';
import type { CorpusSite } from '../corpus';
import { ensureCorpusSite } from './corpus';
import { cliCommand } from './command';

export interface RunFlags extends InputFlags {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  simulate?: boolean;
  progress?: boolean;
  json?: boolean;
  /** Re-run the failed, no-QA and not-run seeds of this run id. */
  retryFailed?: boolean;
}

export interface RunOutcome {
  exitCode: number;
  result?: BatchResult;
}

const err = (s: string) => process.stderr.write(`${s}\n`);

/** True when the user pointed qasynth at an LLM endpoint (base URL or key). */
export function llmConfigured(env = process.env): boolean {
  return BASE_URL_VARIABLES.some((v) => !!env[v]?.trim()) || !!env.OPENAI_API_KEY?.trim();
}

/** Checks the LLM endpoint settings before anything starts; problems are usage errors (exit 2). */
export function checkLlmEndpoint(env = process.env): void {
  try {
    resolveLlmEndpoint(env);
  } catch (e) {
    throw new UsageError([(e as Error).message]);
  }
}

/** Web UI link for a workflow, when we know where the UI is. */
export function uiLink(uiBase: string | null, namespace: string, workflowId: string): string | null {
  if (!uiBase) return null;
  return `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

function guessUi(address: string): string | null {
  if (process.env.QASYNTH_UI_URL) return process.env.QASYNTH_UI_URL;
  const m = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(address);
  return m ? `http://${m[1]}:${Number(m[2]) + 1000}` : null;
}

export async function resolveTarget(flags: { address?: string; namespace?: string }): Promise<{ target: TemporalTarget; ui: string | null; note: string }> {
  const fromEnv = targetFromEnv(flags);
  if (fromEnv) return { target: fromEnv, ui: guessUi(fromEnv.address), note: `Temporal server ${fromEnv.address}` };
  const bg = await ensureBackgroundServer({ log: err });
  return {
    target: { address: bg.address, namespace: flags.namespace ?? 'default' },
    ui: bg.uiUrl,
    note: bg.started
      ? `started a local Temporal dev server at ${bg.address} (state in ${bg.dbFile}; stop it with \`${cliCommand()} server stop\`)`
      : `using the local Temporal dev server at ${bg.address}`,
  };
}

/** Exit status of a finished run: 0 only when every seed produced QA and nothing was left undone. */
export function exitCodeOf(r: BatchResult): number {
  return r.seeds_failed > 0 || (r.seeds_no_qa ?? 0) > 0 || r.status !== 'complete' ? 1 : 0;
}

/** How cache keys name the built-in simulator's endpoint (it gets a new port each run). */
export const SIMULATOR_ENDPOINT_LABEL = 'qasynth-simulator';

/**
 * The call-cache folder of `qasynth run`'s embedded worker: config `cache.path` (relative to the current folder),
 * default `<output root>/.qasynth-cache`; null when `cache.enabled` is false (`--no-cache`).
 */
export function runCacheDir(config: Pick<SynthesisConfig, 'cache'>, outputDir: string): string | null {
  const c = config.cache;
  if (c && c.enabled === false) return null;
  return c?.path ? path.resolve(c.path) : path.join(outputDir, DEFAULT_CACHE_DIR_NAME);
}

/** Name of the default cache folder under the output root. */
export const DEFAULT_CACHE_DIR_NAME = '.qasynth-cache';

export async function runBatch(flags: RunFlags, opts: { demo?: boolean; prepared?: PreparedInput } = {}): Promise<RunOutcome> {
  const prepared = opts.prepared ?? (await prepareInput(flags));
  const { input, config, seeds_total: seedCount, duplicates, duplicated_seeds, duplicates_dropped } = prepared;
  if (duplicates_dropped) {
    err(`note: ${describeDuplicates(duplicates_dropped, duplicated_seeds)}; each seed is processed once:`);
    for (const d of duplicates.slice(0, 5)) err(`  ${d.source_id}: ${JSON.stringify(d.text.slice(0, 60))} (${d.count} more cop${d.count === 1 ? 'y' : 'ies'} dropped)`);
  }

  let sim: Simulator | null = null;
  let llmClient: (() => OpenAI) | undefined;
  if (flags.simulate || (opts.demo && !llmConfigured())) {
    sim = await startSimulator({ latencyMs: opts.demo ? 20 : 0 });
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'simulator', maxRetries: 0 });
    llmClient = () => client;
    err('┌──────────────────────────────────────────────────────────────────────┐');
    err('│ No LLM endpoint configured: using the built-in offline LLM simulator. │');
    err('│ Its QA pairs are synthetic. Set OPENAI_BASE_URL and OPENAI_API_KEY     │');
    err('│ to use a real model.                                                   │');
    err('└──────────────────────────────────────────────────────────────────────┘');
  } else if (!llmConfigured()) {
    throw new UsageError([
      'OPENAI_BASE_URL / OPENAI_API_KEY: not set; set them to your OpenAI-compatible endpoint, or pass --simulate to use the offline simulator',
    ]);
  } else {
    checkLlmEndpoint();
  }

  // web mode on the offline corpus: serve it here unless a corpus site already answers at local_site_url.
  let corpusSite: CorpusSite | null = null;
  const kwargs = config.environment_kwargs;
  if (config.environment_mode === 'web' && kwargs.search_provider === 'local' && typeof kwargs.local_site_url === 'string') {
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/?$/.exec(kwargs.local_site_url);
    if (m) {
      corpusSite = (await ensureCorpusSite(Number(m[1]))).site;
      if (corpusSite) err(`serving the offline web corpus at ${corpusSite.url} for this run`);
    }
  }

  const { target, ui, note } = await resolveTarget(flags);
  err(note);
  const taskQueue = flags.taskQueue ?? DEFAULT_TASK_QUEUE;
  const connection = await clientConnection(target);
  const missing = await ensureSearchAttributes(connection, target.namespace);
  if (missing.length) {
    err(`warning: could not register search attributes ${missing.join(', ')}; create them with:`);
    for (const m of missing) err(`  temporal operator search-attribute create --name ${m} --type Keyword`);
  }
  const client = new Client({ connection, namespace: target.namespace });
  const nativeConnection = await workerConnection(target);
  const cacheDir = runCacheDir(config, input.output_dir);
  if (cacheDir) err(`call cache: ${cacheDir} (--no-cache to run without it)`);
  const workers = await createWorkers({
    connection: nativeConnection,
    namespace: target.namespace,
    taskQueue,
    llmClient,
    rateLimits: config.rate_limits,
    cacheDir,
    // The simulator listens on a new port each run: name it by a label so its answers are found again.
    ...(sim ? { llmEndpointLabel: SIMULATOR_ENDPOINT_LABEL } : {}),
  });
  let stopWorkers!: () => void;
  const stopped = new Promise<void>((r) => (stopWorkers = r));
  const workerRun = runWorkers(workers, stopped);

  let view: ProgressView | null = null;
  let restoreLogs: (() => void) | null = null;
  const onSigint = () => {
    view?.abandon();
    restoreLogs?.();
    err('\ninterrupted: stopping the worker. The run is durable — run the same command again to continue.');
    stopWorkers();
    void workerRun.finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);

  const following = new AbortController();
  try {
    const sub = await submitBatch(client, input, {
      taskQueue,
      mode: config.environment_mode,
      seedCount,
      retryFailed: flags.retryFailed,
    });
    const verb = {
      started: 'started',
      running: 'resumed (it was already running)',
      completed: 'already completed; showing its result',
      retrying: 'started again for its failed, no-QA and not-run seeds (finished seeds are kept)',
      retry_requested: 'is running; its failed seeds will run again when this pass is done',
    }[sub.state];
    err(`run ${input.run_id}: ${seedCount} seeds${prepared.by_reference ? ' (by reference)' : ''}, ${config.environment_mode} mode, workflow ${sub.workflowId} ${verb}`);
    const link = uiLink(ui, target.namespace, sub.workflowId);
    if (link) err(`Web UI: ${link}`);
    if (sub.state === 'running' || sub.state === 'retry_requested') {
      // The same command again after the circuit breaker paused the run: the user has fixed the cause.
      const p = await queryProgress(sub.handle).catch(() => null);
      if (p?.pause_reason) {
        await resumeBatch(sub.handle);
        err(`the run was paused by its circuit breaker; resumed it (run \`${cliCommand()} pause <run-id>\` to stop it again)`);
      }
    }

    let final: LiveProgress | null = null;
    if (sub.state !== 'completed') {
      if (flags.progress !== false) {
        view = new ProgressView(process.stderr);
        if (process.stderr.isTTY) {
          // Log lines would break into the progress line: they go to a file meanwhile (said once, here).
          const logFile = path.join(input.output_dir, input.run_id, 'worker.log');
          restoreLogs = logToFile(logFile);
          err(`worker log: ${logFile}`);
        }
      }
      final = await followRun(client, input.run_id, view, { signal: following.signal });
    }
    const result = final?.result ?? (await sub.handle.result());
    final ??= progressFromResult(sub.workflowId, result, null, Date.now());
    view?.finish(final);
    view = null;
    restoreLogs?.();
    printResult(result, flags.json, final);
    return { exitCode: exitCodeOf(result), result };
  } finally {
    following.abort();
    view?.abandon();
    restoreLogs?.();
    process.removeListener('SIGINT', onSigint);
    stopWorkers();
    await workerRun.catch((e) => err(`worker stopped with an error: ${(e as Error).message}`));
    await nativeConnection.close();
    await connection.close();
    await sim?.close();
    await corpusSite?.close();
  }
}

const RETRY_HINT =
  'failed and no-QA seeds are listed with their reasons in the statistics file (failed_seeds); ' +
  'after fixing the cause, re-run just those with the same command plus --retry-failed';

/**
 * Prints a finished run: with `json` its result as one JSON line on stdout; otherwise the summary — counts, the
 * totals line (the words of the progress line's last frame, from `live`, the same snapshot), the output paths.
 */
export function printResult(r: BatchResult, json = false, live: LiveProgress | null = null): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    if (r.seeds_failed || r.seeds_no_qa) err(RETRY_HINT);
    return;
  }
  const lines = [
    `run ${r.run_id} ${r.status.replace('_', ' ')}: ${r.seeds_succeeded}/${r.seeds_total} seeds succeeded, ${r.seeds_failed} failed` +
      (r.seeds_no_qa ? `, ${r.seeds_no_qa} without QA` : '') +
      (r.seeds_budget_exhausted ? `, ${r.seeds_budget_exhausted} stopped by the budget` : '') +
      (r.seeds_missing ? `, ${r.seeds_missing} not run` : '') +
      (r.duplicates_dropped ? `, ${describeDuplicates(r.duplicates_dropped)}` : '') +
      (r.estimated_cost_usd ? `, estimated cost $${r.estimated_cost_usd.toFixed(4)}` : ''),
    `  totals        ${formatTotals(live ?? progressFromResult('', r, null, Date.now()))}`,
    `  QA pairs      ${r.qa_count}  ${r.qa_path}`,
    // QA written but not kept (grounding, verification, dedup) are never dropped silently: say where they are.
    ...(r.rejected_qa_count && r.rejected_qa_path
      ? [`  not kept      ${r.rejected_qa_count}  ${r.rejected_qa_path}  (grounding, verification or dedup; the reasons are in the funnel)`]
      : []),
    `  trajectories  ${r.trajectory_count}  ${r.trajectories_path}`,
    `  statistics    ${r.statistics_path}`,
  ];
  if (r.seeds_failed || r.seeds_no_qa) lines.push(`  ${RETRY_HINT}`);
  if (r.qa_count === 0) lines.push('  no QA was produced: this run is a failure, see the reasons above');
  process.stdout.write(`${lines.join('\n')}\n`);
}
