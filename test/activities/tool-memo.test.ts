/**
 * The tool activity's attempt memo (src/activities/tools.ts) over real HTTP: web_visit reads two pages of a local
 * site and summarises them with the simulator; the second summary gets a 429. The attempt fails after one last
 * heartbeat carrying the summary it paid for, and the next attempt — given those heartbeat details, as Temporal
 * gives them — pays only for the page that failed, charges both summaries once, and reports the request that got
 * the 429 with its requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { runActivityIn } from '../helpers/activity';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { createToolActivities } from '../../src/activities/tools';
import type { RunToolInput } from '../../src/shared/types';

let sim: Simulator;
let site: http.Server;
let base: string;
before(async () => {
  sim = await startSimulator();
  site = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(req.url === '/one.txt' ? 'Ada Lovelace published her notes on the Analytical Engine in 1843.' : 'Charles Babbage designed the Difference Engine in 1822.');
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});
after(async () => {
  await sim.close();
  await new Promise<void>((r) => site.close(() => r()));
});

test('web_visit retried after a summary 429: the paid summary travels in the heartbeat details and is not paid again', async () => {
  const tools = createToolActivities({ llmClient: () => new OpenAI({ baseURL: sim.url, apiKey: 'sk-memo-test', maxRetries: 0 }) });
  const input: RunToolInput = {
    mode: 'web',
    environment_kwargs: { allow_private_hosts: [new URL(base).host] },
    tool_name: 'web_visit',
    parameters: { urls: [`${base}/one.txt`, `${base}/two.txt`], goal: 'When were the engines described?' },
    summary_model: 'sim-summary',
  };
  sim.script([{ match: { contains: 'Difference Engine' }, times: 1, respond: { status: 429, headers: { 'retry-after': '1' } } }]);

  const first = new MockActivityEnvironment();
  const beats: unknown[] = [];
  first.on('heartbeat', (d: unknown) => beats.push(d));
  await assert.rejects(runActivityIn(first, tools.runTool, input), (e: unknown) => e instanceof ApplicationFailure && e.type === 'RateLimited');
  assert.equal(sim.requests().length, 2);
  const last = beats.at(-1) as { memo?: Record<string, unknown> } | undefined;
  const memo = last?.memo ?? {};
  assert.equal(Object.keys(memo).filter((k) => k.startsWith('web_visit/summary')).length, 1, 'the failed attempt\'s last heartbeat carries the summary it paid for');
  assert.equal(memo['web_visit/unanswered_requests'], 1, 'and the request that got the 429');

  const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last } as never);
  const obs = await runActivityIn(retry, tools.runTool, input);
  assert.equal(sim.requests().length, 3, 'the retry summarised only the page whose summary failed');
  assert.equal(obs.error, undefined);
  assert.match(obs.text, /1843/);
  assert.equal(obs.llm_usage?.calls, 2);
  assert.equal(obs.llm_usage?.requests, 3, 'every request the endpoint saw, the 429 included, is reported once');
  assert.equal(obs.llm_usage?.requests, sim.requests().length);
});
