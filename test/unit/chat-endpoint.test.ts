/**
 * ChatEndpoint against a scripted OpenAI-compatible server over real HTTP: capability fallbacks (learnt once per
 * endpoint and model), refusals that must not trigger them, and the classification of what remains.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { ChatEndpoint, type ChatRequestBody } from '../../src/llm/chat';
import { AdaptiveLimiter } from '../../src/llm/adaptive-limiter';

type Handler = (body: Record<string, unknown>) => { status: number; body: unknown; delayMs?: number };
let handler: Handler;
const seen: Record<string, unknown>[] = [];
let server: http.Server;
let client: OpenAI;

before(async () => {
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      seen.push(body);
      const r = handler(body);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
      };
      if (r.delayMs) setTimeout(send, r.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'k', maxRetries: 0 });
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen.length = 0;
});

const ok = { status: 200, body: { choices: [{ message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1 } } };
const err = (status: number, message: string) => ({ status, body: { error: { message, type: 'x' } } });
const action = (model: string): ChatRequestBody => ({
  model,
  messages: [{ role: 'user', content: 'go' }],
  tools: [{ type: 'function', function: { name: 'calculator', parameters: { type: 'object', properties: {} } } }],
  tool_choice: 'required',
});
const qa = (model: string): ChatRequestBody => ({
  model,
  messages: [{ role: 'user', content: 'qa' }],
  response_format: { type: 'json_schema', json_schema: { name: 'qa', schema: {} } },
});

function endpoint(warnings: string[] = [], limiter?: AdaptiveLimiter): ChatEndpoint {
  return new ChatEndpoint({ client: () => client, limiter, warn: (m) => warnings.push(m) });
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(() => assert.fail('expected a failure'), (x: unknown) => x);
  assert.ok(e instanceof ApplicationFailure, String(e));
  return e;
}

describe('capability fallbacks', () => {
  test('tool_choice "required" refused with an empty HTTP 500 (llama-cpp-python): "auto" is sent, learnt once, said once', async () => {
    handler = (b) => (b.tool_choice === 'required' ? { status: 500, body: { error: { message: '', type: 'internal_server_error' } } } : ok);
    const warnings: string[] = [];
    const ep = endpoint(warnings);
    const first = await ep.complete(action('llama'), { timeoutMs: 5000 });
    assert.equal(first.requests, 2);
    assert.deepEqual(first.adjustments, ['tool_choice:auto']);
    assert.equal(first.reply?.content, 'fine');
    const second = await ep.complete(action('llama'), { timeoutMs: 5000 });
    assert.equal(second.requests, 1, 'the worker remembers: one request per call from now on');
    assert.deepEqual(seen.map((b) => b.tool_choice), ['required', 'auto', 'auto']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /tool_choice "required" is refused/);
    assert.deepEqual(ep.knownFallbacks('llama'), ['tool_choice:auto']);
    assert.deepEqual(ep.knownFallbacks('other-model'), [], 'learnt per model');
  });

  test('with max_tokens set, a silent 500 still means tool_choice (max_tokens is only given up when named)', async () => {
    handler = (b) => (b.tool_choice === 'required' ? { status: 500, body: { error: { message: '', type: 'internal_server_error' } } } : ok);
    const r = await endpoint().complete({ ...action('llama-capped'), max_tokens: 200 }, { timeoutMs: 5000 });
    assert.deepEqual(r.adjustments, ['tool_choice:auto']);
    assert.equal(seen[1]!.max_tokens, 200);
  });

  test('json_schema refused by name → json_object', async () => {
    handler = (b) => ((b.response_format as { type: string }).type === 'json_schema' ? err(400, "response_format type 'json_schema' is not supported") : ok);
    const r = await endpoint().complete(qa('lmstudio'), { timeoutMs: 5000 });
    assert.deepEqual(r.adjustments, ['response_format:json_object']);
    assert.equal(r.requests, 2);
  });

  test('an outage 500 with a message, or a 400 about something else, costs one request and no feature', async () => {
    handler = () => err(500, 'CUDA out of memory');
    const ep = endpoint();
    const f = await failure(ep.complete(action('vllm'), { timeoutMs: 5000 }));
    assert.equal(f.type, 'LlmUnavailable');
    assert.equal(seen.length, 1);
    handler = () => err(400, 'this seed is poison');
    const g = await failure(ep.complete(action('vllm'), { timeoutMs: 5000 }));
    assert.equal(g.type, 'LlmRequestRejected');
    assert.equal(seen.length, 2);
    assert.deepEqual(ep.knownFallbacks('vllm'), []);
  });

  test('a fallback that changes nothing is not learnt, and the first error is reported', async () => {
    handler = () => err(400, 'tool_choice "required" is not supported and neither is anything else');
    const ep = endpoint();
    const f = await failure(ep.complete(action('m'), { timeoutMs: 5000 }));
    assert.equal(seen.length, 2);
    assert.match(f.message, /tool_choice "required" is not supported/);
    assert.deepEqual(ep.knownFallbacks('m'), []);
  });
});

test('max_tokens refused by a reasoning model → the same limit as max_completion_tokens', async () => {
  handler = (b) =>
    b.max_tokens !== undefined ? err(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.") : ok;
  const r = await endpoint().complete({ ...qa('o-model'), response_format: undefined, max_tokens: 300 }, { timeoutMs: 5000 });
  assert.deepEqual(r.adjustments, ['max_completion_tokens']);
  assert.equal(seen[1]!.max_completion_tokens, 300);
  assert.equal(seen[1]!.max_tokens, undefined);
});

describe('refusals named with their fix', () => {
  test('no tool support (Ollama, vLLM without a parser) → non-retryable, names tool_calling json', async () => {
    for (const message of ['registry.ollama.ai/library/gemma:2b does not support tools', '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set']) {
      handler = () => err(400, message);
      const f = await failure(endpoint().complete(action('m'), { timeoutMs: 5000 }));
      assert.equal(f.type, 'LlmEndpointMisconfigured', message);
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, /"tool_calling": "json"/);
    }
  });

  test('context overflow (llama.cpp) → non-retryable, names the context settings', async () => {
    handler = () => err(400, 'the request exceeds the available context size, try increasing it');
    const f = await failure(endpoint().complete(action('m'), { timeoutMs: 5000 }));
    assert.equal(f.type, 'LlmRequestRejected');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /context window.*--ctx-size.*max_depth/);
    assert.equal(seen.length, 1, 'no fallback for an overflow');
  });
});

test('a timed-out call halves the worker\'s concurrency (one-slot server), and is retryable', async () => {
  handler = () => ({ ...ok, delayMs: 2000 });
  const limiter = new AdaptiveLimiter({ max: 8 });
  const f = await failure(endpoint([], limiter).complete(action('slow'), { timeoutMs: 150 }));
  assert.equal(f.type, 'LlmUnavailable');
  assert.equal(f.nonRetryable, false);
  assert.match(f.message, /timed out.*llm_timeout_seconds.*max_workers/);
  assert.equal(limiter.limit, 4);
});
