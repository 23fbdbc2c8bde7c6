/** LLM activities in MockActivityEnvironment, against the simulator over real HTTP. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockActivityEnvironment } from '@temporalio/testing';
import { runActivity, runActivityIn } from '../helpers/activity';
import { ApplicationFailure } from '@temporalio/common';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { createLlmActivities } from '../../src/activities/llm';
import type { ChooseActionInput, SynthesizeQaInput } from '../../src/shared/types';

const KEY = 'sk-activity-test-key-0123456789abcdef';
let sim: Simulator;
let acts: ReturnType<typeof createLlmActivities>;
before(async () => {
  sim = await startSimulator();
  const client = new OpenAI({ baseURL: sim.url, apiKey: KEY, maxRetries: 0 });
  acts = createLlmActivities({ client: () => client });
});
after(async () => {
  await sim.close();
});

function actionInput(over: Partial<ChooseActionInput> = {}): ChooseActionInput {
  return {
    model: 'sim',
    tool_calling: 'native',
    temperature: 0.7,
    sampling_seed: 42,
    seed_text: 'compound interest',
    seed_description: 'math topic',
    sampling_tips: '',
    qa_examples: [],
    tools: ['calculator'],
    history: [],
    current_observation: 'Starting point (math topic): compound interest',
    attempt: 0,
    ...over,
  };
}

const qaInput: SynthesizeQaInput = {
  model: 'sim',
  temperature: 0.7,
  seed_text: 'compound interest',
  seed_description: 'math topic',
  synthesis_tips: '',
  qa_examples: [],
  steps: [
    { intent: 'compute growth', tool_name: 'calculator', parameters: { expressions: ['1000 * 1.05^2'] }, observation: '### Calculator Results:\n1000 * 1.05^2 = 1102.5' },
    { intent: 'subtract principal', tool_name: 'calculator', parameters: { expressions: ['1102.5 - 1000'] }, observation: '### Calculator Results:\n1102.5 - 1000 = 102.5' },
  ],
};

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => assert.fail('expected a failure'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(e)}`);
  return e;
}

describe('chooseAction', () => {
  test('native tool calling: a valid calculator action with an intent, token usage; a short call sends no heartbeat', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => (beats += 1));
    const r = await runActivityIn(env, acts.chooseAction, actionInput());
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.action.tool_name, 'calculator');
    assert.ok(Array.isArray(r.action.parameters.expressions));
    assert.ok(!('intent' in r.action.parameters), 'intent is taken out of the arguments');
    assert.ok(r.intent.length > 0);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(beats, 0, 'a call shorter than one heartbeat interval costs the server no heartbeat');
    const last = sim.requests().at(-1)!;
    assert.equal(last.seed, 42);
    assert.equal(last.temperature, 0.7);
  });

  test('a long call heartbeats, carrying the attempt state (provider requests) in the details', async () => {
    sim.script([{ match: { kind: 'action' }, times: 1, respond: { delayMs: 1500 } }]);
    try {
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 900, startToCloseTimeoutMs: 10_000 });
      const details: unknown[] = [];
      env.on('heartbeat', (d: unknown) => details.push(d));
      const r = await runActivityIn(env, acts.chooseAction, actionInput({ sampling_seed: 4242 }));
      assert.ok(r.ok);
      assert.ok(details.length >= 2, `beats every heartbeatTimeout/3: ${details.length}`);
      assert.deepEqual(details.at(-1), { requests: 1, failure: undefined, repeats: 0 });
    } finally {
      sim.clearScript();
    }
  });

  test('json mode: the original JSON-object protocol', async () => {
    const r = await runActivity(acts.chooseAction, actionInput({ tool_calling: 'json' }));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.action.tool_name, 'calculator');
  });

  test('malformed output is a result with a reason, not a failure', async () => {
    sim.script([{ times: 1, respond: { malformed: 'unknown_tool' } }]);
    const r = await runActivity(acts.chooseAction, actionInput());
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /^unknown_tool/);
  });

  test('429 with retry-after-ms → retryable RateLimited with that delay', async () => {
    sim.script([{ times: 1, respond: { status: 429, headers: { 'retry-after-ms': '1500' } } }]);
    const f = await failureOf(runActivity(acts.chooseAction, actionInput()));
    assert.equal(f.type, 'RateLimited');
    assert.equal(f.nonRetryable, false);
    assert.equal(f.nextRetryDelay, 1500);
  });

  test('500 → retryable LlmUnavailable; 401 → non-retryable LlmAuth without the key', async () => {
    sim.script([{ times: 1, respond: { status: 500 } }]);
    const f500 = await failureOf(runActivity(acts.chooseAction, actionInput()));
    assert.equal(f500.type, 'LlmUnavailable');
    assert.equal(f500.nonRetryable, false);
    sim.script([{ times: 1, respond: { status: 401, body: { error: { message: `bad key ${KEY}` } } } }]);
    const f401 = await failureOf(runActivity(acts.chooseAction, actionInput()));
    assert.equal(f401.type, 'LlmAuth');
    assert.equal(f401.nonRetryable, true);
    assert.match(f401.message, /OPENAI_API_KEY/);
    assert.ok(!f401.message.includes(KEY));
  });
});

describe('synthesizeQa', () => {
  test('structured output becomes question, answer, reasoning steps', async () => {
    sim.clearScript();
    const r = await runActivity(acts.synthesizeQa, qaInput);
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(r.question.length > 0 && r.answer.length > 0);
    assert.ok(!r.question.toLowerCase().includes(r.answer.toLowerCase()));
    assert.ok(r.reasoning_steps.length >= 1);
  });

  test('invalid JSON is a result with a reason', async () => {
    sim.script([{ times: 1, respond: { malformed: 'invalid_json' } }]);
    const r = await runActivity(acts.synthesizeQa, qaInput);
    assert.equal(r.ok, false);
  });
});
