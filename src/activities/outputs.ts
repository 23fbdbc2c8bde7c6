/**
 * Output activities (task queue `<base>-output`, served only by the process that owns the output folder).
 *
 * Layout of `<output_dir>/<run_id>/`:
 *   manifest.json                         run id, config, and the seeds in input order (inline runs) or the seeds
 *                                         file they came from (by-reference runs) (written once)
 *   seeds.jsonl, seeds.index,             by-reference runs: the normalized seeds (src/activities/prepared-seeds.ts)
 *   seeds.prepared.json
 *   seeds/<source_id>.json                one durable result per finished seed (atomic write)
 *   synthesized_qa_<mode>_<ts>.jsonl      final files, rebuilt from the seed results in seed order,
 *   trajectories_<mode>_<ts>.jsonl        so every record appears exactly once whatever was retried
 *   rejected_qa_<mode>_<ts>.jsonl         QA written but not kept (grounding, verification, dedup), with why
 *   statistics_<mode>_<ts>.json           aggregates (per-seed rows inline up to 10,000 seeds)
 *   seed_statistics_<mode>_<ts>.jsonl     one statistics row per seed, input order
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { FailureType } from '../shared/constants';
import type {
  PrepareSeedsResult,
  RejectedQaRecord,
  Seed,
  SeedResultFile,
  SeedsSource,
  SeedSummary,
  SynthesisConfig,
  WriteOutputsInput,
  WriteOutputsResult,
} from '../shared/types';
import { paidRequests, PER_SEED_INLINE_MAX, StatisticsBuilder } from '../domain/statistics';
import { CONFIG_DEFAULTS, withConfigDefaults } from '../config/defaults';
import { QaDeduplicator } from '../domain/dedup';
import { FunnelBuilder } from '../domain/funnel';
import { seedListFingerprint } from '../config/seeds-stream';
import { preparedSeeds, readPreparedSeeds, SEEDS_JSONL } from './prepared-seeds';
import { AtomicLines } from '../shared/atomic-lines';
import { progressHeartbeat } from './heartbeat';

/**
 * How often writeOutputs heartbeats its progress (ms). Measured (README): ~N seeds/s; give the activity a
 * heartbeatTimeout of at least 10 s and a start-to-close timeout that fits the run's size.
 */
export const OUTPUTS_HEARTBEAT_MS = 2000;

export interface RunManifest {
  run_id: string;
  config_hash: string;
  config: SynthesisConfig;
  /** Inline runs: the seeds in input order. */
  seeds?: Seed[];
  /** By-reference runs: the seeds file they were prepared from (the seeds are in seeds.jsonl next to this file). */
  seeds_source?: SeedsSource;
  /** By-reference runs: how many seeds. */
  seeds_total?: number;
  /** By-reference runs: seedListFingerprint of the seeds' ids (inline runs: computed from `seeds`). */
  fingerprint_seeds?: string;
  duplicates_dropped: number;
  started_at: string;
  /** Earlier configs of the run, replaced by retries with a changed config (oldest first). */
  config_history?: { config: SynthesisConfig; config_hash: string; replaced_at: string }[];
}

export function runDir(outputDir: string, runId: string): string {
  return path.join(outputDir, runId);
}

function seedFile(outputDir: string, runId: string, sourceId: string): string {
  return path.join(runDir(outputDir, runId), 'seeds', `${sourceId}.json`);
}

/** Writes a file atomically: a reader sees the old content or the new, never half of it. */
export function writeFileAtomic(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * What makes two submissions the same run: the config (less `max_workers`, which changes speed, not
 * results) and the seed ids in order. 16 hex digits of sha256(JSON.stringify({config, seeds: [source ids]})).
 * For seeds read from a file, RunFingerprint computes the same value one id at a time.
 */
export function runFingerprint(config: SynthesisConfig, seeds: readonly Pick<Seed, 'source_id'>[]): string {
  const f = new RunFingerprint(config);
  for (const s of seeds) f.add(s.source_id);
  return f.digest();
}

/** The config part of the fingerprint: settings that change how a run is driven, not what it produces, are left out. */
function fingerprintConfig(config: SynthesisConfig): Record<string, unknown> {
  // So is a setting added after runs existed while it has its default value (or every earlier run would get a new
  // fingerprint, and re-running its command would start it over).
  const { max_workers: _workers, pause_after_failures: _breaker, task_queues: _queues, local_tools: _local, local_llm: _localLlm, explore_concurrency: _explore, cache: _cache, max_tokens, verification, grounding, dedup, ...rest } = config;
  const stable: Record<string, unknown> = { ...rest };
  if (max_tokens != null) stable.max_tokens = max_tokens;
  if (verification?.enabled) stable.verification = verification;
  if (grounding === false) stable.grounding = false;
  const d = CONFIG_DEFAULTS.dedup;
  if (dedup && (dedup.enabled !== d.enabled || dedup.near_duplicate_threshold !== d.near_duplicate_threshold || dedup.max_qa_per_answer !== d.max_qa_per_answer)) {
    stable.dedup = dedup;
  }
  return stable;
}

/**
 * runFingerprint, streamed: `new RunFingerprint(config)`, then `add(source_id)` for each seed in order, then
 * `digest()`. Hashes the same bytes as runFingerprint's `JSON.stringify({config, seeds})` without holding the
 * list, so a run gets the same id whether its seeds come inline or from a file of any size.
 */
export class RunFingerprint {
  private readonly hash = createHash('sha256');
  private count = 0;
  constructor(config: SynthesisConfig) {
    this.hash.update(`{"config":${JSON.stringify(fingerprintConfig(config))},"seeds":[`);
  }
  add(sourceId: string): void {
    this.hash.update(this.count++ === 0 ? JSON.stringify(sourceId) : `,${JSON.stringify(sourceId)}`);
  }
  /** 16 hex digits; the object is used up. */
  digest(): string {
    return this.hash.update(']}').digest('hex').slice(0, 16);
  }
}

export function summarize(result: SeedResultFile, cached: boolean): SeedSummary {
  const c = result.counters;
  return {
    source_id: result.source_id,
    status: result.status,
    cached,
    qa_count: result.qas.length,
    trajectory_count: result.trajectories.length,
    llm_calls: c.llm_calls,
    tool_calls: Object.values(c.tool_calls).reduce((a, b) => a + b, 0),
    input_tokens: c.input_tokens,
    output_tokens: c.output_tokens,
    cost_usd: c.cost_usd ?? 0,
    // Every logical call sent at least one request (files from before requests were counted have none), but a
    // call answered from the call cache.
    llm_requests: paidRequests(c),
    ...(c.cache?.llm.hits ? { llm_cache_hits: c.cache.llm.hits } : {}),
    ...(result.error ? { error: result.error } : {}),
    ...(result.error_type ? { error_type: result.error_type } : {}),
  };
}

/** A seed result that a new attempt must not replace: it succeeded, or the budget stopped it (its QA are kept). */
export function isFinal(r: SeedResultFile): boolean {
  return r.status === 'succeeded' || r.status === 'budget_exhausted';
}

/** The summary of a seed whose result in the run is final (`cached: true`), else null: failed, no QA, never run. */
export function finishedSummary(outputDir: string, runId: string, sourceId: string): SeedSummary | null {
  const r = readSeedResult(outputDir, runId, sourceId);
  return r && isFinal(r) ? summarize(r, true) : null;
}

/** What an earlier attempt (and the attempts before it) spent, to carry into the result that replaces it. */
function priorAttempts(r: SeedResultFile): NonNullable<SeedResultFile['prior_attempts']> {
  const p = r.prior_attempts;
  const c = r.counters;
  return {
    attempts: (p?.attempts ?? 0) + 1,
    llm_calls: (p?.llm_calls ?? 0) + c.llm_calls,
    llm_requests: (p?.llm_requests ?? 0) + Math.max(c.llm_requests ?? 0, c.llm_calls),
    input_tokens: (p?.input_tokens ?? 0) + c.input_tokens,
    output_tokens: (p?.output_tokens ?? 0) + c.output_tokens,
    cost_usd: (p?.cost_usd ?? 0) + (c.cost_usd ?? 0),
  };
}

/** Seed result files in a run folder (0 for a new run: its seeds need no "already done?" check). */
function countSeedResults(outputDir: string, runId: string): number {
  let dir: fs.Dir;
  try {
    dir = fs.opendirSync(path.join(runDir(outputDir, runId), 'seeds'));
  } catch {
    return 0;
  }
  // One entry at a time: a million-seed run's folder is not listed into memory.
  let n = 0;
  try {
    for (let e = dir.readSync(); e; e = dir.readSync()) if (e.name.endsWith('.json')) n += 1;
  } finally {
    dir.closeSync();
  }
  return n;
}

/** The seed list's fingerprint of a manifest (seedListFingerprint), whichever way its seeds came. */
function manifestSeedsFingerprint(m: RunManifest): string {
  return m.fingerprint_seeds ?? seedListFingerprint((m.seeds ?? []).map((s) => s.source_id));
}

export function readManifest(outputDir: string, runId: string): RunManifest | null {
  const file = path.join(runDir(outputDir, runId), 'manifest.json');
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RunManifest;
}

export function readSeedResult(outputDir: string, runId: string, sourceId: string): SeedResultFile | null {
  const file = seedFile(outputDir, runId, sourceId);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SeedResultFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A corrupt file cannot come from an atomic write; treat it as absent (the seed re-runs) and say so.
    log.warn('unreadable seed result; the seed will be re-run', { file, error: (e as Error).message });
    return null;
  }
}


/** `heartbeatMs`: how often writeOutputs heartbeats (default OUTPUTS_HEARTBEAT_MS; tests shorten it). */
export function createOutputActivities(opts: { heartbeatMs?: number } = {}) {
  const heartbeatMs = opts.heartbeatMs ?? OUTPUTS_HEARTBEAT_MS;
  return {
    /**
     * Records the run manifest once; refuses to mix a run id with a different config or seed list — except that
     * a retry (`retry_failed`) may change the config (the fix), which is then recorded in `config_history`.
     * Returns how many seed results the folder already holds and when the run first started (its output files
     * are named after that, so every execution of the run rewrites the same files).
     *
     * Seeds: `seeds` (inline runs: the list, recorded in the manifest — as every execution before seeds by
     * reference existed) or `prepared_seeds` (by-reference runs: prepareSeeds' result; the manifest records the
     * source file, its size, sha256 and the seed count, not the list, and the run fingerprint is computed from
     * the prepared seeds.jsonl). Exactly one of them.
     */
    async prepareRun(input: {
      run_id: string;
      output_dir: string;
      config: SynthesisConfig;
      seeds?: Seed[];
      prepared_seeds?: PrepareSeedsResult;
      duplicates_dropped: number;
      started_at: string;
      retry_failed?: boolean;
    }): Promise<{ existing_seed_results: number; started_at: string }> {
      if (!path.isAbsolute(input.output_dir)) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          nonRetryable: true,
          message: `output_dir: expected an absolute path, got ${JSON.stringify(input.output_dir)}`,
        });
      }
      if ((input.seeds === undefined) === (input.prepared_seeds === undefined)) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          nonRetryable: true,
          message: `prepareRun: expected either seeds (inline) or prepared_seeds (prepareSeeds' result), got ${input.seeds ? 'both' : 'neither'}`,
        });
      }
      const dir = runDir(input.output_dir, input.run_id);
      let config_hash: string;
      let fingerprintSeeds: string;
      if (input.prepared_seeds) {
        const prepared = readPreparedSeeds(dir);
        if (!prepared || prepared.fingerprint_seeds !== input.prepared_seeds.fingerprint_seeds) {
          throw ApplicationFailure.create({
            type: FailureType.OutputConflict,
            nonRetryable: true,
            message: `run ${input.run_id}: the seeds prepared in ${dir} are ${prepared ? 'not the ones given' : 'missing'}; run prepareSeeds for this run first`,
          });
        }
        const f = new RunFingerprint(input.config);
        for await (const seed of preparedSeeds(dir)) f.add(seed.source_id);
        config_hash = f.digest();
        fingerprintSeeds = prepared.fingerprint_seeds;
      } else {
        config_hash = runFingerprint(input.config, input.seeds!);
        fingerprintSeeds = seedListFingerprint(input.seeds!.map((s) => s.source_id));
      }
      const manifestFile = path.join(dir, 'manifest.json');
      const existing = readManifest(input.output_dir, input.run_id);
      if (existing) {
        if (existing.config_hash !== config_hash) {
          const sameSeeds = manifestSeedsFingerprint(existing) === fingerprintSeeds;
          if (!input.retry_failed || !sameSeeds) {
            throw ApplicationFailure.create({
              type: FailureType.OutputConflict,
              nonRetryable: true,
              message:
                `run ${input.run_id} already exists in ${dir} with a different ` +
                (sameSeeds
                  ? 'config. To re-run its failed seeds with this config, keep the run id and add --retry-failed ' +
                    '(input "retry_failed": true); otherwise use a new run id'
                  : 'seed list; use a new run id, or delete that folder to start over'),
            });
          }
          const { config_history: history = [], ...previous } = existing;
          const amended: RunManifest = {
            ...existing,
            config: input.config,
            config_hash,
            config_history: [...history, { config: previous.config, config_hash: previous.config_hash, replaced_at: input.started_at }],
          };
          writeFileAtomic(manifestFile, JSON.stringify(amended));
        }
        return { existing_seed_results: countSeedResults(input.output_dir, input.run_id), started_at: existing.started_at };
      }
      const base = { run_id: input.run_id, config: input.config };
      const tail = { duplicates_dropped: input.duplicates_dropped, started_at: input.started_at, config_hash };
      const p = input.prepared_seeds;
      const manifest: RunManifest = p
        ? { ...base, seeds_source: p.source, seeds_total: p.seeds_total, fingerprint_seeds: p.fingerprint_seeds, ...tail }
        : { ...base, seeds: input.seeds, ...tail };
      writeFileAtomic(manifestFile, JSON.stringify(manifest));
      return { existing_seed_results: countSeedResults(input.output_dir, input.run_id), started_at: manifest.started_at };
    },

    /**
     * One page of the run's seeds, checked against their results: the summary of each seed whose result is final
     * (succeeded or budget-stopped; it is not run again), null for the others (failed, no QA, never run). Lets a
     * resumed or retried run skip its finished seeds without starting a child workflow for each.
     */
    async finishedSeeds(input: { run_id: string; output_dir: string; source_ids: string[] }): Promise<(SeedSummary | null)[]> {
      return input.source_ids.map((id) => finishedSummary(input.output_dir, input.run_id, id));
    },

    /**
     * The summary of a seed that is final in this run (resume, resubmit, retry), else null. Final: succeeded,
     * or stopped by the budget with what it had. Failed and no-QA seeds run again.
     */
    async loadSeedResult(input: { run_id: string; output_dir: string; source_id: string }): Promise<SeedSummary | null> {
      const r = readSeedResult(input.output_dir, input.run_id, input.source_id);
      return r && isFinal(r) ? summarize(r, true) : null;
    },

    /**
     * Stores one seed's records durably (atomic; rewriting the same seed replaces, never duplicates). A result
     * that replaces an earlier failed or no-QA attempt carries that attempt's spending in `prior_attempts`.
     */
    async writeSeedResult(input: { output_dir: string; result: SeedResultFile }): Promise<SeedSummary> {
      const { result } = input;
      const existing = readSeedResult(input.output_dir, result.run_id, result.source_id);
      // Never replace a final result with a later failure record (e.g. a parent-side fallback).
      if (existing && isFinal(existing) && (result.status === 'failed' || result.status === 'no_qa')) return summarize(existing, true);
      const stored: SeedResultFile =
        existing && !isFinal(existing) && existing.started_at !== result.started_at
          ? { ...result, prior_attempts: priorAttempts(existing) }
          : result;
      writeFileAtomic(seedFile(input.output_dir, result.run_id, result.source_id), JSON.stringify(stored));
      return summarize(stored, false);
    },

    /**
     * Builds the final QA, trajectory and statistics files from the manifest and the seed results, one seed at a
     * time in input order (the manifest's list, or seeds.jsonl of a by-reference run): memory stays flat whatever
     * the number of seeds. Per-seed statistics rows go to `seed_statistics_<mode>_<ts>.jsonl` (and inline into
     * statistics.json for runs of ≤ PER_SEED_INLINE_MAX seeds). Heartbeats `{phase, seeds_done, seeds_total}`
     * every OUTPUTS_HEARTBEAT_MS. Every file is written to a temp file and renamed: a retry rewrites the same files.
     */
    async writeOutputs(input: WriteOutputsInput): Promise<WriteOutputsResult> {
      const manifest = readManifest(input.output_dir, input.run_id);
      const dir = runDir(input.output_dir, input.run_id);
      if (!manifest) {
        throw ApplicationFailure.create({
          type: FailureType.OutputConflict,
          nonRetryable: true,
          message: `no manifest for run ${input.run_id} in ${dir}; was the folder deleted?`,
        });
      }
      if (!manifest.seeds && !fs.existsSync(path.join(dir, SEEDS_JSONL))) {
        throw ApplicationFailure.create({
          type: FailureType.OutputConflict,
          nonRetryable: true,
          message: `run ${input.run_id} takes its seeds from ${path.join(dir, SEEDS_JSONL)}, which is missing; was the folder changed?`,
        });
      }
      const total = manifest.seeds?.length ?? manifest.seeds_total ?? 0;
      const name = (kind: string, ext: string) => path.join(dir, `${kind}_${input.mode}_${input.timestamp}.${ext}`);
      const qaPath = name('synthesized_qa', 'jsonl');
      const trajPath = name('trajectories', 'jsonl');
      const statsPath = name('statistics', 'json');
      const perSeedPath = name('seed_statistics', 'jsonl');
      const rejectedPath = name('rejected_qa', 'jsonl');
      const files = [new AtomicLines(qaPath), new AtomicLines(trajPath), new AtomicLines(perSeedPath), new AtomicLines(rejectedPath)] as const;
      const [qaOut, trajOut, perSeedOut, rejectedOut] = files;
      // Manifests written before `dedup`/`grounding` existed: their defaults.
      const config = withConfigDefaults(manifest.config);
      const dedup = config.dedup.enabled ? new QaDeduplicator(config.dedup) : null;
      const funnel = new FunnelBuilder(config.min_depth);
      const stats = new StatisticsBuilder({
        run_id: input.run_id,
        mode: input.mode,
        config: manifest.config,
        started_at: manifest.started_at,
        finished_at: manifest.started_at, // set by finish()
        completion: input.completion,
        duplicates_dropped: manifest.duplicates_dropped,
      });
      const inline = total <= PER_SEED_INLINE_MAX ? ([] as ReturnType<StatisticsBuilder['add']>[]) : null;
      const beat = progressHeartbeat(heartbeatMs);
      let succeeded = 0;
      let failed = 0;
      let noQa = 0;
      let budgetExhausted = 0;
      let missing = 0;
      let index = 0;
      let yieldAt = Date.now() + 100;
      try {
        for await (const seed of manifest.seeds ?? preparedSeeds(dir)) {
          const result = readSeedResult(input.output_dir, input.run_id, seed.source_id);
          if (!result) missing += 1;
          else if (result.status === 'succeeded') succeeded += 1;
          else if (result.status === 'budget_exhausted') budgetExhausted += 1;
          else if (result.status === 'no_qa') noQa += 1;
          else failed += 1;
          // Dedup in input order: the first occurrence is kept, each later one is listed with the QA it duplicates.
          dedup?.beginSeed();
          let kept = 0;
          for (const qa of result?.qas ?? []) {
            const verdict = dedup?.check(qa) ?? null;
            if (!verdict) {
              qaOut.write(qa);
              kept += 1;
              continue;
            }
            rejectedOut.write({ ...qa, rejection: { stage: 'dedup', reason: verdict.reason, duplicate_of: verdict.duplicate_of } } satisfies RejectedQaRecord);
            funnel.dropped(verdict.reason);
          }
          for (const r of result?.rejected_qas ?? []) rejectedOut.write(r);
          funnel.addSeed(result ?? undefined, kept);
          for (const t of result?.trajectories ?? []) trajOut.write(t);
          const row = stats.add({ source_id: seed.source_id, seed_data: seed.text, index, result: result ?? undefined, kept_qa: kept });
          perSeedOut.write(row);
          inline?.push(row);
          index += 1;
          if (Date.now() >= yieldAt) {
            beat({ phase: 'writing', seeds_done: index, seeds_total: total });
            await new Promise((r) => setImmediate(r)); // lets the SDK send the heartbeat
            yieldAt = Date.now() + 100;
          }
        }
        for (const f of files) f.commit();
      } catch (e) {
        for (const f of files) f.discard();
        throw e;
      }
      const { config: statsConfig, ...finished } = stats.finish(new Date().toISOString());
      const document = {
        ...finished,
        funnel: funnel.finish(),
        rejected_qa_file: path.basename(rejectedPath),
        ...(inline ? { per_seed: inline } : {}),
        per_seed_file: path.basename(perSeedPath),
        config: statsConfig,
      };
      writeFileAtomic(statsPath, `${JSON.stringify(document, null, 2)}\n`);
      log.info('outputs written', { run_id: input.run_id, seeds: index, qa: qaOut.count, trajectories: trajOut.count, rejected_qa: rejectedOut.count });
      return {
        qa_path: qaPath,
        llm_calls: finished.llm.calls,
        llm_requests: finished.llm.requests,
        input_tokens: finished.llm.input_tokens,
        output_tokens: finished.llm.output_tokens,
        rejected_qa_path: rejectedPath,
        rejected_qa_count: rejectedOut.count,
        trajectories_path: trajPath,
        statistics_path: statsPath,
        qa_count: qaOut.count,
        trajectory_count: trajOut.count,
        seeds_succeeded: succeeded,
        seeds_failed: failed,
        seeds_no_qa: noQa,
        seeds_budget_exhausted: budgetExhausted,
        seeds_missing: missing,
        estimated_cost_usd: finished.llm.estimated_cost_usd ?? 0,
      };
    },
  };
}

export type OutputActivities = ReturnType<typeof createOutputActivities>;

/**
 * `writeSeedResultHere`, registered on every worker that runs workflows, for the seed workflow to call as a local
 * activity first: a worker that also owns the output folder (`hasOutput`: not started with `--no-output`) stores the
 * result as `writeSeedResult` on the output queue would — without the round trip through another task queue, the
 * workflow task that takes its result, and the result's copy in the seed's history (a local activity's input is
 * not recorded). Any other worker refuses at once with a non-retryable `OutputElsewhere`, and the workflow sends the
 * result to the output queue: its marker says so, so every replay takes the same branch.
 */
export function createSeedResultWriter(hasOutput: boolean) {
  const outputs = createOutputActivities();
  return {
    async writeSeedResultHere(input: { output_dir: string; result: SeedResultFile }): Promise<SeedSummary> {
      if (!hasOutput) {
        throw ApplicationFailure.create({
          type: FailureType.OutputElsewhere,
          nonRetryable: true,
          message: 'this worker does not write outputs (--no-output): the output task queue stores the seed result',
        });
      }
      return outputs.writeSeedResult(input);
    },
  };
}

export type SeedResultWriter = ReturnType<typeof createSeedResultWriter>;
