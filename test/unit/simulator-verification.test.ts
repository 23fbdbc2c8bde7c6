/**
 * The simulator's verification scripts: baseline, solver and judge requests (built with qasynth's own prompt
 * builders) are recognised, answered from the script keyed by question, and logged with their role.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectSimulator, startSimulator, type Simulator } from '../../src/llm/simulator';
import { buildBaselineMessages, buildJudgeMessages, buildSolverMessages, FINAL_ANSWER_SCHEMA } from '../../src/domain/verification';
import { toolSchemas } from '../../src/tools/registry';
import type { ToolSchema } from '../../src/shared/types';

let sim: Simulator;
before(async () => {
  sim = await startSimulator();
});
after(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.resetLog();
  sim.verification({});
});

const Q = 'Which city hosted the 1900 Summer Olympics?';

async function chat(body: Record<string, unknown>): Promise<{ content: string | null; tool_calls?: { function: { name: string; arguments: string } }[] }> {
  const res = await fetch(`${sim.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim', ...body }) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { choices: { message: { content: string | null; tool_calls?: { function: { name: string; arguments: string } }[] } }[] }).choices[0]!.message;
}

const native = (tools: ToolSchema[]) => tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));

test('baseline: the scripted answer of each attempt (the request seed), "I don\'t know" when unscripted', async () => {
  sim.verification({ baseline: { [Q]: ['Paris', 'London'] } });
  const ask = (question: string, seed: number) => chat({ messages: buildBaselineMessages(question), seed, temperature: 0.7, response_format: { type: 'json_object' } });
  assert.deepEqual(JSON.parse((await ask(Q, 0)).content!), { answer: 'Paris' });
  assert.deepEqual(JSON.parse((await ask(Q, 1)).content!), { answer: 'London' });
  assert.deepEqual(JSON.parse((await ask(Q, 2)).content!), { answer: 'Paris' });
  assert.deepEqual(JSON.parse((await ask('Who else?', 0)).content!), { answer: "I don't know" });
  assert.deepEqual(sim.requests().map((r) => r.role), ['baseline', 'baseline', 'baseline', 'baseline']);
});

test('solver: tool calls first, then final_answer with the attempt\'s answer; at once when only final_answer is offered', async () => {
  sim.verification({ solver: { [Q]: { answers: ['Paris', 'Lyon'], tool_steps: 1 } } });
  const tools = [...toolSchemas(['calculator']), FINAL_ANSWER_SCHEMA];
  const step = (steps: { tool_name: string; parameters: Record<string, unknown>; observation: string }[], seed: number, offered = tools) =>
    chat({
      messages: buildSolverMessages({ question: Q, steps, must_answer: offered.length === 1, tool_calling: 'native' }, offered),
      tools: native(offered),
      tool_choice: 'required',
      seed,
    });
  const first = await step([], 1);
  assert.equal(first.tool_calls?.[0]?.function.name, 'calculator');
  const done = [{ tool_name: 'calculator', parameters: { expressions: ['1+1'] }, observation: '1+1 = 2' }];
  const second = await step(done, 1);
  assert.deepEqual([second.tool_calls?.[0]?.function.name, JSON.parse(second.tool_calls![0]!.function.arguments)], ['final_answer', { answer: 'Lyon' }]);
  const forced = await step([], 0, [FINAL_ANSWER_SCHEMA]);
  assert.deepEqual(JSON.parse(forced.tool_calls![0]!.function.arguments), { answer: 'Paris' });
  // JSON mode: the same, as a json-mode action.
  const json = await chat({ messages: buildSolverMessages({ question: Q, steps: done, must_answer: false, tool_calling: 'json' }, tools), seed: 0, response_format: { type: 'json_object' } });
  assert.deepEqual(JSON.parse(json.content!), { action: { tool_name: 'final_answer', parameters: { answer: 'Paris' } } });
  assert.deepEqual(sim.requests().map((r) => r.role), ['solver', 'solver', 'solver', 'solver']);
});

test('judge: the scripted verdict, else containment either way', async () => {
  sim.verification({ judge: [{ reference: 'Paris', candidate: 'the French capital', correct: true, reason: 'same city' }] });
  const judge = (reference: string, candidate: string) => chat({ messages: buildJudgeMessages(Q, reference, candidate), temperature: 0, response_format: { type: 'json_object' } }).then((m) => JSON.parse(m.content!));
  assert.deepEqual(await judge('Paris', 'The French capital'), { verdict: 'correct', reason: 'same city' });
  assert.deepEqual(await judge('Paris', 'Paris, France'), { verdict: 'correct', reason: 'the candidate names the reference' });
  assert.deepEqual(await judge('Paris', 'Lyon'), { verdict: 'incorrect', reason: 'the candidate names something else' });
  assert.deepEqual(sim.requests().map((r) => r.role), ['judge', 'judge', 'judge']);
});

test('scripts are validated (in process and over /_sim/verification); other requests have no role', async () => {
  assert.throws(() => sim.verification({ baseline: { q: [] }, solver: { q: { answers: ['a'], tool_steps: -1 } }, extra: 1 } as never), (e: Error) => {
    assert.match(e.message, /extra: expected one of baseline, solver, judge/);
    assert.match(e.message, /baseline\["q"\]: expected a non-empty array of strings, got \[\]/);
    assert.match(e.message, /solver\["q"\]\.tool_steps: expected an integer ≥ 0, got -1/);
    return true;
  });
  const remote = connectSimulator(sim.url);
  await assert.rejects(remote.verification({ judge: [{ reference: 'a' }] } as never), /HTTP 400.*judge\[0\]: expected \{reference: string, candidate: string, correct: boolean/);
  await remote.verification({ baseline: { [Q]: ['Paris'] } });
  assert.deepEqual(JSON.parse((await chat({ messages: buildBaselineMessages(Q), seed: 0 })).content!), { answer: 'Paris' });
  await remote.reset();
  assert.deepEqual(JSON.parse((await chat({ messages: buildBaselineMessages(Q), seed: 0 })).content!), { answer: "I don't know" });
  await chat({ messages: [{ role: 'user', content: 'Hello there' }] });
  const log = await remote.requests();
  assert.deepEqual(log.map((r) => r.role), ['baseline', undefined]);
});
