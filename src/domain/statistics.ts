/** Per-seed counters and the run's statistics file. Workflow-safe (time comes in as ISO strings). */
import type { BatchCompletion, SeedCounters, SeedResultFile, SeedStatus, SynthesisConfig } from '../shared/types';

export function emptySeedCounters(): SeedCounters {
  return {
    llm_calls: 0,
    llm_requests: 0,
    usage_estimated_calls: 0,
    llm_failed_outputs: 0,
    input_tokens: 0,
    output_tokens: 0,
    tool_calls: {},
    tool_errors: {},
    skipped_branches: {},
    nodes: 0,
    leaves: 0,
    qa_rejected: {},
    duplicate_actions: 0,
    cost_usd: 0,
  };
}

/** Sum of two count maps (new object; keys in first-seen order). */
export function mergeCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Adds one count to a map in place. */
export function incrementCount(rec: Record<string, number>, key: string, by = 1): void {
  rec[key] = (rec[key] ?? 0) + by;
}

function sortedCounts(rec: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(rec).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)));
}

export interface StatisticsSeed {
  source_id: string;
  seed_data: string;
  index: number;
  /** Absent when the seed never finished (cancelled run): counted as missing. */
  result?: SeedResultFile;
}

export interface PerSeedStatistics {
  source_id: string;
  index: number;
  status: SeedStatus | 'missing';
  qa: number;
  trajectories: number;
  nodes: number;
  llm_calls: number;
  /** HTTP requests sent for this seed, earlier attempts included. */
  llm_requests: number;
  /** Attempts at this seed (1 unless a retry replaced a failed or no-QA result). */
  attempts: number;
  input_tokens: number;
  output_tokens: number;
  tool_calls: number;
  tool_errors: number;
  error?: string;
  error_type?: string;
}

export interface RunStatistics {
  run_id: string;
  environment_mode: string;
  model_name: string;
  completion: BatchCompletion;
  started_at: string;
  finished_at: string;
  wall_time_seconds: number | null;
  /** missing = no result: not started (cancelled or budget spent) or lost. */
  seeds: { total: number; succeeded: number; failed: number; no_qa: number; budget_exhausted: number; missing: number; duplicates_dropped: number };
  /** Failed and no-QA seeds, in input order, with their error and its stable kind. */
  failed_seeds: { source_id: string; seed_data: string; status: 'failed' | 'no_qa'; error: string; error_type: string }[];
  /** error_type → number of seeds (failed and no-QA), most frequent first. */
  errors_by_type: Record<string, number>;
  total_qas: number;
  total_trajectories: number;
  total_nodes: number;
  avg_trajectory_depth: number;
  /** estimated_cost_usd from config.prices (null without a price for the models used). */
  /**
   * `calls`: logical LLM calls (one per action choice or QA attempt, earlier attempts of retried seeds included);
   * `requests`: HTTP requests actually sent to the endpoint for them (retries, capability fallbacks and calls
   * that failed included; ≥ calls); `usage_estimated_calls`: calls whose token counts were estimated with a
   * tokenizer because the endpoint reported none (then the token totals are partly estimates).
   */
  llm: {
    calls: number;
    requests: number;
    failed_outputs: number;
    input_tokens: number;
    output_tokens: number;
    usage_estimated_calls: number;
    estimated_cost_usd: number | null;
  };
  /** Tool calls per tool, error observations per tool, and actions refused as repeats (not executed). */
  tools: { calls: Record<string, number>; errors: Record<string, number>; duplicate_actions_refused: number };
  skipped_branches: Record<string, number>;
  qa_rejected: Record<string, number>;
  per_seed: PerSeedStatistics[];
  config: SynthesisConfig;
}

function sum(rec: Record<string, number>): number {
  return Object.values(rec).reduce((n, v) => n + v, 0);
}

/**
 * Aggregates per-seed results. Counters of failed seeds are included in the llm/tool totals (those calls
 * were made); QA and trajectory totals count what was written. Seeds are reported in input order.
 */
export function buildStatistics(args: {
  run_id: string;
  mode: string;
  config: SynthesisConfig;
  started_at: string;
  finished_at: string;
  completion: BatchCompletion;
  seeds: StatisticsSeed[];
  duplicates_dropped: number;
}): RunStatistics {
  const seeds = [...args.seeds].sort((a, b) => a.index - b.index);
  let succeeded = 0;
  let failed = 0;
  let noQa = 0;
  let errorsByType: Record<string, number> = {};
  let budgetExhausted = 0;
  let missing = 0;
  let totalQas = 0;
  let totalTrajectories = 0;
  let totalNodes = 0;
  let depthSum = 0;
  const llm = { calls: 0, requests: 0, failed_outputs: 0, input_tokens: 0, output_tokens: 0, usage_estimated_calls: 0 };
  let cost = 0;
  let toolCalls: Record<string, number> = {};
  let toolErrors: Record<string, number> = {};
  let skipped: Record<string, number> = {};
  let rejected: Record<string, number> = {};
  let duplicates = 0;
  const failedSeeds: RunStatistics['failed_seeds'] = [];
  const perSeed: PerSeedStatistics[] = [];

  for (const s of seeds) {
    const r = s.result;
    if (!r) {
      missing++;
      perSeed.push({
        source_id: s.source_id, index: s.index, status: 'missing', qa: 0, trajectories: 0, nodes: 0,
        llm_calls: 0, llm_requests: 0, attempts: 0, input_tokens: 0, output_tokens: 0, tool_calls: 0, tool_errors: 0,
      });
      continue;
    }
    const c = r.counters;
    const prior = r.prior_attempts;
    if (r.status === 'succeeded') succeeded++;
    else if (r.status === 'budget_exhausted') budgetExhausted++;
    else {
      if (r.status === 'no_qa') noQa++;
      else failed++;
      const errorType = r.error_type ?? (r.status === 'no_qa' ? 'no_qa' : 'unknown');
      failedSeeds.push({ source_id: s.source_id, seed_data: s.seed_data, status: r.status, error: r.error ?? 'unknown error', error_type: errorType });
      errorsByType = mergeCounts(errorsByType, { [errorType]: 1 });
    }
    totalQas += r.qas.length;
    totalTrajectories += r.trajectories.length;
    totalNodes += c.nodes;
    for (const t of r.trajectories) depthSum += t.total_depth;
    // Every logical call sent at least one request (files from before requests were counted have none).
    const requests = Math.max(c.llm_requests ?? 0, c.llm_calls) + (prior?.llm_requests ?? 0);
    llm.calls += c.llm_calls + (prior?.llm_calls ?? 0);
    llm.requests += requests;
    llm.failed_outputs += c.llm_failed_outputs;
    llm.input_tokens += c.input_tokens + (prior?.input_tokens ?? 0);
    llm.output_tokens += c.output_tokens + (prior?.output_tokens ?? 0);
    llm.usage_estimated_calls += c.usage_estimated_calls ?? 0;
    cost += (c.cost_usd ?? 0) + (prior?.cost_usd ?? 0);
    toolCalls = mergeCounts(toolCalls, c.tool_calls);
    toolErrors = mergeCounts(toolErrors, c.tool_errors);
    skipped = mergeCounts(skipped, c.skipped_branches);
    rejected = mergeCounts(rejected, c.qa_rejected);
    duplicates += c.duplicate_actions ?? 0;
    const row: PerSeedStatistics = {
      source_id: s.source_id, index: s.index, status: r.status, qa: r.qas.length, trajectories: r.trajectories.length,
      nodes: c.nodes, llm_calls: c.llm_calls + (prior?.llm_calls ?? 0), llm_requests: requests, attempts: 1 + (prior?.attempts ?? 0),
      input_tokens: c.input_tokens, output_tokens: c.output_tokens,
      tool_calls: sum(c.tool_calls), tool_errors: sum(c.tool_errors),
    };
    if (r.status === 'failed' || r.status === 'no_qa') {
      row.error = r.error ?? 'unknown error';
      if (r.error_type) row.error_type = r.error_type;
    }
    perSeed.push(row);
  }

  const startMs = Date.parse(args.started_at);
  const endMs = Date.parse(args.finished_at);
  const wall = Number.isFinite(startMs) && Number.isFinite(endMs) ? Math.round(endMs - startMs) / 1000 : null;

  return {
    run_id: args.run_id,
    environment_mode: args.mode,
    model_name: args.config.model_name,
    completion: args.completion,
    started_at: args.started_at,
    finished_at: args.finished_at,
    wall_time_seconds: wall,
    seeds: { total: seeds.length, succeeded, failed, no_qa: noQa, budget_exhausted: budgetExhausted, missing, duplicates_dropped: args.duplicates_dropped },
    failed_seeds: failedSeeds,
    errors_by_type: sortedCounts(errorsByType),
    total_qas: totalQas,
    total_trajectories: totalTrajectories,
    total_nodes: totalNodes,
    avg_trajectory_depth: totalTrajectories ? Math.round((depthSum / totalTrajectories) * 100) / 100 : 0,
    llm: { ...llm, estimated_cost_usd: Object.keys(args.config.prices ?? {}).length ? Math.round(cost * 1e6) / 1e6 : null },
    tools: { calls: sortedCounts(toolCalls), errors: sortedCounts(toolErrors), duplicate_actions_refused: duplicates },
    skipped_branches: sortedCounts(skipped),
    qa_rejected: sortedCounts(rejected),
    per_seed: perSeed,
    config: args.config,
  };
}
