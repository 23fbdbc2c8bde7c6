/**
 * Characterises a real OpenAI-compatible server with the exact request shapes qasynth sends (the findings for
 * llama-cpp-python are in docs/real-endpoints.md). The qasynth-shaped bodies are produced by qasynth's own LLM
 * activities (src/activities/llm.ts, run in a MockActivityEnvironment) and captured by the recording proxy; the
 * variants (tool_choice "auto" / named, repeated seed, concurrency, disconnect) are those bodies changed by one
 * field and sent with fetch.
 *
 *   npx tsx scripts/real-llm-probe.ts                 provision + start the llama-cpp-python server, probe, stop
 *   npx tsx scripts/real-llm-probe.ts --base-url http://127.0.0.1:8000/v1 [--model NAME]   probe a running server
 *   … --out FILE                                      also write every exchange (bodies, answers, timings) as JSON
 *   … --only native,json,qa,seed,text,concurrency,disconnect   run a subset
 *
 * Prints one block per probe: status, duration, the answer's shape (content / tool_calls and whether
 * `function.arguments` is a string, `finish_reason`, `usage`), and for the concurrency probe each request's
 * start and end relative to the first start.
 */
import fs from 'node:fs';
import OpenAI from 'openai';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createLlmActivities } from '../src/activities/llm';
import type { ChooseActionInput, SynthesizeQaInput } from '../src/shared/types';
import { startRecordingProxy, type ProxiedExchange } from '../test/helpers/recording-proxy';
import { REAL_LLM_MODEL, startRealLlmServer, type RealLlmServer } from '../test/helpers/real-llm';

interface Args {
  baseUrl?: string;
  model: string;
  out?: string;
  only: Set<string>;
}

const ALL = ['native', 'json', 'qa', 'seed', 'text', 'concurrency', 'disconnect'];

function parseArgs(argv: string[]): Args {
  const a: Args = { model: REAL_LLM_MODEL, only: new Set(ALL) };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--base-url' && v) (a.baseUrl = v.replace(/\/+$/, '')), i++;
    else if (argv[i] === '--model' && v) (a.model = v), i++;
    else if (argv[i] === '--out' && v) (a.out = v), i++;
    else if (argv[i] === '--only' && v) {
      a.only = new Set(v.split(','));
      for (const p of a.only) if (!ALL.includes(p)) throw new Error(`--only: expected some of ${ALL.join(',')}, got ${p}`);
      i++;
    } else throw new Error(`unknown argument ${argv[i]}; see the header of scripts/real-llm-probe.ts`);
  }
  return a;
}

/** The inputs the test tier's math config produces for the first action and the QA call. */
function actionInput(model: string, mode: 'native' | 'json'): ChooseActionInput {
  return {
    model,
    tool_calling: mode,
    temperature: 0.7,
    sampling_seed: 1234567,
    seed_text: 'compound interest',
    seed_description: 'math topic',
    sampling_tips: 'Work through a concrete problem on the topic step by step.',
    qa_examples: [{ question: 'A tank holds 1,200 litres and drains at 15 litres per minute. How many minutes until it is empty?', answer: '80' }],
    tools: ['calculator'],
    history: [],
    current_observation: 'Starting point (math topic): compound interest',
    attempt: 0,
  };
}

function qaInput(model: string): SynthesizeQaInput {
  return {
    model,
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
}

/** The web_visit summary request (src/tools/web-visit.ts summarize(): temperature 0.3, max_tokens 1000, system + user). */
function summaryBody(model: string): Record<string, unknown> {
  return {
    model,
    temperature: 0.3,
    max_tokens: 1000,
    messages: [
      { role: 'system', content: 'You extract information from a web page for a research agent. Report only what the page itself says that is relevant to the goal, keeping exact facts, names, dates, numbers and quotes. Do not add outside knowledge. If the page has nothing relevant, say so in one sentence and state briefly what the page is about. Answer in plain text, at most about 300 words.' },
      { role: 'user', content: 'Goal: find when the Eiffel Tower was completed\n\nURL: http://127.0.0.1/eiffel\nTitle: Eiffel Tower\n\nPage content:\nThe Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel\'s company and completed in March 1889 for the World\'s Fair. It is 330 metres tall.' },
    ],
  };
}

interface Sent {
  status: number;
  ms: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
  startedAt: number;
  finishedAt: number;
}

async function send(base: string, body: unknown, signal?: AbortSignal): Promise<Sent> {
  const startedAt = Date.now();
  const r = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer unused' },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  const finishedAt = Date.now();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, ms: finishedAt - startedAt, headers: Object.fromEntries(r.headers), text, json, startedAt, finishedAt };
}

/** A one-line description of a chat completion's shape (or of an error body). */
function shape(json: unknown, text: string): string {
  const j = json as {
    choices?: { finish_reason?: string; message?: { content?: unknown; tool_calls?: { function?: { name?: string; arguments?: unknown } }[] } }[];
    usage?: unknown;
    error?: unknown;
    detail?: unknown;
  } | null;
  if (!j || !Array.isArray(j.choices)) return `non-completion body: ${text.slice(0, 400)}`;
  const c = j.choices[0];
  const m = c?.message;
  const calls = m?.tool_calls ?? [];
  const callText = calls
    .map((tc) => `${tc.function?.name}(arguments: ${typeof tc.function?.arguments} ${JSON.stringify(tc.function?.arguments)?.slice(0, 160)})`)
    .join('; ');
  return [
    `finish_reason=${JSON.stringify(c?.finish_reason)}`,
    `usage=${JSON.stringify(j.usage ?? null)}`,
    `tool_calls=${calls.length ? callText : 'none'}`,
    `content=${JSON.stringify(m?.content)?.slice(0, 300)}`,
  ].join('\n    ');
}

function report(label: string, s: { status: number | null; ms: number; text: string; json?: unknown; headers?: Record<string, unknown> }): void {
  process.stdout.write(`\n## ${label}\n  status ${s.status}, ${s.ms} ms\n`);
  if (s.headers) process.stdout.write(`  headers ${JSON.stringify(s.headers)}\n`);
  let json = s.json;
  if (json === undefined) {
    try {
      json = JSON.parse(s.text);
    } catch {
      json = null;
    }
  }
  process.stdout.write(`    ${shape(json, s.text)}\n`);
}

function fromExchange(ex: ProxiedExchange) {
  return {
    status: ex.status,
    ms: (ex.finishedAt ?? Date.now()) - ex.startedAt,
    text: ex.responseText,
    headers: ex.responseHeaders as Record<string, unknown>,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let server: RealLlmServer | null = null;
  let base = args.baseUrl;
  if (!base) {
    server = await startRealLlmServer();
    base = server.baseUrl;
    process.stdout.write(`started llama-cpp-python at ${base}\n`);
  }
  const proxy = await startRecordingProxy(new URL(base).origin);
  const client = new OpenAI({ baseURL: `${proxy.url}${new URL(base).pathname}`, apiKey: 'unused', maxRetries: 0, timeout: 600_000 });
  const acts = createLlmActivities({ client: () => client });
  // The activities' own warnings (a failed attempt, with its stack) would bury the findings; errors only.
  const logger = new DefaultLogger('ERROR');
  const run = <R>(fn: () => Promise<R>) => new MockActivityEnvironment(undefined, { logger }).run(fn).then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e: e as Error & { type?: string; nonRetryable?: boolean } }),
  );
  const extra: Record<string, unknown> = {};
  try {
    let nativeBody: Record<string, unknown> | null = null;
    if (args.only.has('native')) {
      const r = await run(() => acts.chooseAction(actionInput(args.model, 'native')));
      const ex = proxy.exchanges.at(-1)!;
      nativeBody = ex.body as Record<string, unknown>;
      report('native action choice (qasynth: tools + tool_choice "required")', fromExchange(ex));
      process.stdout.write(`  qasynth's activity: ${r.ok ? JSON.stringify(r.r) : `threw ${r.e.type ?? r.e.name}${r.e.nonRetryable ? ' (non-retryable)' : ' (retryable)'}: ${r.e.message}`}\n`);
      for (const [label, tool_choice] of [
        ['tool_choice "auto"', 'auto'],
        ['tool_choice {type: function, function: {name: calculator}}', { type: 'function', function: { name: 'calculator' } }],
        ['tool_choice "none"', 'none'],
      ] as const) {
        const s = await send(base, { ...nativeBody, tool_choice });
        report(`native, ${label}`, s);
        extra[`native_${typeof tool_choice === 'string' ? tool_choice : 'named'}`] = s;
      }
      const noChoice = { ...nativeBody };
      delete noChoice.tool_choice;
      const s = await send(base, noChoice);
      report('native, tool_choice absent', s);
      extra.native_absent = s;
    }
    if (args.only.has('json')) {
      const r = await run(() => acts.chooseAction(actionInput(args.model, 'json')));
      report('json-mode action choice (response_format json_object)', fromExchange(proxy.exchanges.at(-1)!));
      process.stdout.write(`  qasynth's activity: ${r.ok ? JSON.stringify(r.r).slice(0, 400) : `threw ${r.e.message}`}\n`);
    }
    if (args.only.has('qa')) {
      const r = await run(() => acts.synthesizeQa(qaInput(args.model)));
      const ex = proxy.exchanges.at(-1)!;
      report('QA synthesis (response_format json_schema, strict)', fromExchange(ex));
      process.stdout.write(`  qasynth's activity: ${r.ok ? JSON.stringify(r.r).slice(0, 400) : `threw ${r.e.message}`}\n`);
      // The same request with the schema moved to where llama-cpp-python reads it (json_object + schema).
      const body = ex.body as { response_format: { json_schema: { schema: unknown } } };
      const s = await send(base, { ...body, response_format: { type: 'json_object', schema: body.response_format.json_schema.schema } });
      report('QA synthesis, response_format {type: json_object, schema} (llama-cpp-python dialect)', s);
      extra.qa_json_object_schema = s;
    }
    if (args.only.has('seed')) {
      // Same body, same seed, twice, at temperature 0.7: identical answers mean the seed is honoured.
      const body = { ...summaryBody(args.model), temperature: 0.9, seed: 42, max_tokens: 48 };
      const a = await send(base, body);
      const b = await send(base, body);
      const c = await send(base, { ...body, seed: 43 });
      const content = (s: Sent) => (s.json as { choices?: { message?: { content?: string } }[] })?.choices?.[0]?.message?.content;
      process.stdout.write(`\n## seed (plain text, temperature 0.9, max_tokens 48)\n  seed 42 twice: ${content(a) === content(b) ? 'identical' : 'different'}; seed 43: ${content(a) === content(c) ? 'identical to 42' : 'different from 42'}\n    42: ${JSON.stringify(content(a))}\n    42: ${JSON.stringify(content(b))}\n    43: ${JSON.stringify(content(c))}\n`);
      // The same with tools (the chatml-function-calling handler's tool path) using the named choice.
      if (nativeBody) {
        const tb = { ...nativeBody, tool_choice: { type: 'function', function: { name: 'calculator' } }, temperature: 0.9, seed: 42 };
        const ta = await send(base, tb);
        const tb2 = await send(base, tb);
        const args0 = (s: Sent) => JSON.stringify((s.json as { choices?: { message?: { tool_calls?: unknown } }[] })?.choices?.[0]?.message?.tool_calls);
        process.stdout.write(`  named tool call, seed 42 twice: ${args0(ta) === args0(tb2) ? 'identical' : 'different'}\n`);
      }
      extra.seed = { a, b, c };
    }
    if (args.only.has('text')) {
      const s = await send(base, summaryBody(args.model));
      report('plain text (web_visit summary: temperature 0.3, max_tokens 1000)', s);
      extra.text = s;
    }
    if (args.only.has('concurrency')) {
      const body = { ...summaryBody(args.model), max_tokens: 64, temperature: 0 };
      const solo = await send(base, body);
      process.stdout.write(`\n## concurrency (plain text, max_tokens 64)\n  alone: ${solo.ms} ms\n`);
      for (const n of [2, 4]) {
        const t0 = Date.now();
        const all = await Promise.all(Array.from({ length: n }, () => send(base, body)));
        const lines = all
          .map((s) => ({ start: s.startedAt - t0, end: s.finishedAt - t0, status: s.status }))
          .sort((x, y) => x.end - y.end)
          .map((x) => `[${x.start}→${x.end} ms, ${x.status}]`);
        process.stdout.write(`  ${n} at once: ${lines.join(' ')}; wall ${Date.now() - t0} ms\n`);
        extra[`concurrency_${n}`] = all;
      }
    }
    if (args.only.has('disconnect')) {
      // A long answer aborted after 1.5 s, then a tiny request: if the server goes on generating for the gone
      // client, the tiny request waits for it. The long answer cannot stop early: SmolLM2's end tokens
      // (0 <|endoftext|>, 2 <|im_end|>) are banned with logit_bias, so it runs for all of its max_tokens.
      const tiny = { ...summaryBody(args.model), max_tokens: 1, temperature: 0 };
      const tinyAlone = await send(base, tiny);
      const long = {
        model: args.model,
        temperature: 0,
        max_tokens: 1500,
        logit_bias: { '0': -100, '2': -100 },
        messages: [{ role: 'user', content: 'Write a very long story about a dragon.' }],
      };
      const longAlone = await send(base, long);
      const ac = new AbortController();
      const t0 = Date.now();
      const aborted = send(base, long, ac.signal).catch((e: Error) => e.name);
      await new Promise((r) => setTimeout(r, 1500));
      ac.abort();
      await aborted;
      const after = await send(base, tiny);
      process.stdout.write(
        `\n## client disconnect mid-request\n  long request alone: ${longAlone.ms} ms (${shape(longAlone.json, longAlone.text).split('\n')[0]}); tiny request alone: ${tinyAlone.ms} ms\n` +
          `  long request aborted at 1500 ms; a tiny request sent right after finished ${after.finishedAt - t0} ms after the long one started (status ${after.status})\n`,
      );
      extra.disconnect = { tinyAlone, longAlone, after, t0 };
    }
  } finally {
    if (args.out) fs.writeFileSync(args.out, JSON.stringify({ base, exchanges: proxy.exchanges, extra }, null, 2));
    await proxy.close();
    if (server) {
      if (args.out) fs.writeFileSync(`${args.out}.server.log`, server.output());
      await server.stop();
    }
  }
}

main().catch((e) => {
  process.stderr.write(`error: ${(e as Error).stack}\n`);
  process.exit(1);
});
