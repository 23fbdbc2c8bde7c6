/**
 * Output activities (task queue `<base>-output`, served only by the process that owns the output folder).
 *
 * Layout of `<output_dir>/<run_id>/`:
 *   manifest.json                         run id, config, seeds in input order (written once)
 *   seeds/<source_id>.json                one durable result per finished seed (atomic write)
 *   synthesized_qa_<mode>_<ts>.jsonl      final files, rebuilt from the seed results in seed order,
 *   trajectories_<mode>_<ts>.jsonl        so every record appears exactly once whatever was retried
 *   statistics_<mode>_<ts>.json
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { FailureType } from '../shared/constants';
import type {
  Seed,
  SeedResultFile,
  SeedSummary,
  SynthesisConfig,
  WriteOutputsInput,
  WriteOutputsResult,
} from '../shared/types';
import { buildStatistics } from '../domain/statistics';

export interface RunManifest {
  run_id: string;
  config_hash: string;
  config: SynthesisConfig;
  seeds: Seed[];
  duplicates_dropped: number;
  started_at: string;
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
 * results) and the seed ids in order.
 */
export function runFingerprint(config: SynthesisConfig, seeds: Seed[]): string {
  const { max_workers: _ignored, ...rest } = config;
  const canonical = JSON.stringify({ config: rest, seeds: seeds.map((s) => s.source_id) });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
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
    ...(result.error ? { error: result.error } : {}),
  };
}

/** Seed result files in a run folder (0 for a new run: its seeds need no "already done?" check). */
function countSeedResults(outputDir: string, runId: string): number {
  try {
    return fs.readdirSync(path.join(runDir(outputDir, runId), 'seeds')).filter((f) => f.endsWith('.json')).length;
  } catch {
    return 0;
  }
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

/** Writes JSONL lines to `file` atomically, one `JSON.stringify` per record. */
class AtomicLines {
  private fd: number;
  private readonly tmp: string;
  count = 0;
  constructor(private readonly file: string) {
    this.tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
    this.fd = fs.openSync(this.tmp, 'w');
  }
  write(record: unknown): void {
    fs.writeSync(this.fd, `${JSON.stringify(record)}\n`);
    this.count += 1;
  }
  commit(): void {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }
}

export function createOutputActivities() {
  return {
    /** Records the run manifest once; refuses to mix a run id with a different config or seed list. */
    async prepareRun(input: {
      run_id: string;
      output_dir: string;
      config: SynthesisConfig;
      seeds: Seed[];
      duplicates_dropped: number;
      started_at: string;
    }): Promise<{ existing_seed_results: number }> {
      if (!path.isAbsolute(input.output_dir)) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          nonRetryable: true,
          message: `output_dir: expected an absolute path, got ${JSON.stringify(input.output_dir)}`,
        });
      }
      const config_hash = runFingerprint(input.config, input.seeds);
      const existing = readManifest(input.output_dir, input.run_id);
      if (existing) {
        if (existing.config_hash !== config_hash) {
          throw ApplicationFailure.create({
            type: FailureType.OutputConflict,
            nonRetryable: true,
            message:
              `run ${input.run_id} already exists in ${runDir(input.output_dir, input.run_id)} with a different ` +
              `config or seed list; use a new run id, or delete that folder to start over`,
          });
        }
        return { existing_seed_results: countSeedResults(input.output_dir, input.run_id) };
      }
      const manifest: RunManifest = { ...input, config_hash };
      delete (manifest as unknown as Record<string, unknown>).output_dir;
      writeFileAtomic(path.join(runDir(input.output_dir, input.run_id), 'manifest.json'), JSON.stringify(manifest));
      return { existing_seed_results: countSeedResults(input.output_dir, input.run_id) };
    },

    /** The summary of a seed that already succeeded in this run (resume/resubmit), else null. */
    async loadSeedResult(input: { run_id: string; output_dir: string; source_id: string }): Promise<SeedSummary | null> {
      const r = readSeedResult(input.output_dir, input.run_id, input.source_id);
      return r && r.status === 'succeeded' ? summarize(r, true) : null;
    },

    /** Stores one seed's records durably (atomic; rewriting the same seed replaces, never duplicates). */
    async writeSeedResult(input: { output_dir: string; result: SeedResultFile }): Promise<SeedSummary> {
      const { result } = input;
      const existing = readSeedResult(input.output_dir, result.run_id, result.source_id);
      // Never replace a success with a later failure record (e.g. a parent-side fallback).
      if (existing?.status === 'succeeded' && result.status === 'failed') return summarize(existing, true);
      writeFileAtomic(seedFile(input.output_dir, result.run_id, result.source_id), JSON.stringify(result));
      return summarize(result, false);
    },

    /** Builds the final QA, trajectory and statistics files from the manifest and the seed results. */
    async writeOutputs(input: WriteOutputsInput): Promise<WriteOutputsResult> {
      const manifest = readManifest(input.output_dir, input.run_id);
      if (!manifest) {
        throw ApplicationFailure.create({
          type: FailureType.OutputConflict,
          nonRetryable: true,
          message: `no manifest for run ${input.run_id} in ${runDir(input.output_dir, input.run_id)}; was the folder deleted?`,
        });
      }
      const dir = runDir(input.output_dir, input.run_id);
      const name = (kind: string, ext: string) => path.join(dir, `${kind}_${input.mode}_${input.timestamp}.${ext}`);
      const qaPath = name('synthesized_qa', 'jsonl');
      const trajPath = name('trajectories', 'jsonl');
      const statsPath = name('statistics', 'json');
      const qaOut = new AtomicLines(qaPath);
      const trajOut = new AtomicLines(trajPath);
      const seeds: Parameters<typeof buildStatistics>[0]['seeds'] = [];
      let succeeded = 0;
      let failed = 0;
      let budgetExhausted = 0;
      let missing = 0;
      for (const [index, seed] of manifest.seeds.entries()) {
        const result = readSeedResult(input.output_dir, input.run_id, seed.source_id);
        if (!result) missing += 1;
        else if (result.status === 'succeeded') succeeded += 1;
        else if (result.status === 'budget_exhausted') budgetExhausted += 1;
        else failed += 1;
        for (const qa of result?.qas ?? []) qaOut.write(qa);
        for (const t of result?.trajectories ?? []) trajOut.write(t);
        // Statistics need counts and depths, not the records: keep memory flat on big runs.
        seeds.push({
          source_id: seed.source_id,
          seed_data: seed.text,
          index,
          result: result
            ? {
                ...result,
                qas: result.qas,
                trajectories: result.trajectories.map((t) => ({ ...t, nodes: [] })),
              }
            : undefined,
        });
      }
      qaOut.commit();
      trajOut.commit();
      const stats = buildStatistics({
        run_id: input.run_id,
        mode: input.mode,
        config: manifest.config,
        started_at: manifest.started_at,
        finished_at: new Date().toISOString(),
        completion: input.completion,
        seeds,
        duplicates_dropped: manifest.duplicates_dropped,
      });
      writeFileAtomic(statsPath, `${JSON.stringify(stats, null, 2)}\n`);
      log.info('outputs written', { run_id: input.run_id, qa: qaOut.count, trajectories: trajOut.count });
      return {
        qa_path: qaPath,
        trajectories_path: trajPath,
        statistics_path: statsPath,
        qa_count: qaOut.count,
        trajectory_count: trajOut.count,
        seeds_succeeded: succeeded,
        seeds_failed: failed,
        seeds_budget_exhausted: budgetExhausted,
        seeds_missing: missing,
        estimated_cost_usd: stats.llm.estimated_cost_usd ?? 0,
      };
    },
  };
}

export type OutputActivities = ReturnType<typeof createOutputActivities>;
