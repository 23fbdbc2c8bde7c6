import { Context } from '@temporalio/activity';

/**
 * Runs `fn` while heartbeating every few seconds, so a worker that dies mid-call is noticed after the
 * heartbeat timeout (not the full start-to-close timeout), and a cancelled activity aborts its HTTP call.
 */
export async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>, everyMs = 5000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await fn(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
