/** interpretChatResponse: every 2xx answer becomes a reply, a malformed-output reason, or a typed failure. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { assembleEventStream, interpretChatResponse, MAX_REPLY_CHARS, type RawHttpAnswer } from '../../src/llm/response';
import { estimateUsage } from '../../src/llm/usage';

const ctx = { model: 'm', baseURL: 'http://127.0.0.1:9/v1' };
const raw = (body: unknown, over: Partial<RawHttpAnswer> = {}): RawHttpAnswer => ({
  status: 200,
  contentType: 'application/json',
  text: typeof body === 'string' ? body : JSON.stringify(body),
  truncated: false,
  ...over,
});
const completion = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 3 },
  ...extra,
});

function failure(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApplicationFailure, String(e));
    return e;
  }
  assert.fail('expected a failure');
}

describe('interpretChatResponse', () => {
  test('a standard completion, content parts, reasoning fields, tool calls with object arguments', () => {
    const r = interpretChatResponse(raw(completion({ content: 'hi' })), ctx);
    assert.deepEqual(r, { kind: 'reply', reply: { content: 'hi', reasoning: '', tool_calls: [], finish_reason: 'stop' }, usage: { input_tokens: 10, output_tokens: 3 } });
    const parts = interpretChatResponse(raw(completion({ content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] })), ctx);
    assert.equal(parts.kind === 'reply' && parts.reply.content, 'ab');
    for (const field of ['reasoning_content', 'reasoning']) {
      const r2 = interpretChatResponse(raw(completion({ content: null, [field]: 'thought {"x": 1}' })), ctx);
      assert.ok(r2.kind === 'reply' && r2.reply.content === '' && r2.reply.reasoning === 'thought {"x": 1}', field);
    }
    const tc = interpretChatResponse(raw(completion({ content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'calculator', arguments: { expressions: ['1'] } } }] })), ctx);
    assert.deepEqual(tc.kind === 'reply' && tc.reply.tool_calls, [{ name: 'calculator', arguments: { expressions: ['1'] } }]);
    const legacy = interpretChatResponse(raw(completion({ content: null, function_call: { name: 'calculator', arguments: '{}' } })), ctx);
    assert.deepEqual(legacy.kind === 'reply' && legacy.reply.tool_calls, [{ name: 'calculator', arguments: '{}' }]);
  });

  test('no usage → null (the caller estimates); Anthropic-style names are read', () => {
    const r = interpretChatResponse(raw({ choices: [{ message: { content: 'x' }, finish_reason: 'stop' }] }), ctx);
    assert.equal(r.usage, null);
    const a = interpretChatResponse(raw(completion({ content: 'x' }, { usage: { input_tokens: 7, output_tokens: 2 } })), ctx);
    assert.deepEqual(a.usage, { input_tokens: 7, output_tokens: 2 });
  });

  test('an event stream sent although stream was false is reassembled', () => {
    const chunks = [
      { choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'hm ' } }] },
      { choices: [{ index: 0, delta: { content: 'Hel' } }] },
      { choices: [{ index: 0, delta: { content: 'lo', tool_calls: [{ index: 0, function: { name: 'calc', arguments: '{"a":' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: 'tool_calls' }] },
      { choices: [], usage: { prompt_tokens: 4, completion_tokens: 5 } },
    ];
    const text = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n';
    const r = interpretChatResponse(raw(text, { contentType: 'text/event-stream' }), ctx);
    assert.ok(r.kind === 'reply');
    assert.equal(r.reply.content, 'Hello');
    assert.equal(r.reply.reasoning, 'hm ');
    assert.deepEqual(r.reply.tool_calls, [{ name: 'calc', arguments: '{"a":1}' }]);
    assert.equal(r.reply.finish_reason, 'tool_calls');
    assert.deepEqual(r.usage, { input_tokens: 4, output_tokens: 5 });
    assert.equal(assembleEventStream('no events here'), null);
  });

  test('an HTML page is a non-retryable misconfiguration naming OPENAI_BASE_URL', () => {
    const f = failure(() => interpretChatResponse(raw('<!DOCTYPE html><html><body>Open WebUI</body></html>', { contentType: 'text/html' }), ctx));
    assert.equal(f.type, 'LlmEndpointMisconfigured');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /HTML page.*OPENAI_BASE_URL \(http:\/\/127\.0\.0\.1:9\/v1\).*\/v1/);
  });

  test('an error inside a 200 is classified by its code (OpenRouter / LiteLLM)', () => {
    const upstream = failure(() => interpretChatResponse(raw({ error: { message: 'Upstream error from provider', code: 502 } }), ctx));
    assert.equal(upstream.type, 'LlmUnavailable');
    assert.equal(upstream.nonRetryable, false);
    assert.match(upstream.message, /HTTP 200 with an error.*code 502.*Upstream error/);
    assert.equal(failure(() => interpretChatResponse(raw({ error: { message: 'slow down', code: 429 } }), ctx)).type, 'RateLimited');
    const auth = failure(() => interpretChatResponse(raw({ error: { message: 'bad key', code: 401 } }), ctx));
    assert.equal(auth.type, 'LlmAuth');
    assert.equal(auth.nonRetryable, true);
    assert.equal(failure(() => interpretChatResponse(raw({ error: { message: 'no such model', code: '404' } }), ctx)).type, 'LlmRequestRejected');
  });

  test('no choices, a non-JSON body, a choice without a message: retryable, with the body quoted', () => {
    for (const body of [{ choices: [] }, { id: 'x' }, 'upstream connect error', { choices: [{ index: 0 }] }]) {
      const f = failure(() => interpretChatResponse(raw(body), ctx));
      assert.equal(f.type, 'LlmUnavailable', JSON.stringify(body));
      assert.ok(f.message.length > 40 && !f.message.includes('{}'), f.message);
    }
    assert.match(failure(() => interpretChatResponse(raw(''), ctx)).message, /\(empty body\)/);
  });

  test('oversize answers are malformed output, not failures', () => {
    const big = interpretChatResponse(raw(completion({ content: 'x'.repeat(MAX_REPLY_CHARS + 1) })), ctx);
    assert.equal(big.kind, 'malformed');
    assert.match(big.kind === 'malformed' ? big.reason : '', /^output_too_large: /);
    const cut = interpretChatResponse(raw('{"choices": [', { truncated: true }), ctx);
    assert.equal(cut.kind, 'malformed');
    const longThought = interpretChatResponse(raw(completion({ content: 'ok', reasoning_content: 'y'.repeat(MAX_REPLY_CHARS * 2) })), ctx);
    assert.ok(longThought.kind === 'reply' && longThought.reply.reasoning.length === MAX_REPLY_CHARS, 'long reasoning is kept bounded');
  });
});

test('estimateUsage counts prompt and reply tokens with a real tokenizer', () => {
  const u = estimateUsage(
    { messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Say hello to the world.' }] },
    { content: 'Hello, world!', reasoning: '', tool_calls: [], finish_reason: 'stop' },
  );
  // o200k_base: "You are helpful." = 4, "Say hello to the world." = 6, "system"/"user" 1 each, 3 per message, 3 priming.
  assert.equal(u.input_tokens, 3 + (3 + 1 + 4) + (3 + 1 + 6));
  assert.equal(u.output_tokens, 4);
  assert.deepEqual(estimateUsage({ messages: [] }, null), { input_tokens: 3, output_tokens: 0 });
});
