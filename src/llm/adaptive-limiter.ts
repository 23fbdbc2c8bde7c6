/**
 * Adaptive admission control for one worker's LLM calls. The server-side rate limit
 * (`rate_limits.llm_requests_per_second`) is the first line; this is the second, for quotas nobody configured.
 *
 * It tells a quota that is really exhausted from sporadic 429s, and slows down only for the first:
 * - **Quota exhausted**: the provider says so (`x-ratelimit-remaining-requests` / `-tokens` is 0, on a 429 or on
 *   a success), or most recent answers are 429s (at least QUOTA_FRACTION of the last WINDOW outcomes, or
 *   QUOTA_RUN refusals in a row: a 30 % random storm gives a run of 6 once in ~1,400 answers). Then the
 *   number of calls this worker lets run at once is cut in proportion to the 429 share (halved when every answer
 *   is a 429), and no call starts until the provider's reset (`x-ratelimit-reset-*`, `retry-after-ms`,
 *   `retry-after`) or a backoff that doubles while it lasts.
 * - **Sporadic 429s** (a share below QUOTA_FRACTION, no exhausted-quota header): only the refused call waits
 *   (its activity retries after the Retry-After, via Temporal's nextRetryDelay); the others go on.
 * Every success raises the limit again by 1/limit (additive increase), up to the worker's concurrency. A call
 * that times out (the endpoint serves fewer calls at once than it is sent) halves the limit without a cool-down.
 */

/** Outcomes remembered to tell a quota from sporadic refusals. */
export const WINDOW = 20;
/** Share of 429s among the last WINDOW outcomes (a full window) from which the quota counts as exhausted. */
export const QUOTA_FRACTION = 0.5;
/** 429s in a row from which the quota counts as exhausted (a window not yet full). */
export const QUOTA_RUN = 6;

type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined | null> | null | undefined;

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() === name && v !== undefined && v !== null) return Array.isArray(v) ? String(v[0]) : String(v);
  }
  return undefined;
}

/**
 * A duration in OpenAI's `x-ratelimit-reset-*` format (`20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`) or plain seconds,
 * in ms; undefined when unreadable.
 */
export function parseResetDuration(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    matched += m[0];
  }
  return matched === v ? Math.round(total) : undefined;
}

/**
 * What a response's rate-limit headers say: whether a quota (requests or tokens) is exhausted, and when it
 * resets (ms), from OpenAI's `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` (as also sent by Azure, Groq,
 * OpenRouter and others).
 */
export function quotaFromHeaders(headers: HeaderSource): { exhausted: boolean; resetMs?: number } {
  let exhausted = false;
  let resetMs: number | undefined;
  for (const kind of ['requests', 'tokens']) {
    const remaining = header(headers, `x-ratelimit-remaining-${kind}`);
    if (remaining !== undefined && Number(remaining) <= 0) {
      exhausted = true;
      const reset = parseResetDuration(header(headers, `x-ratelimit-reset-${kind}`));
      if (reset !== undefined) resetMs = Math.max(resetMs ?? 0, reset);
    }
  }
  return { exhausted, ...(resetMs !== undefined ? { resetMs } : {}) };
}

export interface AdaptiveLimiterOptions {
  /** Upper bound (the worker's LLM concurrency). */
  max: number;
  /** Lower bound of the concurrency limit. */
  min?: number;
  /** Cool-down after a 429 without Retry-After; doubles per consecutive 429 up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
  /** Timer used to end a cool-down (injectable for tests). */
  setTimer?: (fn: () => void, ms: number) => void;
}

/** A slot did not free up (or the cool-down lasts) longer than the caller can wait: retry later. */
export class LimiterBusyError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`LLM calls of this worker are paused for ${retryAfterMs} ms after rate limiting`);
  }
}

export class AdaptiveLimiter {
  private limitValue: number;
  private activeCount = 0;
  private cooldownUntil = 0;
  private consecutive429 = 0;
  /** The last WINDOW outcomes, true = 429. */
  private readonly outcomes: boolean[] = [];
  private timerArmed = false;
  private readonly waiters: (() => void)[] = [];
  private readonly min: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => void;

  constructor(private readonly opts: AdaptiveLimiterOptions) {
    this.min = Math.max(1, opts.min ?? 1);
    this.limitValue = Math.max(this.min, opts.max);
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => void setTimeout(fn, ms).unref?.());
  }

  /** Calls allowed at once right now. */
  get limit(): number {
    return Math.floor(this.limitValue);
  }

  get active(): number {
    return this.activeCount;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Milliseconds until calls may start again (0 when not cooling down). */
  get cooldownMs(): number {
    return Math.max(0, this.cooldownUntil - this.now());
  }

  /**
   * Waits for a slot; resolves with the release function. Rejects if `signal` aborts first, or with
   * LimiterBusyError when no slot can be had within `maxWaitMs` (e.g. the activity's remaining time).
   */
  acquire(signal?: AbortSignal, maxWaitMs = Number.POSITIVE_INFINITY): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (this.cooldownMs > maxWaitMs) return reject(new LimiterBusyError(this.cooldownMs));
      const grant = () => {
        this.activeCount += 1;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.activeCount -= 1;
          this.pump();
        });
      };
      if (this.waiters.length === 0 && this.canStart()) return grant();
      let settled = false;
      const leave = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        grant();
      };
      const onAbort = () => {
        if (settled) return;
        settled = true;
        leave();
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      if (Number.isFinite(maxWaitMs)) {
        this.setTimer(() => {
          if (settled) return;
          settled = true;
          leave();
          reject(new LimiterBusyError(Math.max(this.cooldownMs, 1000)));
        }, maxWaitMs);
      }
      this.pump();
    });
  }

  /** 429 share among the last WINDOW outcomes (0 when none yet). */
  get rateLimitedShare(): number {
    return this.outcomes.length ? this.outcomes.filter(Boolean).length / this.outcomes.length : 0;
  }

  private remember(rateLimited: boolean): void {
    this.outcomes.push(rateLimited);
    if (this.outcomes.length > WINDOW) this.outcomes.shift();
  }

  /**
   * A call succeeded: additive increase. `headers` (the response's) may say that the quota is now exhausted
   * (`x-ratelimit-remaining-*: 0`): then no call starts until its reset.
   */
  onSuccess(headers?: HeaderSource): void {
    this.consecutive429 = 0;
    this.remember(false);
    this.limitValue = Math.min(this.opts.max, this.limitValue + 1 / this.limitValue);
    const quota = quotaFromHeaders(headers);
    if (quota.exhausted && quota.resetMs !== undefined) this.cooldownUntil = Math.max(this.cooldownUntil, this.now() + quota.resetMs);
    this.pump();
  }

  /**
   * The provider answered 429 (`retryAfterMs`: what it asked for). Slows the worker down only when the quota is
   * exhausted (see the module comment); returns whether it did.
   */
  onRateLimited(retryAfterMs?: number, headers?: HeaderSource): boolean {
    this.remember(true);
    const quota = quotaFromHeaders(headers);
    const share = this.rateLimitedShare;
    let run = 0;
    for (let i = this.outcomes.length - 1; i >= 0 && this.outcomes[i]; i--) run++;
    const pattern = (this.outcomes.length >= WINDOW && share >= QUOTA_FRACTION) || run >= QUOTA_RUN;
    if (!quota.exhausted && !pattern) return false;
    this.consecutive429 += 1;
    // Cut in proportion to the refusals: ×(1 − share/2), i.e. halved when every recent answer was a 429.
    this.limitValue = Math.max(this.min, this.limitValue * (1 - (quota.exhausted ? 1 : share) / 2));
    const base = this.opts.baseBackoffMs ?? 1000;
    const backoff = Math.min(this.opts.maxBackoffMs ?? 60_000, base * 2 ** (this.consecutive429 - 1));
    const asked = quota.resetMs ?? retryAfterMs;
    const wait = asked !== undefined && asked >= 0 ? asked : backoff;
    this.cooldownUntil = Math.max(this.cooldownUntil, this.now() + wait);
    return true;
  }

  /**
   * A call timed out: the endpoint serves fewer calls at once than this worker sends. Multiplicative decrease
   * without a cool-down (nothing says when it recovers; successes raise the limit again).
   */
  onOverloaded(): void {
    this.limitValue = Math.max(this.min, this.limitValue / 2);
  }

  private canStart(): boolean {
    return this.activeCount < this.limit && this.now() >= this.cooldownUntil;
  }

  private pump(): void {
    while (this.waiters.length > 0 && this.canStart()) this.waiters.shift()!();
    if (this.waiters.length > 0 && !this.timerArmed && this.now() < this.cooldownUntil) {
      this.timerArmed = true;
      this.setTimer(() => {
        this.timerArmed = false;
        this.pump();
      }, this.cooldownUntil - this.now());
    }
  }
}
