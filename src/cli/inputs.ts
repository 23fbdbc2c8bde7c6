/**
 * Turns CLI flags and files into a validated batch input; every problem is reported at once (exit 2). The seeds
 * file is streamed (src/config/seeds-stream.ts: any size, bounded memory) and validated here, before anything
 * is submitted or paid; small seed lists travel inline in the workflow input, large ones by reference.
 */
import path from 'node:path';
import type { BatchInput, SynthesisConfig } from '../shared/types';
import { loadConfigFile, ConfigError } from '../config/load';
import { parseBatchInput, parseConfig, RUN_ID_PATTERN } from '../config/schema';
import { readSeedsFile } from '../config/seeds-stream';
import { RunFingerprint } from '../activities/outputs';
import type { DuplicateSeed } from '../domain/ids';
import { isPlainObject } from '../domain/format';
import { absurdRun } from '../domain/limits';

/**
 * The one wording of duplicate seeds for `validate`, `run` and the result line: the copies dropped (what
 * BatchResult.duplicates_dropped counts), then how many distinct seeds had copies. "" when there are none.
 * Example: `3 duplicate copies dropped (2 seeds appear more than once)`.
 */
export function describeDuplicates(dropped: number, distinct?: number): string {
  if (!dropped) return '';
  const copies = `${dropped} duplicate cop${dropped === 1 ? 'y' : 'ies'} dropped`;
  if (distinct === undefined) return copies;
  return `${copies} (${distinct} seed${distinct === 1 ? ' appears' : 's appear'} more than once)`;
}

/** Bad input: the CLI prints each line and exits with code 2. */
export class UsageError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
  }
}

export interface InputFlags {
  config: string;
  seeds: string;
  runId?: string;
  outputDir?: string;
  maxWorkers?: number;
  numberOfSeed?: number;
  /** Run even what looks absurd (src/domain/limits.ts). */
  force?: boolean;
  /** Pass the seeds by reference (`seeds_file`) even when they would fit inline. */
  seedsByReference?: boolean;
  /** False (`--no-cache`): the run does not use the call cache (config `cache.enabled: false`). */
  cache?: boolean;
}

export interface PreparedInput {
  /** What is submitted: `seeds` (the raw list, inline) or `seeds_file` (the absolute path, by reference). */
  input: BatchInput;
  config: SynthesisConfig;
  /** Unique valid seeds the run will process (after number_of_seed and duplicate removal). */
  seeds_total: number;
  /** Occurrences dropped as duplicates of an earlier seed. */
  duplicates_dropped: number;
  /** Distinct seeds that occur more than once; `duplicates` describes the first ones (at most 20). */
  duplicated_seeds: number;
  duplicates: DuplicateSeed[];
  /** True when the seeds go by reference (input.seeds_file). */
  by_reference: boolean;
}

/**
 * Largest batch input (run id, config, seeds, output dir) as JSON, in bytes. The Temporal server refuses a
 * workflow input above 2 MiB (its default `limit.blobSize.error`) with an unhelpful "Failed to start Workflow";
 * the margin covers the payload's encoding metadata.
 */
export const MAX_INPUT_BYTES = 2_000_000;

/**
 * Largest batch input with the seeds inline, in bytes (512 KiB); above it the seeds go by reference. Well below
 * MAX_INPUT_BYTES: an inline list is copied into the parent's history at each continue-as-new.
 */
export const MAX_INLINE_INPUT_BYTES = 512 * 1024;

export async function prepareInput(flags: InputFlags): Promise<PreparedInput> {
  const fileIssues: string[] = [];
  const issues: string[] = [];
  // Files that cannot be read are reported with everything else that can be checked: a missing seeds file
  // does not hide the config's problems. A config that failed to load is replaced by a valid placeholder.
  let rawConfig: unknown = {};
  try {
    rawConfig = loadConfigFile(flags.config);
  } catch (e) {
    if (e instanceof ConfigError) fileIssues.push(...e.issues);
    else throw e;
  }
  const runIdOk = flags.runId === undefined || RUN_ID_PATTERN.test(flags.runId);
  if (!runIdOk) issues.push(`--run-id: expected 1–80 characters from A–Z a–z 0–9 . _ -, got ${JSON.stringify(flags.runId)}`);
  // Flags override the config's keys; a config file that is not an object (null, a list) stays an error.
  if (isPlainObject(rawConfig)) {
    const overrides: Record<string, unknown> = {};
    if (flags.maxWorkers !== undefined) overrides.max_workers = flags.maxWorkers;
    if (flags.numberOfSeed !== undefined) overrides.number_of_seed = flags.numberOfSeed;
    if (flags.cache === false) {
      const given = (rawConfig as Record<string, unknown>).cache;
      overrides.cache = { ...(isPlainObject(given) ? given : {}), enabled: false };
    }
    rawConfig = { ...rawConfig, ...overrides };
  }
  const outputDir = path.resolve(flags.outputDir ?? 'out');
  const seedsFile = path.resolve(flags.seeds);
  const runId = (runIdOk && flags.runId) || 'pending';
  // The input's shape and the config (seed content is checked while streaming the file, below).
  const shape = parseBatchInput({ run_id: runId, config: rawConfig, seeds_file: seedsFile, output_dir: outputDir });
  if (!shape.ok) issues.push(...shape.issues);

  const parsedConfig = isPlainObject(rawConfig) ? parseConfig(rawConfig) : null;
  const config = parsedConfig?.ok ? parsedConfig.config : null;
  let n: number | null = config?.number_of_seed ?? null;
  if (!config && isPlainObject(rawConfig)) {
    const rawN = rawConfig.number_of_seed;
    n = typeof rawN === 'number' && Number.isInteger(rawN) && rawN >= 1 ? rawN : null;
  }
  // One pass over the seeds: validation, the run fingerprint, and the raw list while it is small enough to go inline.
  const fingerprint = config ? new RunFingerprint(config) : null;
  let inline: unknown[] | null = flags.seedsByReference ? null : [];
  let inlineBytes = 0;
  const read = await readSeedsFile(flags.seeds, {
    numberOfSeed: n,
    stopAtCut: true,
    onItem: (raw) => {
      if (!inline) return;
      inlineBytes += Buffer.byteLength(JSON.stringify(raw) ?? 'null') + 1;
      if (inlineBytes > MAX_INLINE_INPUT_BYTES) inline = null;
      else inline.push(raw);
    },
    onSeed: (seed) => fingerprint?.add(seed.source_id),
  });
  // Problems of the files first (as they are read), then flags and the config, then the seeds one by one.
  const seedIssues = read.issues.filter((i) => i.startsWith('seeds'));
  const more = read.issues.filter((i) => / more problems? not listed;/.test(i));
  fileIssues.push(...read.issues.filter((i) => !i.startsWith('seeds') && !more.includes(i)));
  const all = [...fileIssues, ...issues, ...seedIssues, ...more];
  if (all.length) throw new UsageError(all);
  if (!config || !fingerprint) throw new Error('unreachable: a valid config has no issues');
  // A run nobody means is refused here, before submitting (the workflow checks again with the prepared count).
  const absurd = flags.force ? null : absurdRun(config, read.seeds_total);
  if (absurd) throw new UsageError([`config: ${absurd}`]);

  // Same config and seeds → same run id → re-running the command resumes the same run (inline or by reference).
  const run_id = flags.runId ?? `run-${fingerprint.digest().slice(0, 12)}`;
  const common = { run_id, config: rawConfig as Record<string, unknown> };
  const tail = flags.force ? { output_dir: outputDir, force: true } : { output_dir: outputDir };
  let input: BatchInput = inline ? { ...common, seeds: inline, ...tail } : { ...common, seeds_file: seedsFile, ...tail };
  if (inline && Buffer.byteLength(JSON.stringify(input)) > MAX_INLINE_INPUT_BYTES) input = { ...common, seeds_file: seedsFile, ...tail };
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_INPUT_BYTES) {
    throw new UsageError([
      `config: expected at most ${MAX_INPUT_BYTES} bytes of batch input as JSON (the Temporal server's default limit for a workflow input), ` +
        `got ${bytes} bytes without the seeds (they go by reference); shorten the config (qa_examples, tips)`,
    ]);
  }
  return {
    input,
    config,
    seeds_total: read.seeds_total,
    duplicates_dropped: read.duplicates_dropped,
    duplicated_seeds: read.duplicated_seeds,
    duplicates: read.duplicates,
    by_reference: input.seeds_file !== undefined,
  };
}
