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

test('a 429 halves the limit and stops new calls until Retry-After has passed; successes raise it again', async () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 8, now: t.now, setTimer: t.setTimer });
  assert.equal(l.limit, 8);
  l.onRateLimited(1500);
  assert.equal(l.limit, 4);
  assert.equal(l.cooldownMs, 1500);
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

test('429s without Retry-After back off exponentially; the limit never drops below 1', () => {
  const t = fakeTime();
  const l = new AdaptiveLimiter({ max: 4, now: t.now, setTimer: t.setTimer, baseBackoffMs: 100 });
  l.onRateLimited();
  assert.equal(l.cooldownMs, 100);
  l.onRateLimited();
  assert.equal(l.cooldownMs, 200);
  l.onRateLimited();
  assert.equal(l.cooldownMs, 400);
  assert.equal(l.limit, 1);
  l.onSuccess();
  l.onRateLimited();
  assert.equal(l.cooldownMs, 400, 'after a success the backoff starts again from the base (but never shortens a cool-down)');
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
  l.onRateLimited(5000);
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
