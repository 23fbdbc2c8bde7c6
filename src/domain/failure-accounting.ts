/**
 * What a failed call spent, read from its failure: the HTTP requests it sent in all its attempts
 * (`provider_requests`) and, for a call that was paid for some answers before it failed (web_visit's page
 * summaries), those answers (`paid_usage`) — both put there by `withProviderRequests` (src/llm/errors.ts).
 * Plain code: the seed workflow charges the result to a seed that ends with this failure.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ToolLlmUsage } from '../shared/types';

/** A failed call's spend: `requests` sent in all (0 when not told), and the answers it was billed for, if any. */
export interface FailedCallSpend {
  requests: number;
  /** Calls and tokens of answers paid before the failure; its `requests` equals `requests` above. Null: none. */
  paid: ToolLlmUsage | null;
}

function paidUsage(v: unknown, requests: number): ToolLlmUsage | null {
  const u = v as Partial<ToolLlmUsage> | null;
  if (!u || typeof u !== 'object' || typeof u.model !== 'string') return null;
  const counts = [u.calls, u.input_tokens, u.output_tokens];
  if (!counts.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0) || !u.calls) return null;
  return {
    model: u.model,
    calls: u.calls,
    requests,
    input_tokens: u.input_tokens!,
    output_tokens: u.output_tokens!,
    ...(u.usage_estimated ? { usage_estimated: true } : {}),
  };
}

/**
 * The spend told by the first ApplicationFailure in `err`'s cause chain (an activity failure wraps it) that
 * carries `provider_requests` in its details; `{requests: 0, paid: null}` when none does (a timeout, a
 * termination, a call that sent nothing).
 */
export function failedCallSpend(err: unknown): FailedCallSpend {
  let e = err as { details?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof ApplicationFailure) {
      for (const d of e.details ?? []) {
        const told = d as { provider_requests?: unknown; paid_usage?: unknown } | null;
        const n = told?.provider_requests;
        if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return { requests: n, paid: paidUsage(told!.paid_usage, n) };
      }
    }
    e = e.cause as typeof e;
  }
  return { requests: 0, paid: null };
}
