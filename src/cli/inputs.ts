/** Turns CLI flags and files into a validated batch input; every problem is reported at once (exit 2). */
import path from 'node:path';
import type { BatchInput, Seed, SynthesisConfig } from '../shared/types';
import { loadConfigFile, loadSeedsFile, ConfigError } from '../config/load';
import { parseBatchInput, RUN_ID_PATTERN } from '../config/schema';
import { runFingerprint } from '../activities/outputs';
import { isPlainObject } from '../domain/format';

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
}

export interface PreparedInput {
  input: BatchInput;
  config: SynthesisConfig;
  seeds: Seed[];
  duplicates: { source_id: string; text: string; count: number }[];
}

/**
 * Largest batch input (run id, config, seeds, output dir) as JSON, in bytes. The Temporal server refuses a
 * workflow input above 2 MiB (its default `limit.blobSize.error`) with an unhelpful "Failed to start Workflow";
 * the margin covers the payload's encoding metadata.
 */
export const MAX_INPUT_BYTES = 2_000_000;

export function prepareInput(flags: InputFlags): PreparedInput {
  const issues: string[] = [];
  // Files that cannot be read are reported with everything else that can be checked: a missing seeds file
  // does not hide the config's problems. A part that failed to load is replaced by a valid placeholder.
  let rawConfig: unknown = {};
  let rawSeeds: unknown[] = ['placeholder'];
  try {
    rawConfig = loadConfigFile(flags.config);
  } catch (e) {
    if (e instanceof ConfigError) issues.push(...e.issues);
    else throw e;
  }
  try {
    rawSeeds = loadSeedsFile(flags.seeds);
  } catch (e) {
    if (e instanceof ConfigError) issues.push(...e.issues);
    else throw e;
  }
  const runIdOk = flags.runId === undefined || RUN_ID_PATTERN.test(flags.runId);
  if (!runIdOk) issues.push(`--run-id: expected 1–80 characters from A–Z a–z 0–9 . _ -, got ${JSON.stringify(flags.runId)}`);
  // Flags override the config's keys; a config file that is not an object (null, a list) stays an error.
  if (isPlainObject(rawConfig)) {
    const overrides: Record<string, unknown> = {};
    if (flags.maxWorkers !== undefined) overrides.max_workers = flags.maxWorkers;
    if (flags.numberOfSeed !== undefined) overrides.number_of_seed = flags.numberOfSeed;
    rawConfig = { ...rawConfig, ...overrides };
  }
  const outputDir = path.resolve(flags.outputDir ?? 'out');
  const draft = {
    run_id: (runIdOk && flags.runId) || 'pending',
    config: rawConfig,
    seeds: rawSeeds,
    output_dir: outputDir,
    ...(flags.force ? { force: true } : {}),
  };
  const parsed = parseBatchInput(draft);
  if (!parsed.ok) issues.push(...parsed.issues);
  if (issues.length || !parsed.ok) throw new UsageError(issues);
  // Same config and seeds → same run id → re-running the command resumes the same run.
  const runId = flags.runId ?? `run-${runFingerprint(parsed.config, parsed.seeds).slice(0, 12)}`;
  // Only the seeds that number_of_seed keeps travel to the workflow (it applies the same cut again).
  const n = parsed.config.number_of_seed;
  const input: BatchInput = { ...draft, run_id: runId, config: rawConfig as Record<string, unknown>, seeds: n == null ? rawSeeds : rawSeeds.slice(0, n) };
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_INPUT_BYTES) {
    throw new UsageError([
      `seeds: expected at most ${MAX_INPUT_BYTES} bytes of seeds and config as JSON (the Temporal server's default limit for a workflow input), ` +
        `got ${bytes} bytes; split the seeds over several runs or use --number-of-seed`,
    ]);
  }
  return { input, config: parsed.config, seeds: parsed.seeds, duplicates: parsed.duplicates };
}
