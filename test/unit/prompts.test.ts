import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChooseActionInput, SynthesizeQaInput, ToolSchema } from '../../src/shared/types';
import {
  buildActionMessages,
  buildQaMessages,
  describeParameters,
  QA_JSON_SCHEMA,
  QA_OBSERVATION_CHARS,
  withIntent,
} from '../../src/domain/prompts';

const tools: ToolSchema[] = [
  {
    name: 'calculator',
    description: 'Evaluate math expressions.',
    parameters: {
      type: 'object',
      properties: {
        expressions: { type: 'array', items: { type: 'string' }, description: 'Expressions to evaluate' },
        precision: { type: 'integer', description: 'Digits' },
      },
      required: ['expressions'],
      additionalProperties: false,
    },
  },
];

function actionInput(over: Partial<ChooseActionInput> = {}): ChooseActionInput {
  return {
    model: 'm',
    tool_calling: 'json',
    temperature: 0.7,
    sampling_seed: 1,
    seed_text: 'compound interest',
    seed_description: 'math topic',
    sampling_tips: 'TIPS-HERE',
    qa_examples: [
      { question: 'Q1?', answer: 'A1', reasoning: 'R1' },
      { question: 'Q2?', answer: 'A2' },
      { question: 'Q3?', answer: 'A3' },
    ],
    tools: ['calculator'],
    history: [
      { intent: 'first intent', tool_name: 'calculator', parameters: { expressions: ['1+1'] }, observation: 'H'.repeat(300) },
    ],
    current_observation: 'C'.repeat(5000),
    attempt: 0,
    ...over,
  };
}

function positions(content: string, needles: string[]): number[] {
  return needles.map((n) => {
    const i = content.indexOf(n);
    assert.ok(i >= 0, `missing ${JSON.stringify(n)}`);
    return i;
  });
}

test('action prompt: one user message with the 9 parts in order', () => {
  const msgs = buildActionMessages(actionInput(), tools);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.role, 'user');
  const c = msgs[0]!.content;
  const pos = positions(c, [
    'intelligent agent',
    'Seed: compound interest\nSeed description: math topic',
    'Goal:',
    'TIPS-HERE',
    'Step 1: intent: first intent | tool: calculator',
    'Current observation:\n' + 'C'.repeat(5000),
    'Available tools:\n1. calculator: Evaluate math expressions.',
    'Question: Q1?',
    'Reply with only a JSON object',
  ]);
  assert.deepEqual(pos, [...pos].sort((a, b) => a - b));
  // history observation cut to 200 characters; earlier parameters are not shown
  assert.ok(c.includes('H'.repeat(200) + '…'));
  assert.ok(!c.includes('H'.repeat(201)));
  assert.ok(!c.includes('1+1'));
  // first 2 examples only
  assert.ok(c.includes('Q2?') && !c.includes('Q3?'));
  // parameter lines
  assert.ok(c.includes('- expressions (array of string, required): Expressions to evaluate'));
  assert.ok(c.includes('- precision (integer, optional): Digits'));
});

test('json mode ends with an exact machine-readable <tools> block', () => {
  const c = buildActionMessages(actionInput(), tools)[0]!.content;
  const lines = c.split('\n');
  assert.equal(lines[lines.length - 3], '<tools>');
  assert.equal(lines[lines.length - 2], JSON.stringify(tools));
  assert.equal(lines[lines.length - 1], '</tools>');
  assert.deepEqual(JSON.parse(lines[lines.length - 2]!), tools);
});

test('native mode asks for one tool call with an intent argument, and has no <tools> block', () => {
  const c = buildActionMessages(actionInput({ tool_calling: 'native', sampling_tips: '', history: [], seed_description: '' }), tools)[0]!
    .content;
  assert.ok(c.includes('call exactly one of the offered tools'));
  assert.ok(c.includes('`intent`'));
  assert.ok(!c.includes('<tools>'));
  assert.ok(!c.includes('Exploration tips'));
  assert.ok(c.includes('Seed: compound interest\n\nGoal'));
  assert.ok(c.includes('none yet'));
});

test('describeParameters reads JSON Schema types, unions and requiredness', () => {
  const d = describeParameters({
    type: 'object',
    properties: {
      q: { type: 'string' },
      k: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
      m: { type: ['array', 'null'], items: { type: 'number' } },
      e: { enum: ['a', 'b'] },
    },
    required: ['q'],
  });
  assert.deepEqual(d.map((p) => [p.name, p.type, p.required]), [
    ['q', 'string', true],
    ['k', 'integer', false],
    ['m', 'array of number', false],
    ['e', 'one of "a", "b"', false],
  ]);
});

function qaInput(over: Partial<SynthesizeQaInput> = {}): SynthesizeQaInput {
  return {
    model: 'm',
    temperature: 0.7,
    seed_text: 'Rye House Plot',
    seed_description: 'entity',
    synthesis_tips: 'SYNTH-TIPS',
    qa_examples: [
      { question: 'EQ1?', answer: 'EA1' },
      { question: 'EQ2?', answer: 'EA2' },
      { question: 'EQ3?', answer: 'EA3' },
    ],
    steps: [
      { intent: 'look it up', tool_name: 'local_search', parameters: { query: 'rye', top_k: 3 }, observation: 'O'.repeat(3000) },
      { intent: 'follow up', tool_name: 'local_search', parameters: { query: 'novel' }, observation: 'short' },
    ],
    ...over,
  };
}

test('QA prompt: parts in order, parameters as JSON, observations cut at the exported limit', () => {
  const c = buildQaMessages(qaInput())[0]!.content;
  const pos = positions(c, [
    'data synthesis expert',
    'Seed: Rye House Plot\nSeed description: entity',
    'Step 1:\n  Intent: look it up\n  Tool: local_search\n  Parameters: {"query":"rye","top_k":3}',
    'Step 2:',
    'SYNTH-TIPS',
    'EQ1?',
    'EQ3?',
    'Requirements:',
    '"reasoning_steps"',
  ]);
  assert.deepEqual(pos, [...pos].sort((a, b) => a - b));
  assert.equal(QA_OBSERVATION_CHARS, 2000);
  assert.ok(c.includes('O'.repeat(2000) + '…'));
  assert.ok(!c.includes('O'.repeat(2001)));
  assert.ok(c.includes('the trajectory'), 'tells the model never to mention the trajectory');
  assert.ok(!c.includes('previous answer was rejected'));
});

test('QA prompt includes the previous rejection', () => {
  const c = buildQaMessages(qaInput({ previous_rejection: 'answer_in_question: the answer "X" appears in the question' }))[0]!.content;
  assert.ok(c.includes('Your previous answer was rejected because: answer_in_question: the answer "X" appears in the question'));
});

test('QA_JSON_SCHEMA is strict-compatible', () => {
  const check = (s: Record<string, unknown>) => {
    if (s.type === 'object') {
      assert.equal(s.additionalProperties, false);
      assert.deepEqual([...(s.required as string[])].sort(), Object.keys(s.properties as object).sort());
      for (const p of Object.values(s.properties as Record<string, Record<string, unknown>>)) check(p);
    }
    if (s.type === 'array') check(s.items as Record<string, unknown>);
  };
  check(QA_JSON_SCHEMA as unknown as Record<string, unknown>);
});

test('withIntent adds a required intent property without touching the input', () => {
  const before = JSON.stringify(tools[0]!.parameters);
  const p = withIntent(tools[0]!.parameters);
  assert.equal(JSON.stringify(tools[0]!.parameters), before);
  assert.deepEqual(p.required, ['intent', 'expressions']);
  assert.deepEqual(Object.keys(p.properties as object), ['intent', 'expressions', 'precision']);
  assert.equal((p.properties as Record<string, { type: string }>).intent!.type, 'string');
  assert.equal(p.additionalProperties, false);
  assert.deepEqual(withIntent({}).required, ['intent']);
});
