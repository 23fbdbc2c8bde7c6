/**
 * What a `web_visit` call's page summaries cost, across the attempts of its activity (src/tools/web-visit.ts):
 * the summaries kept for a retry, the requests refused, the cost of every summary answered — all in the activity's
 * attempt memo (ToolContext.attemptMemo, carried by heartbeat details) — and the `llm_usage` the call reports
 * with its observation or in its failure, which the seed charges.
 */
import type { ToolContext } from './tool';
import type { ToolLlmUsage } from '../shared/types';

/** What one summary's LLM call cost. */
interface SummaryCost {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  usage_estimated: boolean;
}

/** A page's summary, with what its LLM call cost (absent: no call was made). */
export interface Summary {
  text: string;
  cost?: SummaryCost;
}

/** A summary kept by an earlier attempt of this activity (ToolContext.attemptMemo), if it has the right shape. */
export function rememberedSummary(v: unknown): Summary | undefined {
  const x = v as Summary | null;
  if (!x || typeof x !== 'object' || typeof x.text !== 'string') return undefined;
  const c = x.cost;
  if (c !== undefined && (typeof c !== 'object' || ![c.requests, c.input_tokens, c.output_tokens].every((n) => typeof n === 'number'))) return undefined;
  return x;
}

/**
 * Attempt-memo key of the HTTP requests sent for summaries that failed (a 429, a 5xx) in this activity's attempts:
 * the provider saw them, so the attempt that succeeds reports them in `llm_usage.requests` (as an LLM activity
 * reports the requests of its failed attempts), though no answer came of them.
 */
const UNANSWERED_REQUESTS_KEY = 'web_visit/unanswered_requests';

/** Requests of failed summaries so far in this activity's attempts (see UNANSWERED_REQUESTS_KEY). */
function unansweredRequests(ctx: ToolContext): number {
  const n = ctx.attemptMemo?.get(UNANSWERED_REQUESTS_KEY);
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Attempt-memo key of what every summary answered in this activity's attempts cost, summed (SummaryCost plus
 * `calls`): reported once, by the attempt that ends the call — with its observation, or in its failure — even for
 * pages that cannot be read any more by then.
 */
const PAID_KEY = 'web_visit/paid';

type PaidSoFar = SummaryCost & { calls: number };

const NOTHING_PAID: PaidSoFar = { calls: 0, requests: 0, input_tokens: 0, output_tokens: 0, usage_estimated: false };

/** `total` with one more answered summary of cost `c`. */
function addCost(total: PaidSoFar, c: SummaryCost): PaidSoFar {
  return {
    calls: total.calls + 1,
    requests: total.requests + c.requests,
    input_tokens: total.input_tokens + c.input_tokens,
    output_tokens: total.output_tokens + c.output_tokens,
    usage_estimated: total.usage_estimated || c.usage_estimated,
  };
}

/** What the summaries answered so far cost (see PAID_KEY); zero when nothing was paid or the memo is unreadable. */
function paidSoFar(ctx: ToolContext): PaidSoFar {
  const v = ctx.attemptMemo?.get(PAID_KEY) as Partial<PaidSoFar> | undefined;
  const ok = !!v && typeof v === 'object' && [v.calls, v.requests, v.input_tokens, v.output_tokens].every((n) => typeof n === 'number' && n >= 0);
  return ok ? (v as PaidSoFar) : NOTHING_PAID;
}

/** Counts `sent` requests of a summary that failed (see UNANSWERED_REQUESTS_KEY); nothing without a memo. */
export function recordUnanswered(ctx: ToolContext, sent: number): void {
  // Read and written with no await between: summaries that fail at once each add their own.
  if (sent > 0) ctx.attemptMemo?.set(UNANSWERED_REQUESTS_KEY, unansweredRequests(ctx) + sent);
}

/** Adds an answered summary's cost to the total of the activity's attempts (see PAID_KEY); nothing without a memo. */
export function recordPaid(ctx: ToolContext, summary: Summary): void {
  const c = summary.cost;
  if (!c || !ctx.attemptMemo) return;
  // Read and written with no await between, as the unanswered requests are.
  ctx.attemptMemo.set(PAID_KEY, addCost(paidSoFar(ctx), c));
}

/**
 * What the call cost, as Observation.llm_usage: with an attempt memo, every summary answered in any attempt of this
 * activity (PAID_KEY), else the summaries given; plus the requests refused in earlier attempts (UNANSWERED_REQUESTS_KEY)
 * — a usage of 0 calls when only those were sent. Undefined: nothing was sent.
 */
export function callUsage(ctx: ToolContext, summaries: Summary[]): ToolLlmUsage | undefined {
  const model = ctx.llm?.model;
  const paid = ctx.attemptMemo ? paidSoFar(ctx) : summaries.reduce((t, x) => (x.cost ? addCost(t, x.cost) : t), NOTHING_PAID);
  const unanswered = unansweredRequests(ctx);
  if (!model || (paid.calls === 0 && unanswered <= 0)) return undefined;
  return {
    model,
    calls: paid.calls,
    requests: paid.requests + unanswered,
    input_tokens: paid.input_tokens,
    output_tokens: paid.output_tokens,
    ...(paid.usage_estimated ? { usage_estimated: true } : {}),
  };
}
