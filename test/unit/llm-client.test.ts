import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createOpenAiClient, describeLlmEndpoint, isLoopbackUrl, resolveLlmEndpoint } from '../../src/llm/client';
import { FailureType } from '../../src/shared/constants';

describe('createOpenAiClient', () => {
  it('uses OPENAI_BASE_URL, the key, maxRetries 0 and the default timeout', () => {
    const c = createOpenAiClient({ OPENAI_BASE_URL: 'https://llm.example.com/v1/', OPENAI_API_KEY: 'sk-abc' });
    assert.equal(c.baseURL, 'https://llm.example.com/v1');
    assert.equal(c.apiKey, 'sk-abc');
    assert.equal(c.maxRetries, 0);
    assert.equal(c.timeout, 600_000);
  });

  it('falls back to OPENAI_API_BASE, then OPENAI_API_URL', () => {
    assert.equal(resolveLlmEndpoint({ OPENAI_API_BASE: 'http://a.test/v1', OPENAI_API_URL: 'http://b.test/v1', OPENAI_API_KEY: 'k' }).baseURL, 'http://a.test/v1');
    const ep = resolveLlmEndpoint({ OPENAI_API_URL: 'http://b.test/v1', OPENAI_API_KEY: 'k' });
    assert.equal(ep.baseURL, 'http://b.test/v1');
    assert.equal(ep.baseURLSource, 'OPENAI_API_URL');
  });

  it('allows a missing key for loopback endpoints', () => {
    const ep = resolveLlmEndpoint({ OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1' });
    assert.equal(ep.apiKey, 'unused');
    assert.equal(ep.apiKeySet, false);
    assert.ok(isLoopbackUrl('http://localhost:1/v1'));
    assert.ok(isLoopbackUrl('http://[::1]:1/v1'));
    assert.ok(!isLoopbackUrl('http://10.0.0.1/v1'));
  });

  it('throws a clear non-retryable error when the key is missing for a remote endpoint', () => {
    assert.throws(
      () => createOpenAiClient({ OPENAI_BASE_URL: 'https://api.example.com/v1' }),
      (e: unknown) => e instanceof ApplicationFailure && e.nonRetryable && e.type === FailureType.LlmAuth && /OPENAI_API_KEY/.test(e.message),
    );
    assert.throws(() => createOpenAiClient({}), /OPENAI_API_KEY/);
  });

  it('validates QASYNTH_LLM_TIMEOUT_MS and the URL', () => {
    assert.equal(resolveLlmEndpoint({ OPENAI_API_KEY: 'k', QASYNTH_LLM_TIMEOUT_MS: '5000' }).timeoutMs, 5000);
    assert.throws(() => resolveLlmEndpoint({ OPENAI_API_KEY: 'k', QASYNTH_LLM_TIMEOUT_MS: 'soon' }), /QASYNTH_LLM_TIMEOUT_MS: expected a positive integer/);
    assert.throws(() => resolveLlmEndpoint({ OPENAI_BASE_URL: 'not a url' }), /OPENAI_BASE_URL: expected an http\(s\) URL/);
  });

  it('describeLlmEndpoint never includes the key', () => {
    const d = describeLlmEndpoint({ OPENAI_BASE_URL: 'https://api.example.com/v1', OPENAI_API_KEY: 'sk-very-secret' });
    assert.deepEqual(d, { baseURL: 'https://api.example.com/v1', baseURLSource: 'OPENAI_BASE_URL', apiKeySet: true, loopback: false, timeoutMs: 600_000 });
    assert.doesNotMatch(JSON.stringify(d), /very-secret/);
    assert.equal(describeLlmEndpoint({}).apiKeySet, false);
  });
});
