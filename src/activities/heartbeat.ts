import { Context } from '@temporalio/activity';

/**
 * Runs `fn` while heartbeating every few seconds, so a worker that dies mid-call is noticed after the
 * heartbeat timeout (not the full start-to-close timeout), and a cancelled activity aborts its HTTP call.
 */
export async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  // Several beats per heartbeat timeout (the SDK throttles what it sends), at most every 5 s.
  const everyMs = Math.max(200, Math.min(5000, (ctx.info.heartbeatTimeoutMs || 15_000) / 3));
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await fn(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
