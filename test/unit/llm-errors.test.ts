import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { classifyLlmError, parseRetryAfter, MAX_RETRY_AFTER_MS } from '../../src/llm/errors';
import { startSimulator, type FaultRule, type Simulator } from '../../src/llm/simulator';
import { FailureType } from '../../src/shared/constants';

const MODEL = 'sim-model-x';
let sim: Simulator;
let client: OpenAI;

before(async () => {
  sim = await startSimulator();
  client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test-secret-key-1234567890', maxRetries: 0 });
});
after(() => sim.close());

/** Makes one real call through the openai SDK with the simulator answering `respond`, returns the thrown error. */
async function errorFor(respond: FaultRule['respond'], c: OpenAI = client): Promise<unknown> {
  sim.script([{ respond, times: 1 }]);
  try {
    await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }] });
  } catch (err) {
    return err;
  } finally {
    sim.clearScript();
  }
  assert.fail('expected the call to fail');
}

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const cases: Array<[string, Record<string, string>, number | undefined]> = [
    ['seconds', { 'retry-after': '2' }, 2000],
    ['fractional seconds', { 'retry-after': '1.5' }, 1500],
    ['milliseconds win', { 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    ['HTTP date', { 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }, 30_000],
    ['date in the past', { 'retry-after': 'Tue, 31 Dec 2024 23:00:00 GMT' }, 0],
    ['clamped to 10 min', { 'retry-after': '3600' }, MAX_RETRY_AFTER_MS],
    ['negative seconds', { 'retry-after': '-5' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['bad ms falls back to seconds', { 'retry-after-ms': 'abc', 'retry-after': '3' }, 3000],
    ['no header', {}, undefined],
    ['case-insensitive record keys', { 'Retry-After': '4' }, 4000],
  ];
  for (const [name, headers, expected] of cases) {
    it(name, () => assert.equal(parseRetryAfter(headers, now), expected));
  }
  it('reads a Headers object', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '1200' }), now), 1200);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe('classifyLlmError with real openai errors from the simulator', () => {
  it('429 + retry-after → RateLimited with nextRetryDelay', async () => {
    const err = await errorFor({ status: 429, headers: { 'retry-after': '1' } });
    assert.ok(err instanceof OpenAI.RateLimitError);
    const f = classifyLlmError(err, { model: MODEL });
    assert.equal(f.type, FailureType.RateLimited);
    assert.equal(f.nonRetryable, false);
    assert.equal(f.nextRetryDelay, 1000);
    assert.match(f.message, /429/);
  });

  it('429 + retry-after-ms', async () => {
    const f = classifyLlmError(await errorFor({ status: 429, headers: { 'retry-after-ms': '750' } }));
    assert.equal(f.type, FailureType.RateLimited);
    assert.equal(f.nextRetryDelay, 750);
  });

  it('429 + HTTP date', async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const f = classifyLlmError(await errorFor({ status: 429, headers: { 'retry-after': date } }));
    assert.equal(f.type, FailureType.RateLimited);
    const d = f.nextRetryDelay as number;
    assert.ok(d > 25_000 && d <= 30_000, `delay ${d}`);
  });

  it('429 without header → no nextRetryDelay (policy backoff)', async () => {
    const f = classifyLlmError(await errorFor({ status: 429 }));
    assert.equal(f.type, FailureType.RateLimited);
    assert.equal(f.nextRetryDelay, undefined);
    assert.equal(f.nonRetryable, false);
  });

  for (const status of [500, 502, 503, 408, 409]) {
    it(`${status} → LlmUnavailable, retryable`, async () => {
      const f = classifyLlmError(await errorFor({ status }));
      assert.equal(f.type, FailureType.LlmUnavailable);
      assert.equal(f.nonRetryable, false);
      assert.match(f.message, new RegExp(String(status)));
    });
  }

  for (const status of [401, 403]) {
    it(`${status} → LlmAuth, non-retryable, names the variables but never the key`, async () => {
      const err = await errorFor({
        status,
        body: { error: { message: 'Incorrect API key provided: sk-test-secret-key-1234567890', type: 'invalid_request_error', code: 'invalid_api_key' } },
      });
      const f = classifyLlmError(err, { model: MODEL });
      assert.equal(f.type, FailureType.LlmAuth);
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, /OPENAI_API_KEY/);
      assert.match(f.message, /OPENAI_BASE_URL/);
      assert.doesNotMatch(f.message, /secret-key-1234567890/);
    });
  }

  it('404 → LlmRequestRejected with status, model, server message and a fix hint', async () => {
    const err = await errorFor({ status: 404, body: { error: { message: 'The model `sim-model-x` does not exist', type: 'invalid_request_error', code: 'model_not_found' } } });
    assert.ok(err instanceof OpenAI.NotFoundError);
    const f = classifyLlmError(err, { model: MODEL, baseURL: sim.url });
    assert.equal(f.type, FailureType.LlmRequestRejected);
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /HTTP 404/);
    assert.match(f.message, /sim-model-x/);
    assert.match(f.message, /does not exist/);
    assert.match(f.message, /model_name/);
    assert.match(f.message, /OPENAI_BASE_URL/);
  });

  for (const status of [400, 422, 413]) {
    it(`${status} → LlmRequestRejected, server message truncated to 500 chars`, async () => {
      const long = 'x'.repeat(2000);
      const f = classifyLlmError(await errorFor({ status, body: { error: { message: long, type: 'invalid_request_error' } } }), { model: MODEL });
      assert.equal(f.type, FailureType.LlmRequestRejected);
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, new RegExp(`HTTP ${status}`));
      assert.ok(f.message.length < 900, `message length ${f.message.length}`);
      assert.match(f.message, /Fix:/);
    });
  }

  it('connection refused → LlmUnavailable', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const c = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'x', maxRetries: 0 });
    const err = await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => assert.fail('expected failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.APIConnectionError);
    const f = classifyLlmError(err);
    assert.equal(f.type, FailureType.LlmUnavailable);
    assert.equal(f.nonRetryable, false);
  });

  it('client timeout → LlmUnavailable', async () => {
    const c = new OpenAI({ baseURL: sim.url, apiKey: 'x', maxRetries: 0, timeout: 100 });
    const err = await errorFor({ delayMs: 5000 }, c);
    assert.ok(err instanceof OpenAI.APIConnectionTimeoutError);
    const f = classifyLlmError(err);
    assert.equal(f.type, FailureType.LlmUnavailable);
    assert.match(f.message, /timed out/);
  });
});

describe('classifyLlmError with other errors', () => {
  it('passes an ApplicationFailure through', () => {
    const original = ApplicationFailure.create({ message: 'x', type: 'Custom', nonRetryable: true });
    assert.equal(classifyLlmError(original), original);
  });

  it('fetch failures and aborts → LlmUnavailable', () => {
    const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    assert.equal(classifyLlmError(fetchFailed).type, FailureType.LlmUnavailable);
    const abort = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    assert.equal(classifyLlmError(abort).type, FailureType.LlmUnavailable);
  });

  it('an unknown error keeps its name and stays retryable', () => {
    const f = classifyLlmError(new RangeError('boom'));
    assert.equal(f.type, 'RangeError');
    assert.equal(f.nonRetryable, false);
  });
});
