import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveLimiter } from '../../src/llm/adaptive-limiter';

/** A manual clock and timer: time moves only when the test says so. */
function fakeTime() {
  let now = 1_000;
  const timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => void timers.push({ at: now + ms, fn }),
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

test('at most `limit` calls run at once; a release lets the next waiter in, in order', async () => {
  const l = new AdaptiveLimiter({ max: 2 });
  const r1 = await l.acquire();
  await l.acquire();
  const order: number[] = [];
  const p3 = l.acquire().then((r) => (order.push(3), r));
  const p4 = l.acquire().then((r) => (order.push(4), r));
  await flush();
  assert.deepEqual(order, []);
  assert.equal(l.waiting, 2);
  r1();
  await p3;
  await flush();
  assert.deepEqual(order, [3]);
  assert.equal(l.active, 2);
  r1(); // releasing twice is harmless
  assert.equal(l.active, 2);
  (await p3)();
  await p4;
  assert.deepEqual(order, [3, 4]);
});

/** A quota the provider says is exhausted, resetting in `reset`. */
const exhausted = (reset: string) => ({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': reset });

test('an exhausted quota (x-ratelimit-remaining 0) halves the limit and stops new calls until its reset; successes raise it again', async () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 8, now: t.now, setTimer: t.setTimer });
  assert.equal(l.limit, 8);
  assert.equal(l.onRateLimited(900, exhausted('1.5s')), true);
  assert.equal(l.limit, 4);
  assert.equal(l.cooldownMs, 1500, 'the reset header wins over Retry-After');
  let started = false;
  const p = l.acquire().then(() => (started = true));
  await flush();
  assert.equal(started, false, 'no call starts during the cool-down');
  t.advance(1499);
  await flush();
  assert.equal(started, false);
  t.advance(1);
  await p;
  assert.equal(started, true);
  for (let i = 0; i < 30; i++) l.onSuccess(); // +1 per `limit` successes: 4→8 takes 4+5+6+7 = 22
  assert.equal(l.limit, 8, 'additive increase back to the maximum');
});

test('sporadic 429s (30 %, no quota headers) slow nobody down: only the refused call waits (its own retry)', () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 8, now: t.now, setTimer: t.setTimer });
  // 3 of every 10 answers refused, for 100 answers.
  for (let i = 0; i < 100; i++) {
    if (i % 10 < 3) assert.equal(l.onRateLimited(1000), false);
    else l.onSuccess();
  }
  assert.equal(l.limit, 8);
  assert.equal(l.cooldownMs, 0);
  assert.ok(Math.abs(l.rateLimitedShare - 0.3) < 0.01);
});

test('mostly 429s without headers is a quota too: cut in proportion to the share, backoff doubling while it lasts', () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 16, now: t.now, setTimer: t.setTimer, baseBackoffMs: 100 });
  assert.equal(l.onRateLimited(), false, 'one refusal is not a pattern yet');
  for (let i = 0; i < 4; i++) assert.equal(l.onRateLimited(), false);
  assert.equal(l.onRateLimited(), true, '6 refusals in a row');
  assert.equal(l.limit, 8);
  assert.equal(l.cooldownMs, 100);
  l.onRateLimited();
  assert.equal(l.cooldownMs, 200);
  l.onRateLimited();
  assert.equal(l.cooldownMs, 400);
  for (let i = 0; i < 20; i++) l.onRateLimited();
  assert.equal(l.limit, 1, 'never below 1');
});

test('a success whose headers say the quota is now exhausted pauses new calls until the reset', () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 4, now: t.now, setTimer: t.setTimer });
  l.onSuccess(exhausted('6m0s'));
  assert.equal(l.cooldownMs, 360_000);
  assert.equal(l.limit, 4, 'a success does not cut the limit');
});

test('x-ratelimit-reset durations', async () => {
  const { parseResetDuration } = await import('../../src/llm/adaptive-limiter');
  assert.equal(parseResetDuration('20ms'), 20);
  assert.equal(parseResetDuration('1.5s'), 1500);
  assert.equal(parseResetDuration('6m0s'), 360_000);
  assert.equal(parseResetDuration('1h2m3s'), 3_723_000);
  assert.equal(parseResetDuration('2'), 2000);
  assert.equal(parseResetDuration('soon'), undefined);
});

test('an aborted waiter leaves the queue', async () => {
  const l = new AdaptiveLimiter({ max: 1 });
  const release = await l.acquire();
  const ac = new AbortController();
  const p = l.acquire(ac.signal);
  ac.abort(new Error('cancelled'));
  await assert.rejects(p, /cancelled/);
  assert.equal(l.waiting, 0);
  release();
  assert.equal(l.active, 0);
});

test('a caller that cannot wait out the cool-down (or for a slot) gets LimiterBusyError with the time to wait', async () => {
  const { LimiterBusyError } = await import('../../src/llm/adaptive-limiter');
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 1, now: t.now, setTimer: t.setTimer });
  l.onRateLimited(undefined, exhausted('5s'));
  await assert.rejects(l.acquire(undefined, 2000), (e: unknown) => e instanceof LimiterBusyError && e.retryAfterMs === 5000);
  t.advance(5000);
  const release = await l.acquire(undefined, 2000);
  const waiting = l.acquire(undefined, 300);
  t.advance(300);
  await assert.rejects(waiting, (e: unknown) => e instanceof LimiterBusyError && e.retryAfterMs === 1000);
  assert.equal(l.waiting, 0, 'the timed-out waiter left the queue');
  release();
  assert.equal(l.active, 0);
});
