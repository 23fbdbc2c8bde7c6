import { Context } from '@temporalio/activity';

/**
 * Runs `fn` while heartbeating every few seconds, so a worker that dies mid-call is noticed after the
 * heartbeat timeout (not the full start-to-close timeout), and a cancelled activity aborts its HTTP call.
 * `details` (when given) is sent with every heartbeat: Temporal hands the last one to the next attempt
 * (`info.heartbeatDetails`), even when this attempt fails, so an activity can count across its retries.
 */
export async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  // Local activities do not heartbeat: the workflow task they run in stands for them.
  if (ctx.info.isLocal) return fn(ctx.cancellationSignal);
  // Several beats per heartbeat timeout (the SDK throttles what it sends), at most every 5 s.
  const everyMs = Math.max(200, Math.min(5000, (ctx.info.heartbeatTimeoutMs || 15_000) / 3));
  const beat = () => ctx.heartbeat(details?.());
  // No beat at the start: the heartbeat timeout runs from the start anyway, and a call shorter than one interval
  // (most LLM calls) then costs the server no heartbeat at all.
  const timer = setInterval(beat, everyMs);
  try {
    return await fn(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** The running activity's Context, or null outside an activity (e.g. a script calling an activity function directly). */
export function currentActivity(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/**
 * A heartbeat for long loops (reading a seeds file, writing a run's outputs): call it as often as convenient, it
 * sends at most one beat per `everyMs` with the given details (progress, shown in the Web UI's pending activity).
 * A no-op outside an activity and in local activities. The loop must yield to the event loop (any `await` on I/O)
 * for the SDK to send the beat.
 */
export function progressHeartbeat(everyMs: number): (details: unknown) => void {
  const ctx = currentActivity();
  let last = Date.now();
  return (details) => {
    if (!ctx || ctx.info.isLocal) return;
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    ctx.heartbeat(details);
  };
}
