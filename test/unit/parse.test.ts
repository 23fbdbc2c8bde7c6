import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolSchema } from '../../src/shared/types';
import { extractJsonObject, parseActionJson, parseQaJson, parseToolCall } from '../../src/domain/parse';
import { validateQa } from '../../src/domain/validate';

const tools: ToolSchema[] = [
  {
    name: 'calculator',
    description: 'calc',
    parameters: { type: 'object', properties: { expressions: { type: 'array', items: { type: 'string' } } }, required: ['expressions'] },
  },
  {
    name: 'local_search',
    description: 'search',
    parameters: { type: 'object', properties: { query: { type: 'string' }, top_k: { type: 'integer' } }, required: ['query'] },
  },
];

test('extractJsonObject recovers objects from common model output', () => {
  const cases: [string, unknown][] = [
    ['{"a":1}', { a: 1 }],
    ['```json\n{"a":2}\n```', { a: 2 }],
    ['```\n{"a":3}\n```', { a: 3 }],
    ['Sure! Here it is: {"a":{"b":"}"}} hope that helps', { a: { b: '}' } }],
    ['[{"a":4},{"a":5}]', { a: 4 }],
    ['text [1, {"a":6}] more', { a: 6 }],
    ['{bad} then {"a":7}', { a: 7 }],
  ];
  for (const [text, want] of cases) {
    const r = extractJsonObject(text);
    assert.ok(r.ok, `${text}: ${JSON.stringify(r)}`);
    assert.deepEqual(r.value, want);
  }
  for (const text of ['', 'no json here', '"just a string"', '{"a":']) {
    const r = extractJsonObject(text);
    assert.ok(!r.ok);
    assert.match(r.reason, /^invalid_json: /);
  }
});

test('parseActionJson: valid, fenced, and top-level action keys', () => {
  assert.deepEqual(parseActionJson('{"intent":"i","action":{"tool_name":"calculator","parameters":{"expressions":["1+1"]}}}', tools), {
    ok: true,
    intent: 'i',
    action: { tool_name: 'calculator', parameters: { expressions: ['1+1'] } },
  });
  const fenced = parseActionJson('```json\n{"intent":"i","action":{"tool_name":"local_search","parameters":{"query":"q"}}}\n```', tools);
  assert.ok(fenced.ok);
  const flat = parseActionJson('{"intent":"i","tool_name":"local_search","parameters":{"query":"q"}}', tools);
  assert.ok(flat.ok && flat.action.tool_name === 'local_search');
  const noIntent = parseActionJson('{"action":{"tool_name":"local_search","parameters":{"query":"q"}}}', tools);
  assert.ok(noIntent.ok && noIntent.intent === '');
});

test('parseActionJson: stable reasons', () => {
  const reason = (t: string) => {
    const r = parseActionJson(t, tools);
    assert.ok(!r.ok);
    return r.reason;
  };
  assert.match(reason('not json'), /^invalid_json: /);
  assert.equal(reason('{"intent":"i","action":{"tool_name":"foo","parameters":{}}}'), 'unknown_tool: foo (valid tools: calculator, local_search)');
  assert.equal(reason('{"intent":"i","action":{"tool_name":"calculator","parameters":{}}}'), 'missing_argument: calculator.expressions');
  assert.equal(reason('{"intent":"i","action":{"tool_name":"calculator"}}'), 'missing_argument: calculator.expressions');
  assert.match(reason('{"intent":"i","action":"calculator"}'), /^invalid_action: /);
  assert.match(reason('{"intent":"i"}'), /^invalid_action: /);
  assert.match(reason('{"action":{"tool_name":"calculator","parameters":[1]}}'), /^invalid_arguments: /);
});

test('parse coerces obviously mistyped arguments', () => {
  const r = parseActionJson('{"intent":"i","action":{"tool_name":"local_search","parameters":{"query":"q","top_k":"10"}}}', tools);
  assert.ok(r.ok);
  assert.deepEqual(r.action.parameters, { query: 'q', top_k: 10 });
  const r2 = parseActionJson('{"intent":"i","action":{"tool_name":"calculator","parameters":{"expressions":"2*3"}}}', tools);
  assert.ok(r2.ok);
  assert.deepEqual(r2.action.parameters, { expressions: ['2*3'] });
});

test('parseToolCall takes intent from the arguments and removes it', () => {
  assert.deepEqual(parseToolCall('local_search', '{"intent":"why","query":"q"}', tools), {
    ok: true,
    intent: 'why',
    action: { tool_name: 'local_search', parameters: { query: 'q' } },
  });
  const noIntent = parseToolCall('local_search', '{"query":"q"}', tools);
  assert.ok(noIntent.ok && noIntent.intent === '');
  const bad = parseToolCall('local_search', '{"query":', tools);
  assert.ok(!bad.ok && bad.reason.startsWith('invalid_arguments: '));
  const unknown = parseToolCall('nope', '{}', tools);
  assert.ok(!unknown.ok && unknown.reason.startsWith('unknown_tool: nope'));
  const missing = parseToolCall('calculator', '', tools);
  assert.ok(!missing.ok && missing.reason === 'missing_argument: calculator.expressions');
});

test('parseQaJson fills missing keys as the original; invalid JSON fails', () => {
  assert.deepEqual(parseQaJson('{"question":" Q? ","answer":1953,"reasoning_steps":[{"step":1}]}'), {
    ok: true,
    question: 'Q?',
    answer: '1953',
    reasoning_steps: [{ step: 1 }],
  });
  assert.deepEqual(parseQaJson('```json\n{"question":"Q?"}\n```'), { ok: true, question: 'Q?', answer: '', reasoning_steps: [] });
  const bad = parseQaJson('nope');
  assert.ok(!bad.ok && bad.reason.startsWith('invalid_json'));
});

test('validateQa', () => {
  assert.equal(validateQa({ question: 'Which city hosts the institute?', answer: 'Santa Fe' }), null);
  assert.match(validateQa({ question: ' ', answer: 'x' })!, /^empty_question/);
  assert.match(validateQa({ question: 'Q?', answer: '' })!, /^empty_answer/);
  assert.match(validateQa({ question: 'Is  SANTA\nfe the capital?', answer: 'Santa Fe' })!, /^answer_in_question/);
  assert.match(validateQa({ question: 'x'.repeat(501) + '?', answer: 'y' })!, /^question_too_long/);
  assert.match(validateQa({ question: Array.from({ length: 86 }, (_, i) => `w${i}`).join(' '), answer: 'zz' })!, /^question_too_long/);
  assert.equal(validateQa({ question: Array.from({ length: 85 }, () => 'w').join(' '), answer: 'zz' }), null);
});
