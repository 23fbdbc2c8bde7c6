import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { connectSimulator, startSimulator, type Simulator } from '../../src/llm/simulator';
import { getTool, toolSchemas } from '../../src/tools/registry';
import { groundAnswer } from '../../src/domain/grounding';

let sim: Simulator;
let client: OpenAI;

const TOOL_NAMES = ['calculator', 'python_interpreter', 'local_search'];
const SCHEMAS = toolSchemas(TOOL_NAMES);
/** Native tools as the LLM activity offers them: each schema plus a required `intent`. */
const NATIVE_TOOLS = SCHEMAS.map((t) => ({
  type: 'function' as const,
  function: {
    name: t.name,
    description: t.description,
    parameters: {
      ...t.parameters,
      properties: { intent: { type: 'string', description: 'why' }, ...(t.parameters.properties as object) },
      required: ['intent', ...((t.parameters.required as string[]) ?? [])],
    },
  },
}));

const PROMPT =
  'You are an intelligent agent exploring with tools.\n\nSeed: Lyon\n\nCurrent observation:\nLyon lies at the confluence of the Rhône and the Saône. ' +
  'The inventor Joseph Marie Jacquard was born in Lyon in 1752 and his loom used punched cards.\n\nAvailable tools:\n1. calculator';

function actionBody(seed: number, extra: Record<string, unknown> = {}) {
  return { model: 'sim', temperature: 0.7, seed, messages: [{ role: 'user', content: PROMPT }], tools: NATIVE_TOOLS, tool_choice: 'required', ...extra };
}

const JSON_PROMPT = `${PROMPT}\nReply with JSON.\n<tools>\n${JSON.stringify(SCHEMAS)}\n</tools>`;

const QA_PROMPT = [
  'You are a data synthesis expert.',
  'Seed: Lyon',
  'Exploration (2 steps):',
  'Step 1:\n  Intent: Find the rivers\n  Tool: local_search\n  Parameters: {"query":"Lyon rivers"}\n  Observation: Lyon lies at the confluence of the Rhône and the Saône in France.',
  'Step 2:\n  Intent: Find the inventor\n  Tool: local_search\n  Parameters: {"query":"Lyon inventor"}\n  Observation: Joseph Marie Jacquard was born in Lyon. His loom inspired Charles Babbage and the Analytical Engine.\n\nMore text here about Ada Lovelace.',
  'Requirements:\n- The answer must not appear in the question.',
].join('\n\n');

function qaBody(extra: Record<string, unknown> = {}) {
  return {
    model: 'sim-qa',
    temperature: 0.7,
    messages: [{ role: 'user', content: QA_PROMPT }],
    response_format: { type: 'json_schema', json_schema: { name: 'qa_synthesis', schema: { type: 'object' } } },
    ...extra,
  };
}

async function post(body: unknown, path = '/v1/chat/completions'): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${sim.rootUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

function validateAction(name: string, args: Record<string, unknown>): void {
  assert.ok(TOOL_NAMES.includes(name), `unexpected tool ${name}`);
  const { intent, ...rest } = args;
  if (intent !== undefined) assert.match(String(intent), /^Find out more about \S/);
  const parsed = getTool(name).schema.safeParse(rest);
  assert.ok(parsed.success, `${name} ${JSON.stringify(rest)}: ${parsed.success ? '' : parsed.error.message}`);
}

before(async () => {
  sim = await startSimulator({ seed: 7 });
  client = new OpenAI({ baseURL: sim.url, apiKey: 'unused', maxRetries: 0 });
});
after(() => sim.close());
beforeEach(() => {
  sim.clearScript();
  sim.resetLog();
});

describe('simulator answers', () => {
  it('is deterministic: the same body gets the same answer', async () => {
    const a = await post(actionBody(3));
    const b = await post(actionBody(3));
    assert.equal(a.status, 200);
    assert.deepEqual(a.json, b.json);
    const q1 = await post(qaBody());
    const q2 = await post(qaBody());
    assert.deepEqual(q1.json, q2.json);
  });

  it('native tools: one tool call, valid against the offered schema, with usage', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const r = await client.chat.completions.create(actionBody(seed) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
      const choice = r.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls?.length, 1);
      const call = choice.message.tool_calls![0]!;
      assert.equal(call.type, 'function');
      if (call.type !== 'function') continue;
      validateAction(call.function.name, JSON.parse(call.function.arguments));
      assert.equal(r.model, 'sim');
      assert.equal(r.object, 'chat.completion');
      assert.ok(r.usage!.prompt_tokens > 0 && r.usage!.total_tokens === r.usage!.prompt_tokens + r.usage!.completion_tokens);
    }
  });

  it('different seeds give different choices', async () => {
    const seen = new Set<string>();
    const tools = new Set<string>();
    for (let seed = 1; seed <= 6; seed++) {
      const r = await post(actionBody(seed));
      const fn = r.json.choices[0].message.tool_calls[0].function;
      seen.add(`${fn.name} ${fn.arguments}`);
      tools.add(fn.name);
    }
    assert.ok(seen.size >= 4, `only ${seen.size} distinct answers`);
    assert.ok(tools.size >= 2, 'always the same tool');
  });

  it('fills calculator expressions, python code and search queries sensibly', async () => {
    for (const name of TOOL_NAMES) {
      const body = actionBody(1, { tools: NATIVE_TOOLS.filter((t) => t.function.name === name) });
      const r = await post(body);
      const args = JSON.parse(r.json.choices[0].message.tool_calls[0].function.arguments);
      if (name === 'calculator') for (const e of args.expressions) assert.match(e, /^[\d\s+\-*/^().,a-z]+$/);
      if (name === 'python_interpreter') assert.match(args.code, /print\(/);
      if (name === 'local_search') {
        const words = args.query.split(/\s+/);
        assert.ok(words.length >= 2 && words.length <= 4, args.query);
        assert.ok(words.every((w: string) => PROMPT.includes(w)), args.query);
      }
    }
  });

  it('honours tool_choice naming a function', async () => {
    const r = await post(actionBody(2, { tool_choice: { type: 'function', function: { name: 'local_search' } } }));
    assert.equal(r.json.choices[0].message.tool_calls[0].function.name, 'local_search');
  });

  it('JSON action mode: a <tools> block yields {intent, action}', async () => {
    for (let seed = 0; seed < 5; seed++) {
      const r = await client.chat.completions.create({
        model: 'sim', seed, temperature: 0.7, messages: [{ role: 'user', content: JSON_PROMPT }], response_format: { type: 'json_object' },
      });
      const obj = JSON.parse(r.choices[0]!.message.content!);
      assert.equal(typeof obj.intent, 'string');
      validateAction(obj.action.tool_name, obj.action.parameters);
    }
    assert.ok(sim.requests().every((e) => e.kind === 'action'));
  });

  it('QA: question without the answer, starting with Which/What, ≤ 60 words', async () => {
    for (let i = 0; i < 8; i++) {
      const r = await client.chat.completions.create(qaBody({ temperature: 0.5 + i / 10 }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
      const qa = JSON.parse(r.choices[0]!.message.content!);
      assert.ok(qa.answer.length > 0);
      assert.ok(qa.answer.split(/\s+/).length <= 3, qa.answer);
      assert.ok(!qa.question.toLowerCase().includes(qa.answer.toLowerCase()), `${qa.question} / ${qa.answer}`);
      assert.match(qa.question, /^(Which|What) /);
      assert.ok(qa.question.split(/\s+/).length <= 60);
      assert.equal(qa.reasoning_steps.length, 2);
      assert.deepEqual(Object.keys(qa.reasoning_steps[0]).sort(), ['action', 'description', 'intent', 'observation', 'step']);
      assert.equal(qa.reasoning_steps[1].intent, 'Find the inventor');
      assert.equal(typeof qa.reasoning_steps[0].action, 'string');
    }
    const jo = await post({ ...qaBody(), response_format: { type: 'json_object' } });
    const qa = JSON.parse(jo.json.choices[0].message.content);
    assert.equal(qa.reasoning_steps[0].action.tool_name, 'local_search');
  });

  it('QA: the answer is never drawn from a failure report (a web_visit whose every URL failed)', async () => {
    const failed = '**Failed URLs:**\n  - http://www.example.invalid/page: getaddrinfo ENOTFOUND www.example.invalid';
    const prompt = QA_PROMPT.replace('Observation: Joseph Marie Jacquard was born in Lyon. His loom inspired Charles Babbage and the Analytical Engine.\n\nMore text here about Ada Lovelace.', `Observation: ${failed}`);
    assert.notEqual(prompt, QA_PROMPT);
    for (let i = 0; i < 8; i++) {
      const r = await client.chat.completions.create({ ...qaBody({ temperature: 0.5 + i / 10 }), messages: [{ role: 'user', content: prompt }] } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
      const qa = JSON.parse(r.choices[0]!.message.content!);
      assert.ok(!/ENOTFOUND|Failed|URLs|getaddrinfo|example/i.test(qa.answer), qa.answer);
      assert.ok('Lyon lies at the confluence of the Rhône and the Saône in France.'.includes(qa.answer), `from the successful observation: ${qa.answer}`);
    }
  });

  it('QA: the answer is a whole word of an observation, never the start of a longer token (DTJB of DTJB02SC.TXT)', async () => {
    const obs = 'See (http://research.compaq.com/wrl/DECarchives/DTJ/DTJB02/DTJB02SC.TXT) and XKCDV2 for Unicode in Lyon.';
    const prompt = QA_PROMPT.replace('Observation: Joseph Marie Jacquard was born in Lyon. His loom inspired Charles Babbage and the Analytical Engine.\n\nMore text here about Ada Lovelace.', `Observation: ${obs}`);
    assert.notEqual(prompt, QA_PROMPT);
    const steps = [
      { node_id: 'a', observation: 'Lyon lies at the confluence of the Rhône and the Saône in France.' },
      { node_id: 'b', observation: obs },
    ];
    const answers = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const r = await client.chat.completions.create({ ...qaBody({ temperature: 0.3 + i / 20 }), messages: [{ role: 'user', content: prompt }] } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
      const qa = JSON.parse(r.choices[0]!.message.content!);
      answers.add(qa.answer);
      assert.ok(groundAnswer(qa.answer, steps), `grounded in the observations: ${qa.answer}`);
      assert.ok(!/^(DTJB|XKCDV|DECarchives\/)/.test(qa.answer), qa.answer);
    }
    assert.ok(answers.size >= 2, `different prompts pick different answers: ${[...answers].join(', ')}`);
  });

  it('plain text without tools or json format', async () => {
    const r = await client.chat.completions.create({ model: 'sim', messages: [{ role: 'user', content: 'Tell me about Lyon and Geneva' }] });
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.match(r.choices[0]!.message.content!, /\S/);
    assert.equal(sim.requests()[0]!.kind, 'text');
  });

  it('rejects streaming and invalid requests with OpenAI-shaped errors', async () => {
    const s = await post({ ...actionBody(1), stream: true });
    assert.equal(s.status, 400);
    assert.equal(s.json.error.message, 'streaming not supported by the simulator');
    const bad = await fetch(`${sim.url}/chat/completions`, { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 400);
    const noMessages = await post({ model: 'x' });
    assert.equal(noMessages.status, 400);
    const models = await fetch(`${sim.url}/models`).then((r) => r.json() as Promise<any>);
    assert.equal(models.object, 'list');
    assert.ok(models.data.length >= 1);
  });
});

describe('fault injection', () => {
  it('status faults return an OpenAI error body with the given headers', async () => {
    sim.script([{ match: { kind: 'action' }, respond: { status: 429, headers: { 'retry-after': '1', 'retry-after-ms': '1000' } } }]);
    const r = await post(actionBody(1));
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.headers.get('retry-after-ms'), '1000');
    assert.equal(typeof r.json.error.message, 'string');
    assert.equal(r.json.error.type, 'rate_limit_exceeded');
    assert.ok('code' in r.json.error);
    const q = await post(qaBody());
    assert.equal(q.status, 200, 'kind action must not match a QA request');
    assert.deepEqual(sim.requests().map((e) => [e.status, e.fault]), [[429, 'status:429'], [200, undefined]]);
  });

  it('malformed native tool calls: invalid_json, unknown_tool, missing_argument, empty', async () => {
    const calc = NATIVE_TOOLS.filter((t) => t.function.name === 'calculator');
    const call = async (malformed: 'invalid_json' | 'unknown_tool' | 'missing_argument' | 'empty') => {
      sim.script([{ respond: { malformed } }]);
      const r = await post(actionBody(4, { tools: calc }));
      assert.equal(r.status, 200);
      return r.json.choices[0];
    };
    const invalid = await call('invalid_json');
    assert.throws(() => JSON.parse(invalid.message.tool_calls[0].function.arguments));
    const unknown = await call('unknown_tool');
    assert.ok(!TOOL_NAMES.includes(unknown.message.tool_calls[0].function.name));
    const missing = await call('missing_argument');
    const args = JSON.parse(missing.message.tool_calls[0].function.arguments);
    assert.ok(!('expressions' in args), JSON.stringify(args));
    assert.ok('intent' in args);
    const empty = await call('empty');
    assert.equal(empty.message.content, '');
    assert.equal(empty.message.tool_calls, undefined);
    assert.deepEqual(sim.requests().map((e) => e.fault), ['malformed:invalid_json', 'malformed:unknown_tool', 'malformed:missing_argument', 'malformed:empty']);
  });

  it('malformed JSON-mode actions and QA answers', async () => {
    sim.script([{ match: { kind: 'action' }, respond: { malformed: 'unknown_tool' }, times: 1 }, { match: { kind: 'qa' }, respond: { malformed: 'invalid_json' }, times: 1 }, { match: { kind: 'qa' }, respond: { malformed: 'missing_argument' } }]);
    const a = await post({ model: 'sim', messages: [{ role: 'user', content: JSON_PROMPT }] });
    assert.ok(!TOOL_NAMES.includes(JSON.parse(a.json.choices[0].message.content).action.tool_name));
    const q1 = await post(qaBody());
    assert.throws(() => JSON.parse(q1.json.choices[0].message.content));
    const q2 = await post(qaBody());
    assert.equal(JSON.parse(q2.json.choices[0].message.content).answer, undefined);
  });

  it('times and after count matching requests', async () => {
    sim.script([{ after: 1, times: 2, respond: { status: 500 } }]);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(actionBody(i))).status);
    assert.deepEqual(statuses, [200, 500, 500, 200, 200]);
  });

  it('matches on contains and model; the first firing rule wins', async () => {
    sim.script([
      { match: { model: 'other-model' }, respond: { status: 503 } },
      { match: { contains: 'Jacquard' }, respond: { status: 502 }, times: 1 },
      { respond: { status: 500 }, times: 1 },
    ]);
    assert.equal((await post(actionBody(1))).status, 502);
    assert.equal((await post(actionBody(1))).status, 500);
    assert.equal((await post(actionBody(1))).status, 200);
    assert.equal((await post({ ...actionBody(1), model: 'other-model' })).status, 503);
  });

  it('probability is deterministic for a simulator seed', async () => {
    const run = async (s: Simulator) => {
      s.script([{ probability: 0.5, respond: { status: 500 } }]);
      const out: number[] = [];
      for (let i = 0; i < 16; i++) {
        const r = await fetch(`${s.url}/chat/completions`, { method: 'POST', body: JSON.stringify(actionBody(1)) });
        await r.text();
        out.push(r.status);
      }
      return out;
    };
    const a = await startSimulator({ seed: 42 });
    const b = await startSimulator({ seed: 42 });
    try {
      const ra = await run(a);
      assert.deepEqual(ra, await run(b));
      assert.ok(ra.includes(500) && ra.includes(200), ra.join(','));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('delayMs delays the answer and is logged', async () => {
    sim.script([{ respond: { delayMs: 30 }, times: 1 }]);
    const r = await post(actionBody(1));
    assert.equal(r.status, 200);
    assert.equal(sim.requests()[0]!.fault, 'delay:30');
  });

  /** Until `s` has logged `n` requests (a held request is logged when it arrives, before it is answered). */
  const logged = async (n: number, s: Simulator = sim) => {
    while (s.requests().length < n) await new Promise((r) => setImmediate(r));
  };

  it('hold keeps an answer until its gate is released (in process and over HTTP); other requests go on', async () => {
    sim.script([{ match: { kind: 'qa' }, times: 1, respond: { hold: 'g1' } }]);
    let settled = false;
    const held = post(qaBody()).then((r) => ((settled = true), r));
    await logged(1);
    assert.equal((await post(actionBody(1))).status, 200, 'a request the rule does not match is answered meanwhile');
    const qa = () => sim.requests().find((e) => e.kind === 'qa')!;
    assert.equal(settled, false, 'the held answer has not come');
    assert.equal(qa().answered_ms, undefined);
    assert.equal(qa().fault, 'hold:g1');
    sim.release('g1');
    assert.equal((await held).status, 200);
    assert.equal(typeof qa().answered_ms, 'number');
    // A released gate stays open: a later rule holding on it does not wait.
    sim.script([{ times: 1, respond: { hold: 'g1' } }]);
    assert.equal((await post(qaBody())).status, 200);

    const ctl = connectSimulator(sim.url);
    sim.resetLog();
    sim.script([{ times: 1, respond: { hold: 'g2', status: 503 } }]);
    const held2 = post(qaBody());
    await logged(1);
    await ctl.release('g2');
    assert.equal((await held2).status, 503, 'a scripted error answer is held too');
    await assert.rejects(ctl.release(''), /HTTP 400.*gate/);
    assert.throws(() => sim.script([{ respond: { hold: 3 } }] as never), /rules\[0\]\.respond\.hold: expected a gate name/);
  });

  it('close() does not wait for a gate that was never released', async () => {
    const s = await startSimulator();
    try {
      s.script([{ respond: { hold: 'never' } }]);
      const held = fetch(`${s.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(qaBody()) });
      await logged(1, s);
      await s.close();
      await held.then((r) => r.text()).catch(() => undefined);
    } finally {
      await s.close();
    }
  });

  it('refuses an invalid script with path: expected … lines', () => {
    assert.throws(() => sim.script([{ respond: { status: 42 } }]), /rules\[0\]\.respond\.status: expected an HTTP status/);
    assert.throws(() => sim.script([{ respond: { malformed: 'weird' as never } }]), /malformed: expected one of/);
  });
});

describe('request log and control endpoints', () => {
  it('logs kind, model, temperature, seed, status and a fingerprint per request', async () => {
    await post(actionBody(1));
    await post(actionBody(1));
    await post(actionBody(2));
    await post(qaBody());
    const log = sim.requests();
    assert.deepEqual(log.map((e) => e.n), [1, 2, 3, 4]);
    assert.deepEqual(log.map((e) => e.kind), ['action', 'action', 'action', 'qa']);
    assert.equal(log[0]!.fingerprint, log[1]!.fingerprint, 'the same call made twice is detectable');
    assert.notEqual(log[0]!.fingerprint, log[2]!.fingerprint);
    assert.match(log[0]!.fingerprint, /^[0-9a-f]{64}$/);
    assert.deepEqual([log[2]!.model, log[2]!.temperature, log[2]!.seed, log[2]!.status], ['sim', 0.7, 2, 200]);
    assert.equal(log[3]!.seed, null);
    sim.resetLog();
    assert.deepEqual(sim.requests(), []);
  });

  it('is controllable over HTTP (/_sim/script, /_sim/requests, /_sim/reset)', async () => {
    const ctl = connectSimulator(sim.url);
    await ctl.script([{ match: { kind: 'qa' }, times: 1, respond: { status: 429, headers: { 'retry-after': '2' } } }]);
    assert.equal((await post(qaBody())).status, 429);
    assert.equal((await post(qaBody())).status, 200);
    const log = await ctl.requests();
    assert.deepEqual(log.map((e) => e.status), [429, 200]);
    await ctl.reset();
    assert.deepEqual(await ctl.requests(), []);
    await assert.rejects(ctl.script([{ respond: { status: 'x' } }] as never), /HTTP 400/);
  });

  it('runs as a separate process: simulator-main prints its URL and exits on SIGTERM', async () => {
    const tsx = join(__dirname, '../../node_modules/.bin/tsx');
    const child = spawn(tsx, [join(__dirname, '../../src/llm/simulator-main.ts'), '--port', '0', '--latency-ms', '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const rl = createInterface({ input: child.stdout! });
      const [line] = (await once(rl, 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const c = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
      const r = await c.chat.completions.create({ model: 'sim', messages: [{ role: 'user', content: 'hello Lyon' }] });
      assert.equal(r.choices[0]!.finish_reason, 'stop');
      assert.equal((await connectSimulator(url).requests()).length, 1);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
