/**
 * Read-only access to a finished run's folder `<output_dir>/<run_id>/` (layout: src/activities/outputs.ts), for the
 * after-the-run commands (`qasynth export`, `report`, `show`). Nothing here writes to the run folder, and nothing
 * needs a Temporal server or a worker: only the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { QaRecord, RejectedQaRecord, Seed, SeedResultFile, TrajectoryRecord, YieldFunnel } from '../shared/types';
import type { RunManifest } from '../activities/outputs';
import type { RunStatistics } from '../domain/statistics';
import { preparedSeeds, SEEDS_JSONL } from '../activities/prepared-seeds';

/** A problem with what the user pointed a command at (the CLI reports it as a usage error, exit 2). */
export class RunFolderError extends Error {}

/** The statistics document of a run (statistics_<mode>_<ts>.json), with the fields added by later stages. */
export type RunStatisticsFile = Omit<RunStatistics, 'config'> & { funnel?: YieldFunnel; config?: RunStatistics['config'] };

/** A run folder, opened: which of its files exist. */
export interface RunFolder {
  /** Absolute path of `<output_dir>/<run_id>/`. */
  dir: string;
  run_id: string;
  /** manifest.json (null: absent or unreadable; the seed order then comes from the seeds/ folder). */
  manifest: RunManifest | null;
  /** The final files (null when writeOutputs has not written them, e.g. a run still going). */
  qa_file: string | null;
  trajectories_file: string | null;
  statistics_file: string | null;
  /** `rejected_qa_<mode>_<ts>.jsonl` (written by the grounding/verification/dedup stages), when present. */
  rejected_file: string | null;
  statistics: RunStatisticsFile | null;
}

/**
 * Resolves what a user typed: a run folder (a directory holding manifest.json or seeds/), else a run id under
 * `outputDir` (default `out`, as `qasynth run --output-dir`). Throws RunFolderError naming both places tried.
 */
export function resolveRunDir(runDirOrId: string, outputDir = 'out'): string {
  const asDir = path.resolve(runDirOrId);
  const looksLikeRun = (d: string) => fs.existsSync(path.join(d, 'manifest.json')) || fs.existsSync(path.join(d, 'seeds'));
  if (looksLikeRun(asDir)) return asDir;
  const underOut = path.resolve(outputDir, runDirOrId);
  if (!runDirOrId.includes('/') && looksLikeRun(underOut)) return underOut;
  throw new RunFolderError(
    `run: ${JSON.stringify(runDirOrId)} is neither a run folder (a directory with manifest.json or seeds/) nor a run id under ${path.resolve(outputDir)}; ` +
      'give the folder <output-dir>/<run-id>, or the run id with --output-dir',
  );
}

/** Newest file of the folder named `<prefix>_<mode>_<ts>.<ext>` (the timestamp sorts by name), or null. */
function newest(dir: string, prefix: string, ext: string): string | null {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const hits = names.filter((n) => n.startsWith(`${prefix}_`) && n.endsWith(`.${ext}`) && !n.includes('.tmp-')).sort();
  return hits.length ? path.join(dir, hits[hits.length - 1]!) : null;
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunFolderError(`${file}: not readable as JSON (${(e as Error).message})`);
  }
}

/** Opens a run folder (see resolveRunDir). Throws RunFolderError when it is not one. */
export function openRun(runDirOrId: string, outputDir?: string): RunFolder {
  const dir = resolveRunDir(runDirOrId, outputDir);
  const manifest = readJson<RunManifest>(path.join(dir, 'manifest.json'));
  const statistics_file = newest(dir, 'statistics', 'json');
  return {
    dir,
    run_id: manifest?.run_id ?? path.basename(dir),
    manifest,
    qa_file: newest(dir, 'synthesized_qa', 'jsonl'),
    trajectories_file: newest(dir, 'trajectories', 'jsonl'),
    statistics_file,
    rejected_file: newest(dir, 'rejected_qa', 'jsonl'),
    statistics: statistics_file ? readJson<RunStatisticsFile>(statistics_file) : null,
  };
}

/** Records of a JSONL file, streamed (one line in memory at a time). A bad line throws naming file and line. */
export async function* readJsonl<T>(file: string): AsyncGenerator<T> {
  const input = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n += 1;
      if (!line.trim()) continue;
      try {
        yield JSON.parse(line) as T;
      } catch (e) {
        throw new RunFolderError(`${file}:${n}: not a JSON line (${(e as Error).message})`);
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** One seed's result file, or null when the seed has none (never finished). */
export function readSeedResultFile(run: RunFolder, sourceId: string): SeedResultFile | null {
  return readJson<SeedResultFile>(path.join(run.dir, 'seeds', `${sourceId}.json`));
}

/**
 * The run's seeds in input order: the manifest's list (inline runs), seeds.jsonl (by-reference runs), else — a
 * folder without a manifest — the result files in name order (text from each result).
 */
export async function* runSeeds(run: RunFolder): AsyncGenerator<Seed> {
  if (run.manifest?.seeds) {
    yield* run.manifest.seeds;
    return;
  }
  if (fs.existsSync(path.join(run.dir, SEEDS_JSONL))) {
    yield* preparedSeeds(run.dir);
    return;
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(run.dir, 'seeds')).filter((n) => n.endsWith('.json')).sort();
  } catch {
    /* no seeds folder */
  }
  for (const n of names) {
    const id = n.slice(0, -'.json'.length);
    yield { source_id: id, text: readSeedResultFile(run, id)?.seed_data ?? '' };
  }
}

/**
 * The run's kept QA records in file order: the final QA file, or — before writeOutputs wrote it — the seed results'
 * `qas` in seed order.
 */
export async function* keptQas(run: RunFolder): AsyncGenerator<QaRecord> {
  if (run.qa_file) {
    yield* readJsonl<QaRecord>(run.qa_file);
    return;
  }
  for await (const seed of runSeeds(run)) yield* readSeedResultFile(run, seed.source_id)?.qas ?? [];
}

/**
 * The QA written but not kept, with why: the run's rejected-QA file when a stage wrote one (it is the complete
 * list: grounding, verification, dedup), else every seed result's `rejected_qas`.
 */
export async function* rejectedQas(run: RunFolder): AsyncGenerator<RejectedQaRecord> {
  if (run.rejected_file) {
    yield* readJsonl<RejectedQaRecord>(run.rejected_file);
    return;
  }
  for await (const seed of runSeeds(run)) yield* readSeedResultFile(run, seed.source_id)?.rejected_qas ?? [];
}

/**
 * Finds a QA's trajectory, reading each seed's result file once while QA come in seed order (memory: one seed's
 * result). Falls back to the trajectories file when the seed's result is missing.
 */
export class TrajectoryLookup {
  private sourceId: string | null = null;
  private byId = new Map<string, TrajectoryRecord>();
  private fromFile: Map<string, TrajectoryRecord> | null = null;
  constructor(private readonly run: RunFolder) {}

  /** The trajectory `trajectoryId` of seed `sourceId`, or null when the run has no record of it. */
  async get(sourceId: string, trajectoryId: string): Promise<TrajectoryRecord | null> {
    if (sourceId !== this.sourceId) {
      this.sourceId = sourceId;
      const result = readSeedResultFile(this.run, sourceId);
      this.byId = new Map((result?.trajectories ?? []).map((t) => [t.trajectory_id, t]));
    }
    const hit = this.byId.get(trajectoryId);
    if (hit) return hit;
    if (!this.run.trajectories_file) return null;
    if (!this.fromFile) {
      this.fromFile = new Map();
      for await (const t of readJsonl<TrajectoryRecord>(this.run.trajectories_file)) this.fromFile.set(t.trajectory_id, t);
    }
    return this.fromFile.get(trajectoryId) ?? null;
  }
}
