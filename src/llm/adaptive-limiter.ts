/**
 * Adaptive admission control for one worker's LLM calls (AIMD): when the provider answers 429, the number of
 * calls this worker lets run at once is halved and no call starts until the Retry-After has passed (or a
 * backoff that doubles while 429s keep coming); every success raises the limit again by 1/limit, up to the
 * worker's concurrency. So a worker backs off as a whole instead of every activity hammering on its own.
 * The server-side rate limit (`rate_limits.llm_requests_per_second`) is the first line; this is the second.
 */

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

  /** A call succeeded: additive increase. */
  onSuccess(): void {
    this.consecutive429 = 0;
    this.limitValue = Math.min(this.opts.max, this.limitValue + 1 / this.limitValue);
    this.pump();
  }

  /** The provider answered 429: multiplicative decrease and a cool-down (Retry-After when given). */
  onRateLimited(retryAfterMs?: number): void {
    this.consecutive429 += 1;
    this.limitValue = Math.max(this.min, this.limitValue / 2);
    const base = this.opts.baseBackoffMs ?? 1000;
    const backoff = Math.min(this.opts.maxBackoffMs ?? 60_000, base * 2 ** (this.consecutive429 - 1));
    const wait = retryAfterMs !== undefined && retryAfterMs >= 0 ? retryAfterMs : backoff;
    this.cooldownUntil = Math.max(this.cooldownUntil, this.now() + wait);
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
