/**
 * The simulator's endpoint profiles (src/llm/simulator/profiles.ts), over real HTTP: each profile's exact wire
 * shape (status, content-type, fields), compared with the default profile's answer to the same request — a
 * re-encoding profile must carry the same content — plus first-sight behaviour, single-slot serialisation, the
 * control endpoint and the errors for an unknown profile.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  connectSimulator,
  DEFAULT_CONTEXT_CHARS,
  PROFILE_NAMES,
  PROFILES,
  startSimulator,
  type ProfileName,
  type Simulator,
  type SimulatorOptions,
} from '../../src/llm/simulator';
import { toolSchemas } from '../../src/tools/registry';

const SCHEMAS = toolSchemas(['calculator', 'python_interpreter', 'local_search']);
/** Native tools as the LLM activity offers them (with a required `intent`). */
const NATIVE_TOOLS = SCHEMAS.map((t) => ({
  type: 'function' as const,
  function: {
    name: t.name,
    description: t.description,
    parameters: {
      ...t.parameters,
      properties: { intent: { type: 'string' }, ...(t.parameters.properties as object) },
      required: ['intent', ...((t.parameters.required as string[]) ?? [])],
    },
  },
}));
const CALCULATOR = NATIVE_TOOLS.filter((t) => t.function.name === 'calculator');

const PROMPT =
  'You are an intelligent agent exploring with tools.\n\nSeed: Lyon\n\nCurrent observation:\nLyon lies at the confluence of the Rhône and the Saône. ' +
  'The inventor Joseph Marie Jacquard was born in Lyon in 1752 and his loom used punched cards.';
const QA_PROMPT = [
  'You are a data synthesis expert.',
  'Seed: Lyon',
  'Step 1:\n  Intent: Find the rivers\n  Tool: local_search\n  Parameters: {"query":"Lyon rivers"}\n  Observation: Lyon lies at the confluence of the Rhône and the Saône in France.',
  'Step 2:\n  Intent: Find the inventor\n  Tool: local_search\n  Parameters: {"query":"Lyon inventor"}\n  Observation: Joseph Marie Jacquard was born in Lyon. His loom inspired Charles Babbage and the Analytical Engine.',
].join('\n\n');

type Body = Record<string, unknown>;
const action = (extra: Body = {}): Body => ({
  model: 'sim', temperature: 0.7, seed: 3, messages: [{ role: 'user', content: PROMPT }], tools: NATIVE_TOOLS, tool_choice: 'required', ...extra,
});
const calc = (extra: Body = {}): Body => action({ tools: CALCULATOR, ...extra });
const jsonAction = (extra: Body = {}): Body => ({
  model: 'sim', temperature: 0.7, seed: 2, response_format: { type: 'json_object' },
  messages: [{ role: 'user', content: `${PROMPT}\n<tools>\n${JSON.stringify(SCHEMAS)}\n</tools>` }], ...extra,
});
const qa = (extra: Body = {}): Body => ({
  model: 'sim-qa', temperature: 0.7, messages: [{ role: 'user', content: QA_PROMPT }],
  response_format: { type: 'json_schema', json_schema: { name: 'qa_synthesis', schema: { type: 'object' } } }, ...extra,
});
const text = (extra: Body = {}): Body => ({ model: 'sim', messages: [{ role: 'user', content: 'Tell me about Lyon and Geneva' }], ...extra });
const embedding = { model: 'emb', input: ['Lyon silk weavers', 'Geneva'] };

interface Answer {
  status: number;
  type: string;
  text: string;
  json: any;
}

async function send(sim: Simulator, body: unknown, path = '/v1/chat/completions', method = 'POST'): Promise<Answer> {
  const res = await fetch(`${sim.rootUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : JSON.stringify(body),
  });
  const t = await res.text();
  let j: unknown = undefined;
  try {
    j = JSON.parse(t);
  } catch {
    /* not JSON: the test looks at `text` */
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: t, json: j };
}

/** A naive JSON extractor: the first balanced `{…}` (string-aware) that parses as strict JSON. */
function firstParseableObject(text: string): unknown {
  for (let start = text.indexOf('{'); start >= 0; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        try {
          return JSON.parse(text.slice(start, i + 1));
        } catch {
          break;
        }
      }
    }
  }
  return undefined;
}

/** The default profile's simulator: the reference answer for any request. */
let ref: Simulator;
const refAnswer = async (body: Body): Promise<any> => (await send(ref, body)).json;

async function withProfile(profile: ProfileName, fn: (sim: Simulator) => Promise<void>, opts: SimulatorOptions = {}): Promise<void> {
  const sim = await startSimulator({ profile, ...opts });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

const faults = (sim: Simulator) => sim.requests().map((e) => e.fault);
/** The assistant message of an answer (or of a completion object). */
const msg = (a: Answer | Record<string, any>) => ('json' in a && 'status' in a ? a.json : a).choices[0].message;

before(async () => {
  ref = await startSimulator();
});
after(() => ref.close());

describe('openai (default profile)', () => {
  it('answers exactly as recorded: a digest of 10 answers is unchanged (saved histories and fingerprints depend on it)', async () => {
    // If this fails, deterministic answers changed: every saved history / fingerprint made with the simulator changes too.
    const bodies = [action(), action({ seed: 9 }), calc(), jsonAction(), qa(), qa({ response_format: { type: 'json_object' } }), text(), text({ seed: 1 })];
    const parts: string[] = [];
    for (const b of bodies) parts.push((await send(ref, b)).text);
    parts.push((await send(ref, embedding, '/v1/embeddings')).text);
    parts.push((await send(ref, { ...embedding, encoding_format: 'base64' }, '/v1/embeddings')).text);
    const digest = createHash('sha256').update(parts.join('\n')).digest('hex');
    assert.equal(digest, 'ad52adf36e1ad1cd2240b171eb876acaa30b51f1d313021ae4e2022fed882324');
  });

  it('logs the profile in effect and no profile fault', async () => {
    ref.resetLog();
    const a = await send(ref, action());
    assert.equal(a.status, 200);
    assert.equal(typeof msg(a).tool_calls[0].function.arguments, 'string');
    const [e] = ref.requests();
    assert.equal(e!.profile, 'openai');
    assert.equal(e!.fault, undefined);
    assert.ok(e!.answered_ms! >= e!.at_ms);
  });
});

describe('tool-call wire formats', () => {
  it('args-object: function.arguments is the same arguments as a JSON object', async () => {
    const r = msg(await refAnswer(action())).tool_calls[0];
    await withProfile('args-object', async (sim) => {
      const a = await send(sim, action());
      assert.equal(a.status, 200);
      const call = msg(a).tool_calls[0];
      assert.equal(call.function.name, r.function.name);
      assert.equal(call.id, r.id);
      assert.deepEqual(call.function.arguments, JSON.parse(r.function.arguments));
      assert.equal(a.json.choices[0].finish_reason, 'tool_calls');
      assert.deepEqual(faults(sim), ['profile:args_object']);
    });
  });

  it('tool-choice-auto-only: tool_choice "required" → the same HTTP 500 with an empty message; auto, none and named work', async () => {
    await withProfile('tool-choice-auto-only', async (sim) => {
      const first = await send(sim, action());
      const again = await send(sim, action());
      assert.equal(first.status, 500);
      assert.match(first.type, /^application\/json/);
      assert.deepEqual(first.json, { error: { message: '', type: 'internal_server_error', param: null, code: null } });
      assert.equal(again.text, first.text);
      const auto = await send(sim, action({ tool_choice: 'auto' }));
      assert.equal(auto.status, 200);
      assert.deepEqual(auto.json, await refAnswer(action({ tool_choice: 'auto' })));
      assert.equal((await send(sim, action({ tool_choice: { type: 'function', function: { name: 'local_search' } } }))).status, 200);
      assert.equal((await send(sim, action({ tool_choice: undefined }))).status, 200);
      assert.equal((await send(sim, qa())).status, 200);
      assert.deepEqual(faults(sim), ['profile:tool_choice_500', 'profile:tool_choice_500', undefined, undefined, undefined, undefined]);
    });
  });

  const textual: Array<[ProfileName, string, (content: string) => { name: string; args: unknown }]> = [
    ['content-json-tool-call', 'content_json', (c) => {
      const o = JSON.parse(c);
      assert.deepEqual(Object.keys(o), ['name', 'arguments']);
      return { name: o.name, args: o.arguments };
    }],
    ['hermes-tags', 'hermes_tags', (c) => {
      const m = /^<tool_call>\n(.*)\n<\/tool_call>$/s.exec(c);
      assert.ok(m, c);
      const o = JSON.parse(m[1]!);
      return { name: o.name, args: o.arguments };
    }],
    ['mistral-tags', 'mistral_tags', (c) => {
      assert.ok(c.startsWith('[TOOL_CALLS] ['), c);
      const list = JSON.parse(c.slice('[TOOL_CALLS] '.length));
      assert.equal(list.length, 1);
      return { name: list[0].name, args: list[0].arguments };
    }],
    ['llama3-python-tag', 'python_tag', (c) => {
      assert.ok(c.startsWith('<|python_tag|>{"name": '), c);
      const o = JSON.parse(c.slice('<|python_tag|>'.length));
      assert.equal(o.arguments, undefined);
      return { name: o.name, args: o.parameters };
    }],
    ['functionary-tags', 'functionary_tags', (c) => {
      const m = /^<function=([a-z_]+)>(\{.*\})<\/function>$/s.exec(c);
      assert.ok(m, c);
      return { name: m[1]!, args: JSON.parse(m[2]!) };
    }],
  ];
  for (const [profile, label, parse] of textual) {
    it(`${profile}: the call written into content, no tool_calls, finish_reason "stop"; other answers unchanged`, async () => {
      const r = msg(await refAnswer(action())).tool_calls[0];
      await withProfile(profile, async (sim) => {
        const a = await send(sim, action());
        assert.equal(a.status, 200);
        const m = msg(a);
        assert.equal('tool_calls' in m, false);
        assert.equal(a.json.choices[0].finish_reason, 'stop');
        assert.equal(typeof m.content, 'string');
        assert.deepEqual(parse(m.content), { name: r.function.name, args: JSON.parse(r.function.arguments) });
        assert.deepEqual((await send(sim, qa())).json, await refAnswer(qa()));
        assert.deepEqual((await send(sim, jsonAction())).json, await refAnswer(jsonAction()));
        assert.deepEqual(faults(sim), [`profile:${label}`, undefined, undefined]);
        // Deterministic: the same request, the same bytes.
        assert.equal((await send(sim, action())).text, a.text);
      });
    });
  }

  it('tool-calls-finish-stop: the same tool call with finish_reason "stop"', async () => {
    const r = await refAnswer(action());
    await withProfile('tool-calls-finish-stop', async (sim) => {
      const a = await send(sim, action());
      assert.deepEqual(msg(a), msg(r));
      assert.equal(a.json.choices[0].finish_reason, 'stop');
      assert.deepEqual(faults(sim), ['profile:finish_stop']);
    });
  });

  it('tool-name-leak: the tool name ends in "<|channel|>commentary"', async () => {
    const r = msg(await refAnswer(action())).tool_calls[0];
    await withProfile('tool-name-leak', async (sim) => {
      const call = msg(await send(sim, action())).tool_calls[0];
      assert.equal(call.function.name, `${r.function.name}<|channel|>commentary`);
      assert.equal(call.function.arguments, r.function.arguments);
    });
  });

  it('required-empty: tool_choice "required" → 200, content "", no tool call; "auto" works', async () => {
    await withProfile('required-empty', async (sim) => {
      const a = await send(sim, action());
      assert.equal(a.status, 200);
      assert.equal(msg(a).content, '');
      assert.equal('tool_calls' in msg(a), false);
      assert.equal(a.json.choices[0].finish_reason, 'stop');
      assert.deepEqual((await send(sim, action({ tool_choice: 'auto' }))).json, await refAnswer(action({ tool_choice: 'auto' })));
      assert.deepEqual(faults(sim), ['profile:required_empty', undefined]);
    });
  });

  it('nested-args-strings: array arguments arrive as JSON strings inside function.arguments', async () => {
    const r = JSON.parse(msg(await refAnswer(calc())).tool_calls[0].function.arguments);
    assert.ok(Array.isArray(r.expressions));
    await withProfile('nested-args-strings', async (sim) => {
      const args = JSON.parse(msg(await send(sim, calc())).tool_calls[0].function.arguments);
      assert.equal(typeof args.expressions, 'string');
      assert.deepEqual(JSON.parse(args.expressions), r.expressions);
      assert.equal(args.intent, r.intent);
    });
  });
});

describe('reasoning and content formats', () => {
  for (const [profile, field, other] of [['reasoning-content', 'reasoning_content', 'reasoning'], ['reasoning-field', 'reasoning', 'reasoning_content']] as const) {
    it(`${profile}: content null, thinking then the whole answer in message.${field}`, async () => {
      await withProfile(profile, async (sim) => {
        for (const body of [qa(), jsonAction(), text()]) {
          const r = msg(await refAnswer(body)).content as string;
          const a = await send(sim, body);
          assert.equal(a.status, 200);
          const m = msg(a);
          assert.equal(m.content, null);
          assert.equal(other in m, false);
          const reasoning = m[field] as string;
          assert.ok(reasoning.endsWith(`\n\n${r}`), reasoning);
          const thinking = reasoning.slice(0, reasoning.length - r.length - 2);
          assert.match(thinking, /^Okay, [^{}]{40,}$/);
        }
        // A native tool call stays in tool_calls; the thinking goes into the reasoning field.
        const r = msg(await refAnswer(action()));
        const a = msg(await send(sim, action()));
        assert.deepEqual(a.tool_calls, r.tool_calls);
        assert.match(a[field], /^Okay, /);
      });
    });
  }

  it('think-tags: <think> with a decoy JSON draft, then the real answer in content', async () => {
    await withProfile('think-tags', async (sim) => {
      for (const [body, decoy] of [[qa(), '{"question": "draft", "answer": "draft"}'], [jsonAction(), '{"intent": "draft", "action": {"tool_name": "draft", "parameters": {}}}']] as const) {
        const r = msg(await refAnswer(body)).content as string;
        const content = msg(await send(sim, body)).content as string;
        const m = /^<think>\n(.*)\n<\/think>\n\n(.*)$/s.exec(content);
        assert.ok(m, content);
        assert.ok(m[1]!.includes(decoy), m[1]);
        assert.equal(m[2], r);
        // A first-JSON-object parser finds the decoy, not the answer.
        assert.equal(content.slice(content.indexOf('{')).startsWith(decoy), true);
      }
    });
  });

  it('fenced-trailing-commas: prose, a ```json fence, trailing commas, reasoning_steps first', async () => {
    await withProfile('fenced-trailing-commas', async (sim) => {
      const rq = JSON.parse(msg(await refAnswer(qa())).content);
      const content = msg(await send(sim, qa())).content as string;
      const m = /^[A-Z][^\n`{]*\n\n```json\n(\{.*\})\n```\n\n[A-Z][^`{]*$/s.exec(content);
      assert.ok(m, content);
      const fenced = m[1]!;
      assert.match(fenced, /",\n\}$/);
      assert.throws(() => JSON.parse(fenced));
      const lenient = JSON.parse(fenced.replace(/,(\s*[}\]])/g, '$1'));
      assert.deepEqual(lenient, rq);
      assert.deepEqual(Object.keys(lenient), ['reasoning_steps', 'question', 'answer']);
      // The reported bug: the first {…} in the text that parses as strict JSON is a reasoning step, not the QA object.
      const first = firstParseableObject(content) as Record<string, unknown>;
      assert.deepEqual(first, rq.reasoning_steps[0]);
      assert.equal(first.step, 1);

      const ra = JSON.parse(msg(await refAnswer(jsonAction())).content);
      const ac = msg(await send(sim, jsonAction())).content as string;
      assert.deepEqual(JSON.parse(/```json\n(.*)\n```/s.exec(ac)![1]!.replace(/,(\s*[}\]])/g, '$1')), ra);
      assert.deepEqual(firstParseableObject(ac), ra.action);
      assert.deepEqual((await send(sim, text())).json, await refAnswer(text()));
      assert.deepEqual((await send(sim, action())).json, await refAnswer(action()));
      assert.deepEqual(faults(sim), ['profile:fenced_trailing_commas', 'profile:fenced_trailing_commas', undefined, undefined]);
    });
  });

  it('no-usage: no usage in chat or embedding answers', async () => {
    await withProfile('no-usage', async (sim) => {
      for (const body of [action(), qa(), text()]) {
        const a = await send(sim, body);
        assert.equal('usage' in a.json, false);
        const { usage: _u, ...rest } = await refAnswer(body);
        assert.deepEqual(a.json, rest);
      }
      const e = await send(sim, embedding, '/v1/embeddings');
      assert.equal(e.status, 200);
      assert.equal('usage' in e.json, false);
      assert.equal(e.json.data.length, 2);
    });
  });

  it('content-parts: content as [{"type": "text", "text": …}]', async () => {
    await withProfile('content-parts', async (sim) => {
      const r = msg(await refAnswer(qa())).content;
      assert.deepEqual(msg(await send(sim, qa())).content, [{ type: 'text', text: r }]);
      assert.equal(msg(await send(sim, action())).content, null);
    });
  });
});

describe('refusals and broken answers', () => {
  it('html-200: every /v1 request gets HTTP 200 with a text/html page', async () => {
    await withProfile('html-200', async (sim) => {
      for (const [body, path, method] of [[action(), undefined, 'POST'], [embedding, '/v1/embeddings', 'POST'], [null, '/v1/models', 'GET'], [null, '/v1/chat/completions', 'GET']] as const) {
        const a = await send(sim, body, path, method);
        assert.equal(a.status, 200);
        assert.equal(a.type, 'text/html; charset=utf-8');
        assert.match(a.text, /^<!doctype html>\n<html/);
        assert.equal(a.json, undefined);
      }
      assert.deepEqual(faults(sim), ['profile:html_200', 'profile:html_200']);
      // Control endpoints still answer JSON.
      assert.equal((await send(sim, null, '/_sim/profile', 'GET')).json.profile, 'html-200');
    });
  });

  it('error-in-200: an upstream error inside a 200 the first time a request is seen, a normal answer the next time', async () => {
    await withProfile('error-in-200', async (sim) => {
      const first = await send(sim, action());
      assert.equal(first.status, 200);
      assert.match(first.type, /^application\/json/);
      assert.equal(first.json.choices, undefined);
      assert.match(first.json.error.message, /^Upstream error from provider: /);
      assert.equal(first.json.error.code, 502);
      assert.deepEqual((await send(sim, action())).json, await refAnswer(action()));
      const other = await send(sim, action({ seed: 4 }));
      assert.equal(other.json.error.code, 502, 'another request is seen for the first time');
      const log = sim.requests();
      assert.deepEqual(log.map((e) => e.fault), ['profile:error_in_200', undefined, 'profile:error_in_200']);
      assert.equal(log[0]!.fingerprint, log[1]!.fingerprint);
      // Selecting the profile again forgets what was seen.
      sim.profile('error-in-200');
      assert.equal((await send(sim, action())).json.error.code, 502);
    });
  });

  it('empty-choices: "choices": [] the first time a request is seen, normal afterwards', async () => {
    await withProfile('empty-choices', async (sim) => {
      const r = await refAnswer(qa());
      const first = await send(sim, qa());
      assert.equal(first.status, 200);
      assert.deepEqual(first.json, { ...r, choices: [] });
      assert.deepEqual((await send(sim, qa())).json, r);
      assert.deepEqual(faults(sim), ['profile:empty_choices', undefined]);
    });
  });

  it('no-tools-support: requests with tools → Ollama\'s 400 "… does not support tools"; others work', async () => {
    await withProfile('no-tools-support', async (sim) => {
      const a = await send(sim, action({ model: 'gemma:2b' }));
      assert.equal(a.status, 400);
      assert.deepEqual(a.json, { error: { message: 'registry.ollama.ai/library/gemma:2b does not support tools', type: 'api_error', param: null, code: null } });
      assert.equal((await send(sim, action())).json.error.message, 'registry.ollama.ai/library/sim:latest does not support tools');
      assert.deepEqual((await send(sim, jsonAction())).json, await refAnswer(jsonAction()));
      assert.deepEqual(faults(sim), ['profile:no_tools_400', 'profile:no_tools_400', undefined]);
    });
  });

  it('no-json-schema: response_format json_schema → 400; json_object and none work', async () => {
    await withProfile('no-json-schema', async (sim) => {
      const a = await send(sim, qa());
      assert.equal(a.status, 400);
      assert.deepEqual(a.json, {
        error: { code: 400, message: 'response_format type must be one of "text" or "json_object", but got: json_schema', type: 'invalid_request_error' },
      });
      const jo = qa({ response_format: { type: 'json_object' } });
      assert.deepEqual((await send(sim, jo)).json, await refAnswer(jo));
      assert.equal((await send(sim, text())).status, 200);
    });
  });

  it(`context-overflow: message content over the limit (default ${DEFAULT_CONTEXT_CHARS} characters) → llama.cpp's 400, every time`, async () => {
    const sized = (chars: number) => text({ messages: [{ role: 'user', content: 'Lyon '.repeat(chars / 5) }] });
    await withProfile('context-overflow', async (sim) => {
      const over = await send(sim, sized(DEFAULT_CONTEXT_CHARS + 5));
      assert.equal(over.status, 400);
      assert.deepEqual(over.json, {
        error: {
          code: 400, message: 'the request exceeds the available context size, try increasing it', type: 'exceed_context_size_error',
          n_prompt_tokens: 1502, n_ctx: 1500,
        },
      });
      assert.equal((await send(sim, sized(DEFAULT_CONTEXT_CHARS + 5))).text, over.text);
      assert.equal((await send(sim, sized(DEFAULT_CONTEXT_CHARS))).status, 200);
    });
    await withProfile('context-overflow', async (sim) => {
      assert.equal((await send(sim, action())).status, 400, `the action prompt (${PROMPT.length} chars) is over 100`);
      assert.deepEqual(faults(sim), ['profile:context_overflow_400']);
    }, { contextChars: 100 });
    await assert.rejects(startSimulator({ profile: 'context-overflow', contextChars: 0 }), /contextChars: expected an integer > 0, got 0/);
  });

  it('deterministic-500: the same 500 and body for every chat request', async () => {
    await withProfile('deterministic-500', async (sim) => {
      const a = await send(sim, action());
      const b = await send(sim, qa());
      assert.equal(a.status, 500);
      assert.equal(b.status, 500);
      assert.equal(a.text, b.text);
      assert.match(a.json.error.message, /Conversation roles must alternate/);
      assert.equal((await send(sim, embedding, '/v1/embeddings')).status, 200);
    });
  });

  it('sse-always: text/event-stream chunks and [DONE] although stream is false; the same answer reassembled', async () => {
    const events = (raw: string) => {
      assert.ok(raw.endsWith('data: [DONE]\n\n'), raw.slice(-80));
      return raw.split('\n\n').filter(Boolean).slice(0, -1).map((e) => {
        assert.ok(e.startsWith('data: '), e);
        return JSON.parse(e.slice(6));
      });
    };
    await withProfile('sse-always', async (sim) => {
      const r = await refAnswer(qa());
      const a = await send(sim, qa());
      assert.equal(a.status, 200);
      assert.equal(a.type, 'text/event-stream');
      const ev = events(a.text);
      assert.ok(ev.every((e) => e.object === 'chat.completion.chunk' && e.id === r.id));
      assert.equal(ev[0].choices[0].delta.role, 'assistant');
      const content = ev.map((e) => e.choices[0]?.delta.content ?? '').join('');
      assert.equal(content, msg(r).content);
      assert.ok(ev.length > 4, 'content comes in several chunks');
      assert.equal(ev.at(-2).choices[0].finish_reason, 'stop');
      assert.deepEqual(ev.at(-1).usage, r.usage);

      const rc = msg(await refAnswer(action())).tool_calls[0];
      const tc = events((await send(sim, action())).text);
      const deltas = tc.flatMap((e) => e.choices[0]?.delta.tool_calls ?? []);
      assert.equal(deltas[0].id, rc.id);
      assert.equal(deltas[0].function.name, rc.function.name);
      assert.equal(deltas.map((d: any) => d.function.arguments).join(''), rc.function.arguments);
      assert.equal(tc.at(-2).choices[0].finish_reason, 'tool_calls');
      assert.deepEqual(faults(sim), ['profile:sse', 'profile:sse']);
    });
  });

  it('oversize: a 200 answer whose content is ~3 MB and starts with the real answer', async () => {
    await withProfile('oversize', async (sim) => {
      const r = msg(await refAnswer(qa())).content as string;
      const res = await fetch(`${sim.url}/chat/completions`, { method: 'POST', body: JSON.stringify(qa()) });
      assert.equal(res.status, 200);
      assert.ok(Number(res.headers.get('content-length')) > 3_000_000);
      const content = ((await res.json()) as any).choices[0].message.content as string;
      assert.equal(content.length, 3 * 1024 * 1024);
      assert.ok(content.startsWith(`${r}\n\n`));
    });
  });

  it('truncated-length: below temperature 0.8 the answer is cut with finish_reason "length"; at 0.8 it is complete', async () => {
    await withProfile('truncated-length', async (sim) => {
      const r = msg(await refAnswer(qa())).content as string;
      const cut = await send(sim, qa());
      assert.equal(cut.json.choices[0].finish_reason, 'length');
      assert.equal(msg(cut).content, r.slice(0, Math.floor(r.length / 2)));
      assert.throws(() => JSON.parse(msg(cut).content));
      const hotter = qa({ temperature: 0.8 });
      assert.deepEqual((await send(sim, hotter)).json, await refAnswer(hotter));
      const rc = msg(await refAnswer(action())).tool_calls[0];
      const tc = await send(sim, action());
      assert.equal(tc.json.choices[0].finish_reason, 'length');
      assert.equal(msg(tc).tool_calls[0].function.arguments, rc.function.arguments.slice(0, Math.floor(rc.function.arguments.length / 2)));
      assert.deepEqual(faults(sim), ['profile:truncated_length', undefined, 'profile:truncated_length']);
    });
  });

  it('model-not-found: 404 model_not_found for chat and embeddings', async () => {
    await withProfile('model-not-found', async (sim) => {
      const a = await send(sim, action({ model: 'gpt-9' }));
      assert.equal(a.status, 404);
      assert.deepEqual(a.json, {
        error: { message: 'The model `gpt-9` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' },
      });
      assert.equal((await send(sim, embedding, '/v1/embeddings')).status, 404);
      assert.deepEqual(faults(sim), ['profile:model_not_found_404', 'profile:model_not_found_404']);
    });
  });

  it('single-slot: two concurrent requests are answered one after the other, each taking the latency', async () => {
    const latencyMs = 150;
    await withProfile('single-slot', async (sim) => {
      const done: number[] = [];
      const go = (seed: number) => send(sim, text({ seed })).then((a) => (done.push(seed), a));
      const [a, b] = await Promise.all([go(1), go(2)]);
      assert.deepEqual(a.json, await refAnswer(text({ seed: 1 })));
      assert.deepEqual(b.json, await refAnswer(text({ seed: 2 })));
      const [first, second] = sim.requests();
      // The second arrived while the first was being answered, waited for the slot, and was answered a latency later.
      assert.ok(second!.at_ms < first!.answered_ms!, `second arrived at ${second!.at_ms}, first answered at ${first!.answered_ms}`);
      assert.ok(second!.answered_ms! - first!.answered_ms! >= latencyMs - 2, `answered at ${first!.answered_ms} and ${second!.answered_ms}`);
      assert.ok(second!.queued_ms! > 0);
      assert.equal(second!.fault, 'profile:queued');
      assert.equal(first!.queued_ms, undefined);
      const firstSeed = first!.seed;
      assert.equal(done[0], firstSeed, 'the client got the first request\'s answer first');
    }, { latencyMs });
  });

  it('single-slot: a client that leaves frees the slot for the next request', async () => {
    await withProfile('single-slot', async (sim) => {
      // Each request is sent once the previous one is in the log, so the queue order is fixed: 1, 2 (leaves), 3.
      const logged = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => (sim.requests().length >= n ? resolve() : setImmediate(check));
          check();
        });
      const leaving = new AbortController();
      const first = send(sim, text({ seed: 1 }));
      await logged(1);
      const second = fetch(`${sim.url}/chat/completions`, { method: 'POST', body: JSON.stringify(text({ seed: 2 })), signal: leaving.signal })
        .then(() => 'answered', (e: Error) => e.name);
      await logged(2);
      const last = send(sim, text({ seed: 3 }));
      await logged(3);
      assert.equal((await first).status, 200);
      leaving.abort(); // the second is now within its 300 ms turn
      assert.equal(await second, 'AbortError');
      assert.equal((await last).status, 200, 'the queue moved on after the client left');
      const log = sim.requests();
      assert.deepEqual(log.map((e) => [e.seed, e.fault]), [[1, undefined], [2, 'profile:queued'], [3, 'profile:queued']]);
      assert.equal(log[1]!.answered_ms, undefined, 'the leaving client got no answer');
      assert.ok(log[2]!.answered_ms! >= log[0]!.answered_ms! + 298, `answered at ${log[0]!.answered_ms} and ${log[2]!.answered_ms}`);
    }, { latencyMs: 300 });
  });
});

describe('selecting a profile', () => {
  it('POST /_sim/profile switches the profile; GET lists every profile; reset restores the starting one', async () => {
    await withProfile('no-usage', async (sim) => {
      const listed = await send(sim, null, '/_sim/profile', 'GET');
      assert.equal(listed.json.profile, 'no-usage');
      assert.deepEqual(listed.json.profiles.map((p: { name: string }) => p.name), [...PROFILE_NAMES]);
      assert.ok(listed.json.profiles.every((p: { imitates: string }) => p.imitates.length > 10));

      const set = await send(sim, { profile: 'hermes-tags' }, '/_sim/profile');
      assert.deepEqual(set.json, { ok: true, profile: 'hermes-tags' });
      assert.match(msg(await send(sim, action())).content, /^<tool_call>/);
      assert.equal(sim.requests()[0]!.profile, 'hermes-tags');

      const ctl = connectSimulator(sim.url);
      assert.equal(await ctl.profile(), 'hermes-tags');
      assert.equal(await ctl.profile('args-object'), 'args-object');
      assert.equal(typeof msg(await send(sim, action())).tool_calls[0].function.arguments, 'object');
      await ctl.reset();
      assert.equal(sim.profile(), 'no-usage');
      assert.deepEqual(sim.requests(), []);

      assert.equal(sim.profile('openai'), 'openai');
      assert.deepEqual((await send(sim, action())).json, await refAnswer(action()));
    });
  });

  it('an unknown profile is an error listing the valid names', async () => {
    const expected = /profile: expected one of openai, args-object, tool-choice-auto-only, .*, nested-args-strings, got "nope"/;
    await assert.rejects(startSimulator({ profile: 'nope' }), expected);
    await withProfile('openai', async (sim) => {
      assert.throws(() => sim.profile('nope'), expected);
      const r = await send(sim, { profile: 'nope' }, '/_sim/profile');
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, expected);
      assert.equal((await send(sim, ['x'], '/_sim/profile')).status, 400);
      await assert.rejects(connectSimulator(sim.url).profile('nope'), /HTTP 400.*expected one of openai/);
      assert.equal(sim.profile(), 'openai', 'a failed switch keeps the profile');
    });
  });

  it('simulator-main --profile starts with that profile; an unknown one exits 2 naming the valid ones', async () => {
    const tsx = join(__dirname, '../../node_modules/.bin/tsx');
    const main = join(__dirname, '../../src/llm/simulator-main.ts');
    const child = spawn(tsx, [main, '--port', '0', '--profile', 'no-usage'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const { url, profile } = JSON.parse(line) as { url: string; profile: string };
      assert.equal(profile, 'no-usage');
      const r = await fetch(`${url}/chat/completions`, { method: 'POST', body: JSON.stringify(text()) }).then((x) => x.json() as Promise<any>);
      assert.equal('usage' in r, false);
      assert.equal(await connectSimulator(url).profile(), 'no-usage');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.equal(((await exited) as [number | null])[0], 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const bad = spawn(tsx, [main, '--profile', 'nope'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    bad.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(bad, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(err, /--profile: expected one of openai, args-object, .*, got "nope"/);
  });

  it('every profile has a one-line description and a row in the README table', () => {
    const readme = fs.readFileSync(join(__dirname, '../../README.md'), 'utf8');
    for (const name of PROFILE_NAMES) {
      assert.ok(PROFILES[name].imitates.trim().length > 10, name);
      assert.match(readme, new RegExp(`^\\| \`${name}\` \\|`, 'm'), `README has no table row for ${name}`);
    }
  });
});
