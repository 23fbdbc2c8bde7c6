/**
 * Budgets: caps on LLM calls, tokens and estimated cost, per run and per seed. Workflow-safe, pure.
 *
 * The parent gives each seed an allowance: the per-seed cap, bounded by an equal share of what the run has
 * left (run cap − used by finished seeds − allowances of running seeds, split over the free slots). So the
 * allowances of running seeds never add up to more than the run has left, and a seed checks only its own
 * allowance before each LLM call: no new call starts once a cap is reached.
 */
import type { BudgetConfig, Prices, SeedAllowance, TokenUsage } from '../shared/types';

/** What a seed (or the run) has spent. */
export interface Spend {
  llm_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export function emptySpend(): Spend {
  return { llm_calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
}

export function addSpend(a: Spend, b: Spend): Spend {
  return {
    llm_calls: a.llm_calls + b.llm_calls,
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cost_usd: a.cost_usd + b.cost_usd,
  };
}

/** Estimated cost of one call from the price table (USD per million tokens); 0 when the model has no price. */
export function callCost(prices: Prices, model: string, usage: TokenUsage): number {
  const p = prices[model];
  if (!p) return 0;
  return (usage.input_tokens * p.input_per_million + usage.output_tokens * p.output_per_million) / 1_000_000;
}

/** True when some cap of the budget is set. */
export function hasBudget(b: BudgetConfig): boolean {
  return Object.values(b).some((v) => v !== undefined && v !== null);
}

const INF = Number.POSITIVE_INFINITY;
const orInf = (v: number | null | undefined): number => (v === null || v === undefined ? INF : v);
const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * The allowance of a seed about to start (`null` fields = no cap). Returns `null` when the run budget is spent
 * (or too small to do anything useful): start no more seeds.
 */
export function seedAllowance(args: {
  budget: BudgetConfig;
  used: Spend;
  /** Allowances of the seeds running now. */
  reserved: readonly SeedAllowance[];
  /** Slots free for new seeds, this one included (≥ 1). */
  freeSlots: number;
  /** Fewest LLM calls that can still produce a QA pair (min_depth actions + 1 QA call). */
  minCalls?: number;
}): SeedAllowance | null {
  const { budget, used, reserved } = args;
  const slots = Math.max(1, args.freeSlots);
  const sum = (k: keyof SeedAllowance) => reserved.reduce((n, r) => n + (r[k] ?? 0), 0);
  const share = (cap: number | undefined, spent: number, k: keyof SeedAllowance) =>
    cap === undefined ? INF : Math.max(0, cap - spent - sum(k)) / slots;
  const calls = Math.min(orInf(budget.per_seed_max_llm_calls), Math.floor(share(budget.max_llm_calls, used.llm_calls, 'llm_calls')));
  const tokens = Math.min(
    orInf(budget.per_seed_max_tokens),
    Math.floor(share(budget.max_tokens, used.input_tokens + used.output_tokens, 'tokens')),
  );
  const cost = Math.min(orInf(budget.per_seed_max_cost_usd), share(budget.max_cost_usd, used.cost_usd, 'cost_usd'));
  // Too few calls to explore min_depth steps and write a QA: treat the run as spent.
  if (calls < (args.minCalls ?? 2) || tokens <= 0 || cost <= 0) return null;
  return { llm_calls: orNull(calls), tokens: orNull(tokens), cost_usd: orNull(cost) };
}

/**
 * LLM calls a seed keeps back for QA synthesis while it explores: one per path it may select, but never so many
 * that it cannot explore `minDepth` steps first.
 */
export function qaReserve(allowance: SeedAllowance | null | undefined, maxSelected: number, minDepth: number): number {
  if (!allowance || allowance.llm_calls === null) return maxSelected;
  return Math.max(1, Math.min(maxSelected, allowance.llm_calls - minDepth));
}

/** Whether another LLM call may start for a seed that has spent `spent` of `allowance`, keeping `reserveCalls` back. */
export function mayCall(allowance: SeedAllowance | null | undefined, spent: Spend, reserveCalls = 0): boolean {
  if (!allowance) return true;
  return (
    spent.llm_calls + 1 + reserveCalls <= orInf(allowance.llm_calls) &&
    spent.input_tokens + spent.output_tokens < orInf(allowance.tokens) &&
    spent.cost_usd < orInf(allowance.cost_usd)
  );
}
