/** Turns CLI flags and files into a validated batch input; every problem is reported at once (exit 2). */
import path from 'node:path';
import type { BatchInput, Seed, SynthesisConfig } from '../shared/types';
import { loadConfigFile, loadSeedsFile, ConfigError } from '../config/load';
import { parseBatchInput, RUN_ID_PATTERN } from '../config/schema';
import { runFingerprint } from '../activities/outputs';

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
}

export interface PreparedInput {
  input: BatchInput;
  config: SynthesisConfig;
  seeds: Seed[];
  duplicates: { source_id: string; text: string; count: number }[];
}

export function prepareInput(flags: InputFlags): PreparedInput {
  let rawConfig: Record<string, unknown>;
  let rawSeeds: unknown[];
  const issues: string[] = [];
  try {
    rawConfig = loadConfigFile(flags.config) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) issues.push(...e.issues);
    else throw e;
    rawConfig = {};
  }
  try {
    rawSeeds = loadSeedsFile(flags.seeds);
  } catch (e) {
    if (e instanceof ConfigError) issues.push(...e.issues);
    else throw e;
    rawSeeds = [];
  }
  if (issues.length) throw new UsageError(issues);
  if (flags.maxWorkers !== undefined) rawConfig = { ...rawConfig, max_workers: flags.maxWorkers };
  if (flags.numberOfSeed !== undefined) rawConfig = { ...rawConfig, number_of_seed: flags.numberOfSeed };
  if (flags.runId !== undefined && !RUN_ID_PATTERN.test(flags.runId)) {
    throw new UsageError([`--run-id: expected 1–80 characters from A–Z a–z 0–9 . _ -, got ${JSON.stringify(flags.runId)}`]);
  }
  const outputDir = path.resolve(flags.outputDir ?? 'out');
  const draft = { run_id: flags.runId ?? 'pending', config: rawConfig, seeds: rawSeeds, output_dir: outputDir };
  const parsed = parseBatchInput(draft);
  if (!parsed.ok) throw new UsageError(parsed.issues);
  // Same config and seeds → same run id → re-running the command resumes the same run.
  const runId = flags.runId ?? `run-${runFingerprint(parsed.config, parsed.seeds).slice(0, 12)}`;
  return {
    input: { ...draft, run_id: runId },
    config: parsed.config,
    seeds: parsed.seeds,
    duplicates: parsed.duplicates,
  };
}
