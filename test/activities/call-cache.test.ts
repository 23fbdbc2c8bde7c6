/**
 * The call cache in the LLM and tool activities (MockActivityEnvironment, the simulator and a fake search backend
 * over real HTTP, a real cache folder): hits send no request and cost nothing; misses are stored only when usable;
 * failures, empty answers, refusals and tool errors never are.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { runActivity } from '../helpers/activity';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { createLlmActivities } from '../../src/activities/llm';
import { createToolActivities } from '../../src/activities/tools';
import { CallCache } from '../../src/cache/store';
import { actionCallPlace, qaCallPlace } from '../../src/domain/ids';
import type { ChooseActionInput, RunToolInput, SynthesizeQaInput } from '../../src/shared/types';
import { startFakeSearch, type FakeSearch } from '../helpers/fake-search';

let sim: Simulator;
let search: FakeSearch;
let dir: string;
let client: OpenAI;
before(async () => {
  sim = await startSimulator();
  search = await startFakeSearch();
  client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-cache-activity-test', maxRetries: 0 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-cache-act-'));
});
after(async () => {
  await search.close();
  await sim.close();
});

let n = 0;
/** Fresh activities over a fresh cache folder. */
function fresh() {
  const cache = new CallCache(path.join(dir, `c${n++}`));
  return { llm: createLlmActivities({ client: () => client, cache }), tools: createToolActivities({ llmClient: () => client, cache }) };
}

function actionInput(over: Partial<ChooseActionInput> = {}): ChooseActionInput {
  return {
    model: 'sim', tool_calling: 'native', temperature: 0.7, sampling_seed: 42, seed_text: 'compound interest', seed_description: 'math topic',
    sampling_tips: '', qa_examples: [], tools: ['calculator'], history: [], current_observation: 'Starting point (math topic): compound interest',
    attempt: 0, cache_place: actionCallPlace('src_1', '0', 0), ...over,
  };
}

const qaInput: SynthesizeQaInput = {
  model: 'sim', temperature: 0.7, seed_text: 'compound interest', seed_description: 'math topic', synthesis_tips: '', qa_examples: [],
  steps: [{ intent: 'compute growth', tool_name: 'calculator', parameters: { expressions: ['1000 * 1.05^2'] }, observation: '### Calculator Results:\n1000 * 1.05^2 = 1102.5' }],
  cache_place: qaCallPlace('src_1_traj_0', 0),
};

const sent = () => sim.requests().length;

describe('LLM activities with the call cache', () => {
  test('miss then hit: the hit sends no request, reports 0 tokens and returns the same action; QA likewise', async () => {
    const { llm } = fresh();
    const before0 = sent();
    const miss = await runActivity(llm.chooseAction, actionInput());
    assert.equal(miss.cache, 'miss');
    assert.equal(miss.requests, 1);
    assert.ok(miss.usage.input_tokens > 0);
    assert.equal(sent() - before0, 1);
    const hit = await runActivity(llm.chooseAction, actionInput());
    assert.equal(hit.cache, 'hit');
    assert.equal(hit.requests, 0);
    assert.deepEqual(hit.usage, { input_tokens: 0, output_tokens: 0 });
    assert.equal(sent() - before0, 1, 'the hit sent nothing');
    assert.ok(miss.ok && hit.ok);
    assert.deepEqual(hit.ok && hit.action, miss.ok && miss.action);

    const q1 = await runActivity(llm.synthesizeQa, qaInput);
    const q2 = await runActivity(llm.synthesizeQa, qaInput);
    assert.deepEqual([q1.cache, q2.cache], ['miss', 'hit']);
    assert.ok(q1.ok && q2.ok);
    assert.equal(q2.ok && q2.question, q1.ok && q1.question);
    assert.equal(sent() - before0, 2);
  });

  test('the same request in another place (sibling branch, next attempt, another path) is another sample', async () => {
    const { llm } = fresh();
    await runActivity(llm.chooseAction, actionInput());
    const before0 = sent();
    for (const place of [actionCallPlace('src_1', '1', 0), actionCallPlace('src_1', '0', 1), actionCallPlace('src_2', '0', 0)]) {
      const r = await runActivity(llm.chooseAction, actionInput({ cache_place: place }));
      assert.equal(r.cache, 'miss', place);
    }
    const q = await runActivity(llm.synthesizeQa, { ...qaInput, cache_place: qaCallPlace('src_1_traj_0', 1) });
    assert.equal(q.cache, 'miss');
    assert.equal(sent() - before0, 4);
  });

  test('without a place (the run has the cache off) nothing is looked up or stored', async () => {
    const { llm } = fresh();
    const before0 = sent();
    const a = await runActivity(llm.chooseAction, actionInput({ cache_place: undefined }));
    const b = await runActivity(llm.chooseAction, actionInput({ cache_place: undefined }));
    assert.equal(a.cache, undefined);
    assert.equal(b.cache, undefined);
    assert.equal(sent() - before0, 2);
    // …and what was answered without a place is not found with one.
    assert.equal((await runActivity(llm.chooseAction, actionInput())).cache, 'miss');
  });

  test('failures and refusals are never stored: the same call in the same place asks again', async () => {
    const { llm } = fresh();
    const failing = actionInput({ cache_place: actionCallPlace('src_9', '0', 0) });
    sim.script([{ times: 1, respond: { status: 500 } }]);
    await assert.rejects(runActivity(llm.chooseAction, failing));
    let before0 = sent();
    const retried = await runActivity(llm.chooseAction, failing);
    assert.equal(retried.cache, 'miss', 'the failure was not stored');
    assert.equal(sent() - before0, 1);
    assert.equal((await runActivity(llm.chooseAction, failing)).cache, 'hit', 'the usable answer was');

    const refusing = actionInput({ cache_place: actionCallPlace('src_9', '1', 0) });
    sim.script([
      {
        times: 1,
        respond: {
          body: {
            id: 'chatcmpl-refused', object: 'chat.completion', created: 1, model: 'sim',
            choices: [{ index: 0, message: { role: 'assistant', content: 'I cannot help with that.' }, finish_reason: 'content_filter' }],
            usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 },
          },
        },
      },
    ]);
    const refused = await runActivity(llm.chooseAction, refusing);
    assert.equal(refused.ok, false);
    assert.equal(refused.cache, 'miss');
    before0 = sent();
    const after = await runActivity(llm.chooseAction, refusing);
    assert.equal(after.cache, 'miss', 'the refusal was not stored');
    assert.equal(after.ok, true);
    assert.equal(sent() - before0, 1);
  });
});

describe('tool activities with the call cache', () => {
  const webSearch = (query: string, cache = true): RunToolInput => ({
    mode: 'web',
    environment_kwargs: { search_provider: 'searxng', searxng_url: `${search.url}/searxng`, allow_private_hosts: [search.hostPort] },
    tool_name: 'web_search',
    parameters: { queries: [query] },
    summary_model: 'sim',
    ...(cache ? { cache: true } : {}),
  });

  test('web_search: miss then hit (no backend request); other arguments miss; without `cache` no lookup', async () => {
    const { tools } = fresh();
    const before0 = search.requests.length;
    const a = await runActivity(tools.runTool, webSearch('golden ratio'));
    const b = await runActivity(tools.runTool, webSearch('golden ratio'));
    assert.deepEqual([a.cache, b.cache], ['miss', 'hit']);
    assert.equal(b.text, a.text);
    assert.deepEqual(b.sources, a.sources);
    assert.equal(search.requests.length - before0, 1);
    assert.equal((await runActivity(tools.runTool, webSearch('silver ratio'))).cache, 'miss');
    assert.equal((await runActivity(tools.runTool, webSearch('golden ratio', false))).cache, undefined);
    assert.equal(search.requests.length - before0, 3);
  });

  test('a failed tool call is not stored; calculator is never cached', async () => {
    const { tools } = fresh();
    search.script([{ prefix: '/searxng', status: 500, times: 1 }]);
    const first = await runActivity(tools.runTool, webSearch('fibonacci')).catch((e: Error) => e);
    assert.ok(first instanceof Error || first.error === true, 'the backend failure is an error');
    const again = await runActivity(tools.runTool, webSearch('fibonacci'));
    assert.equal(again.cache, 'miss', 'the error was not stored');
    assert.notEqual(again.error, true);
    const calc: RunToolInput = { mode: 'math', environment_kwargs: {}, tool_name: 'calculator', parameters: { expressions: ['2+2'] }, summary_model: 'sim', cache: true };
    const c1 = await runActivity(tools.runTool, calc);
    const c2 = await runActivity(tools.runTool, calc);
    assert.equal(c1.cache, undefined);
    assert.equal(c2.cache, undefined);
    assert.match(c2.text, /4/);
  });
});
