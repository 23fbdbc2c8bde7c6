/**
 * The simulator's optional server-side rate limit (`startSimulator({ rateLimit })`): a sliding window of admitted
 * requests; over the limit → 429 with `retry-after-ms` = time until a slot frees, which qasynth's error
 * classification turns into the next retry delay.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { classifyLlmError } from '../../src/llm/errors';
import { FailureType } from '../../src/shared/constants';

const CHAT = { model: 'sim', messages: [{ role: 'user', content: 'Say something about Lyon and its silk weavers.' }] };

async function chat(sim: Simulator, seed = 0): Promise<Response> {
  return fetch(`${sim.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...CHAT, seed }),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('simulator rate limit', () => {
  it('admits requestsPerMinute × window / 60 s requests per sliding window, then answers 429 with retry-after-ms', async () => {
    // 300/min over a 2 s window = 10 requests per window.
    const sim = await startSimulator({ rateLimit: { requestsPerMinute: 300, windowMs: 2000 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await chat(sim, i)).status);
      assert.deepEqual(statuses, Array(10).fill(200));
      const t0 = Date.now();
      const res = await chat(sim, 99);
      assert.equal(res.status, 429);
      const body = (await res.json()) as { error: { code: string; type: string; message: string } };
      assert.equal(body.error.code, 'rate_limit_exceeded');
      assert.match(body.error.message, /10 requests per 2000 ms/);
      const waitMs = Number(res.headers.get('retry-after-ms'));
      assert.ok(Number.isInteger(waitMs) && waitMs >= 1 && waitMs <= 2000, `retry-after-ms ${waitMs}`);
      assert.equal(res.headers.get('retry-after'), String(Math.ceil(waitMs / 1000)));
      assert.equal(res.headers.get('x-ratelimit-limit-requests'), '10');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), '0');

      // Still limited just before the slot frees (allowing for timer slack) …
      const log = sim.requests();
      assert.equal(log.length, 11);
      assert.equal(log.filter((e) => e.status === 200).length, 10);
      const limited = log.at(-1)!;
      assert.equal(limited.status, 429);
      assert.equal(limited.fault, 'rate_limit');
      assert.equal(limited.kind, 'text');

      // … and admitted once retry-after-ms has passed: the oldest request left the window.
      await sleep(Math.max(0, waitMs - (Date.now() - t0)) + 20);
      assert.equal((await chat(sim, 100)).status, 200);
    } finally {
      await sim.close();
    }
  });

  it('a sliding window: slots free one by one as the oldest requests age out', async () => {
    const sim = await startSimulator({ rateLimit: { requestsPerMinute: 120, windowMs: 1000 } }); // 2 per second
    try {
      assert.equal((await chat(sim, 1)).status, 200);
      await sleep(400);
      assert.equal((await chat(sim, 2)).status, 200);
      const res = await chat(sim, 3);
      assert.equal(res.status, 429);
      const waitMs = Number(res.headers.get('retry-after-ms'));
      // The first request (≥ 400 ms ago) frees its slot in ≤ 600 ms, not a whole window from now.
      assert.ok(waitMs >= 1 && waitMs <= 600, `retry-after-ms ${waitMs}`);
      await sleep(waitMs + 20);
      assert.equal((await chat(sim, 4)).status, 200);
      // The second slot is still taken by request 2 (≈ 620 ms old).
      assert.equal((await chat(sim, 5)).status, 429);
    } finally {
      await sim.close();
    }
  });

  it('the default window is one minute, and embeddings count too', async () => {
    const sim = await startSimulator({ rateLimit: { requestsPerMinute: 3 } });
    try {
      assert.equal((await chat(sim, 1)).status, 200);
      const emb = await fetch(`${sim.url}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'emb', input: ['silk', 'loom'] }),
      });
      assert.equal(emb.status, 200);
      assert.equal((await chat(sim, 2)).status, 200);
      const over = await fetch(`${sim.url}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'emb', input: 'punched cards' }),
      });
      assert.equal(over.status, 429);
      const waitMs = Number(over.headers.get('retry-after-ms'));
      assert.ok(waitMs > 55_000 && waitMs <= 60_000, `retry-after-ms ${waitMs}`);
      assert.equal(sim.requests().at(-1)!.fault, 'rate_limit');
      assert.equal(sim.requests().at(-1)!.kind, 'embedding');
    } finally {
      await sim.close();
    }
  });

  it('invalid requests are rejected before the limiter and take no slot; no limit by default', async () => {
    const sim = await startSimulator({ rateLimit: { requestsPerMinute: 1 } });
    try {
      const bad = await fetch(`${sim.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": []}' });
      assert.equal(bad.status, 400);
      assert.equal((await chat(sim, 1)).status, 200);
      assert.equal((await chat(sim, 2)).status, 429);
    } finally {
      await sim.close();
    }
    const free = await startSimulator();
    try {
      const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(free, i).then((r) => r.status)));
      assert.ok(statuses.every((s) => s === 200));
    } finally {
      await free.close();
    }
  });

  it('rejects a non-positive limit or window', async () => {
    await assert.rejects(startSimulator({ rateLimit: { requestsPerMinute: 0 } }), /requestsPerMinute/);
    await assert.rejects(startSimulator({ rateLimit: { requestsPerMinute: 60, windowMs: -1 } }), /windowMs/);
  });

  it("qasynth's error classification turns the 429 into a RateLimited failure retried after retry-after-ms", async () => {
    const sim = await startSimulator({ rateLimit: { requestsPerMinute: 60, windowMs: 5000 } }); // 5 per 5 s
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'test-key', maxRetries: 0 });
    try {
      for (let i = 0; i < 5; i++) await client.chat.completions.create({ ...CHAT, seed: i } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      const err = await client.chat.completions
        .create({ ...CHAT, seed: 9 } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming)
        .then(() => null, (e: unknown) => e);
      assert.ok(err, 'the sixth request within 5 s must fail');
      const f = classifyLlmError(err, { model: 'sim' });
      assert.equal(f.type, FailureType.RateLimited);
      assert.equal(f.nonRetryable, false);
      assert.ok(typeof f.nextRetryDelay === 'number' && f.nextRetryDelay > 4000 && f.nextRetryDelay <= 5000, `nextRetryDelay ${String(f.nextRetryDelay)}`);
    } finally {
      await sim.close();
    }
  });
});
