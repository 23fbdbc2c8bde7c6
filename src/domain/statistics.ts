/** Per-seed counters and the run's statistics file. Workflow-safe (time comes in as ISO strings). */
import type { BatchCompletion, CacheOutcome, CacheStatistics, LlmCallAccounting, SeedCounters, SeedResultFile, SeedStatus, SynthesisConfig, ToolLlmUsage, YieldFunnel } from '../shared/types';

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

/**
 * Counts one call's call-cache outcome (`hit` / `miss`, from its activity result) in a seed's counters, creating
 * `counters.cache` on first use; an absent outcome (the call did not use the cache) counts nothing.
 */
export function countCacheOutcome(counters: SeedCounters, kind: 'llm' | 'tools', outcome: 'hit' | 'miss' | undefined): void {
  if (outcome !== 'hit' && outcome !== 'miss') return;
  const c = (counters.cache ??= { llm: { hits: 0, misses: 0 }, tools: { hits: 0, misses: 0 } });
  if (outcome === 'hit') c[kind].hits += 1;
  else c[kind].misses += 1;
}

/**
 * How a tool's own LLM calls (Observation.llm_usage, or a failed tool call's paid_usage) are charged to the seed:
 * one LlmCallAccounting per logical call — the first carrying the requests and tokens, the rest none — with the
 * cache outcome of the tool call on each; a usage of 0 calls (requests refused in earlier attempts, nothing
 * answered since) gives no call and its requests as `requests_only`.
 */
export function toolLlmCharges(u: ToolLlmUsage, cache?: CacheOutcome): { calls: LlmCallAccounting[]; requests_only: number } {
  if (u.calls <= 0) return { calls: [], requests_only: Math.max(0, u.requests) };
  const calls: LlmCallAccounting[] = [];
  for (let i = 0; i < u.calls; i++) {
    const first = i === 0;
    calls.push({
      usage: first ? { input_tokens: u.input_tokens, output_tokens: u.output_tokens } : { input_tokens: 0, output_tokens: 0 },
      requests: first ? u.requests : 0,
      ...(first && u.usage_estimated ? { usage_estimated: true } : {}),
      ...(cache ? { cache } : {}),
    });
  }
  return { calls, requests_only: 0 };
}

/**
 * HTTP requests a seed's LLM calls sent: `llm_requests`, but at least one per logical call that was not answered
 * from the call cache (files from before requests were counted have none; a cache hit sends none).
 */
export function paidRequests(c: Pick<SeedCounters, 'llm_calls' | 'llm_requests' | 'cache'>): number {
  return Math.max(c.llm_requests ?? 0, c.llm_calls - (c.cache?.llm.hits ?? 0));
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
  /** QA of this seed in the QA file, after dedup (default: all of `result.qas`). */
  kept_qa?: number;
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
  /**
   * Failed and no-QA seeds, in input order, with their error and its stable kind: the first
   * MAX_FAILED_SEEDS_LISTED (1,000) of them; `failed_seeds_total` counts them all.
   */
  failed_seeds: { source_id: string; seed_data: string; status: 'failed' | 'no_qa'; error: string; error_type: string }[];
  /** All failed and no-QA seeds (failed_seeds lists the first 1,000). Absent in files written before it existed. */
  failed_seeds_total?: number;
  /** error_type → number of seeds (failed and no-QA), most frequent first. */
  errors_by_type: Record<string, number>;
  /** QA in the QA file (after dedup; the funnel has the counts before it). */
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
  /**
   * One row per seed in input order, for runs of at most PER_SEED_INLINE_MAX (10,000) seeds; larger runs have
   * their rows only in the per-seed file (`per_seed_file`).
   */
  per_seed?: PerSeedStatistics[];
  /**
   * Name of the per-seed file next to this one (`seed_statistics_<mode>_<ts>.jsonl`: one PerSeedStatistics row per
   * line, input order, every run). Absent in files written before it existed.
   */
  per_seed_file?: string;
  /**
   * The call cache (README "Cache"): LLM and tool calls answered from it (`hits`: no request, no tokens, no cost)
   * and made with it on (`misses`). `enabled`: at least one call of the run used it. Absent in files written
   * before it existed.
   */
  cache?: CacheStatistics;
  /** The yield funnel (src/domain/funnel.ts), written by writeOutputs. Absent in files written before it existed. */
  funnel?: YieldFunnel;
  /** Name of the rejected-QA file next to this one (`rejected_qa_<mode>_<ts>.jsonl`). */
  rejected_qa_file?: string;
  config: SynthesisConfig;
}

/** Runs with at most this many seeds also carry their per-seed rows inline in statistics.json (`per_seed`). */
export const PER_SEED_INLINE_MAX = 10_000;

function sum(rec: Record<string, number>): number {
  let n = 0;
  for (const k in rec) n += rec[k]!;
  return n;
}

/** Adds every count of `from` into `into`, in place. */
function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>> | undefined): void {
  if (!from) return;
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
}

/** Failed and no-QA seeds listed in `failed_seeds` (all are counted in `failed_seeds_total` and in the per-seed rows). */
export const MAX_FAILED_SEEDS_LISTED = 1000;

/** The run-level inputs of the statistics. */
export interface StatisticsRun {
  run_id: string;
  mode: string;
  config: SynthesisConfig;
  started_at: string;
  finished_at: string;
  completion: BatchCompletion;
  duplicates_dropped: number;
}

/**
 * Aggregates per-seed results one seed at a time, in bounded memory (counters, count maps keyed by tool / error
 * kind / reason, and at most MAX_FAILED_SEEDS_LISTED failed seeds): `add` each seed in input order (it returns
 * the seed's row for the per-seed file), then `finish`. Counters of failed seeds are included in the llm/tool
 * totals (those calls were made); QA and trajectory totals count what was written.
 */
export class StatisticsBuilder {
  private total = 0;
  private succeeded = 0;
  private failed = 0;
  private noQa = 0;
  private budgetExhausted = 0;
  private missing = 0;
  private totalQas = 0;
  private totalTrajectories = 0;
  private totalNodes = 0;
  private depthSum = 0;
  private readonly llm = { calls: 0, requests: 0, failed_outputs: 0, input_tokens: 0, output_tokens: 0, usage_estimated_calls: 0 };
  private cost = 0;
  private readonly errorsByType: Record<string, number> = {};
  private readonly toolCalls: Record<string, number> = {};
  private readonly toolErrors: Record<string, number> = {};
  private readonly skipped: Record<string, number> = {};
  private readonly rejected: Record<string, number> = {};
  private duplicateActions = 0;
  private readonly cache: CacheStatistics = { enabled: false, llm: { hits: 0, misses: 0 }, tools: { hits: 0, misses: 0 } };
  private readonly failedSeeds: RunStatistics['failed_seeds'] = [];
  private failedSeedsTotal = 0;

  constructor(private readonly run: StatisticsRun) {}

  /** Counts one seed; returns its per-seed row. */
  add(s: StatisticsSeed): PerSeedStatistics {
    this.total += 1;
    const r = s.result;
    if (!r) {
      this.missing += 1;
      return {
        source_id: s.source_id, index: s.index, status: 'missing', qa: 0, trajectories: 0, nodes: 0,
        llm_calls: 0, llm_requests: 0, attempts: 0, input_tokens: 0, output_tokens: 0, tool_calls: 0, tool_errors: 0,
      };
    }
    const c = r.counters;
    const prior = r.prior_attempts;
    if (r.status === 'succeeded') this.succeeded += 1;
    else if (r.status === 'budget_exhausted') this.budgetExhausted += 1;
    else {
      if (r.status === 'no_qa') this.noQa += 1;
      else this.failed += 1;
      const errorType = r.error_type ?? (r.status === 'no_qa' ? 'no_qa' : 'unknown');
      this.failedSeedsTotal += 1;
      if (this.failedSeeds.length < MAX_FAILED_SEEDS_LISTED) {
        this.failedSeeds.push({ source_id: s.source_id, seed_data: s.seed_data, status: r.status, error: r.error ?? 'unknown error', error_type: errorType });
      }
      incrementCount(this.errorsByType, errorType);
    }
    const kept = s.kept_qa ?? r.qas.length;
    this.totalQas += kept;
    this.totalTrajectories += r.trajectories.length;
    this.totalNodes += c.nodes;
    for (const t of r.trajectories) this.depthSum += t.total_depth;
    // Every logical call sent at least one request (files from before requests were counted have none).
    const requests = paidRequests(c) + (prior?.llm_requests ?? 0);
    if (c.cache) {
      this.cache.enabled = true;
      for (const k of ['llm', 'tools'] as const) {
        this.cache[k].hits += c.cache[k]?.hits ?? 0;
        this.cache[k].misses += c.cache[k]?.misses ?? 0;
      }
    }
    this.llm.calls += c.llm_calls + (prior?.llm_calls ?? 0);
    this.llm.requests += requests;
    this.llm.failed_outputs += c.llm_failed_outputs;
    this.llm.input_tokens += c.input_tokens + (prior?.input_tokens ?? 0);
    this.llm.output_tokens += c.output_tokens + (prior?.output_tokens ?? 0);
    this.llm.usage_estimated_calls += c.usage_estimated_calls ?? 0;
    this.cost += (c.cost_usd ?? 0) + (prior?.cost_usd ?? 0);
    addCounts(this.toolCalls, c.tool_calls);
    addCounts(this.toolErrors, c.tool_errors);
    addCounts(this.skipped, c.skipped_branches);
    addCounts(this.rejected, c.qa_rejected);
    this.duplicateActions += c.duplicate_actions ?? 0;
    const row: PerSeedStatistics = {
      source_id: s.source_id, index: s.index, status: r.status, qa: kept, trajectories: r.trajectories.length,
      nodes: c.nodes, llm_calls: c.llm_calls + (prior?.llm_calls ?? 0), llm_requests: requests, attempts: 1 + (prior?.attempts ?? 0),
      input_tokens: c.input_tokens, output_tokens: c.output_tokens,
      tool_calls: sum(c.tool_calls), tool_errors: sum(c.tool_errors),
    };
    if (r.status === 'failed' || r.status === 'no_qa') {
      row.error = r.error ?? 'unknown error';
      if (r.error_type) row.error_type = r.error_type;
    }
    return row;
  }

  /** The statistics of the seeds added so far (no per-seed rows: the caller places them); `finishedAt` overrides the run's. */
  finish(finishedAt?: string): RunStatistics {
    const a = { ...this.run, finished_at: finishedAt ?? this.run.finished_at };
    const startMs = Date.parse(a.started_at);
    const endMs = Date.parse(a.finished_at);
    const wall = Number.isFinite(startMs) && Number.isFinite(endMs) ? Math.round(endMs - startMs) / 1000 : null;
    return {
      run_id: a.run_id,
      environment_mode: a.mode,
      model_name: a.config.model_name,
      completion: a.completion,
      started_at: a.started_at,
      finished_at: a.finished_at,
      wall_time_seconds: wall,
      seeds: {
        total: this.total, succeeded: this.succeeded, failed: this.failed, no_qa: this.noQa, budget_exhausted: this.budgetExhausted,
        missing: this.missing, duplicates_dropped: a.duplicates_dropped,
      },
      failed_seeds: this.failedSeeds,
      failed_seeds_total: this.failedSeedsTotal,
      errors_by_type: sortedCounts(this.errorsByType),
      total_qas: this.totalQas,
      total_trajectories: this.totalTrajectories,
      total_nodes: this.totalNodes,
      avg_trajectory_depth: this.totalTrajectories ? Math.round((this.depthSum / this.totalTrajectories) * 100) / 100 : 0,
      llm: { ...this.llm, estimated_cost_usd: Object.keys(a.config.prices ?? {}).length ? Math.round(this.cost * 1e6) / 1e6 : null },
      tools: { calls: sortedCounts(this.toolCalls), errors: sortedCounts(this.toolErrors), duplicate_actions_refused: this.duplicateActions },
      skipped_branches: sortedCounts(this.skipped),
      qa_rejected: sortedCounts(this.rejected),
      cache: { enabled: this.cache.enabled, llm: { ...this.cache.llm }, tools: { ...this.cache.tools } },
      config: a.config,
    };
  }
}

/**
 * Aggregates per-seed results held in memory (tests, small runs): StatisticsBuilder over the seeds in input order,
 * with every per-seed row in `per_seed`. writeOutputs streams instead (src/activities/outputs.ts).
 */
export function buildStatistics(args: StatisticsRun & { seeds: StatisticsSeed[] }): RunStatistics {
  const b = new StatisticsBuilder(args);
  const perSeed = [...args.seeds].sort((x, y) => x.index - y.index).map((s) => b.add(s));
  const { config, ...rest } = b.finish();
  return { ...rest, per_seed: perSeed, config };
}
