/**
 * Every tool activity result (and every failure a tool throws) stays far below Temporal's 2 MB payload limit,
 * whatever the servers, corpora and programs behind the tools produce: pathological inputs, real HTTP on 127.0.0.1.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { FailureType, MAX_OBSERVATION_CHARS, MAX_TOOL_RESULT_BYTES } from '../../src/shared/constants';
import type { Observation } from '../../src/shared/types';
import {
  boundFailure,
  boundSources,
  capObservation,
  executeTool,
  fitObservation,
  MAX_FAILURE_MESSAGE_CHARS,
  MAX_SOURCE_CHARS,
  MAX_SOURCES,
} from '../../src/tools/registry';
import type { ToolContext } from '../../src/tools/tool';
import { installConnectGuard, type ConnectGuard } from '../helpers/connect-guard';
import { SERPER_KEY, startFakeSearch, type FakeSearch } from '../helpers/fake-search';
import { startTestSite, type TestSite } from '../helpers/test-site';

const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;
const FIVE_MB = 5 * 1024 * 1024;

/** Bytes of the payload Temporal stores for an activity result (the default JSON payload converter). */
function resultBytes(obs: Observation): number {
  return defaultPayloadConverter.toPayload(obs)!.data!.length;
}

/** Bytes of the failure Temporal stores for a thrown error: its Failure message, with payload data as base64. */
function failureBytes(err: unknown): number {
  const failure = new DefaultFailureConverter().errorToFailure(err, defaultPayloadConverter);
  return Buffer.byteLength(JSON.stringify(failure, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
}

function assertSmallResult(obs: Observation): void {
  const bytes = resultBytes(obs);
  assert.ok(bytes <= MAX_TOOL_RESULT_BYTES, `result is ${bytes} bytes, over ${MAX_TOOL_RESULT_BYTES}`);
  assert.ok(obs.text.length <= MAX_OBSERVATION_CHARS);
  assert.ok((obs.sources?.length ?? 0) <= MAX_SOURCES);
  for (const s of obs.sources ?? []) assert.ok(s.length <= MAX_SOURCE_CHARS);
}

function assertSmallFailure(err: unknown): true {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.ok(err.message.length <= MAX_FAILURE_MESSAGE_CHARS, `message ${err.message.length} chars`);
  const bytes = failureBytes(err);
  assert.ok(bytes <= MAX_TOOL_RESULT_BYTES, `failure is ${bytes} bytes, over ${MAX_TOOL_RESULT_BYTES}`);
  return true;
}

describe('tool result bounds (pure)', () => {
  it('MAX_TOOL_RESULT_BYTES is far below the 2 MB payload limit', () => {
    assert.ok(MAX_TOOL_RESULT_BYTES * 20 <= TEMPORAL_PAYLOAD_LIMIT);
  });

  it('10,000 long sources and worst-case text (6 JSON bytes per character) fit', () => {
    const sources = Array.from({ length: 10_000 }, (_, i) => `https://example.test/${i}/${'\u0001'.repeat(5000)}`);
    const obs: Observation = { ...capObservation('\u0000'.repeat(FIVE_MB)), error: true, sources: boundSources(sources) };
    assert.equal(obs.sources!.length, MAX_SOURCES);
    assert.ok(resultBytes(obs) > MAX_TOOL_RESULT_BYTES, 'the case is pathological before fitting');
    fitObservation(obs);
    assertSmallResult(obs);
    assert.ok(obs.sources!.length >= 1, 'sources are dropped from the end, not all at once');
    const first = obs.sources![0]!;
    assert.ok(first.startsWith('https://example.test/0/\u0001') && first.endsWith('\u0001…') && first.length === MAX_SOURCE_CHARS, 'cut to MAX_SOURCE_CHARS, ending with …');
  });

  it('boundSources de-duplicates and drops non-strings and blanks', () => {
    assert.deepEqual(boundSources(['a', 'a', '', '  ', 42 as unknown as string, ' b ']), ['a', 'b']);
  });

  it('a failure with a 5 MB message, a 5 MB cause and 5 MB of details is bounded, type and retry options kept', () => {
    const cause = new Error(`cause ${'y'.repeat(FIVE_MB)}`);
    const f = ApplicationFailure.create({
      message: `server said ${'x'.repeat(FIVE_MB)}`,
      type: FailureType.RateLimited,
      nonRetryable: false,
      nextRetryDelay: 1500,
      details: [{ body: 'z'.repeat(FIVE_MB) }],
      cause,
    });
    assert.ok(failureBytes(f) > TEMPORAL_PAYLOAD_LIMIT, 'the case is pathological before bounding');
    boundFailure(f);
    assertSmallFailure(f);
    assert.equal(f.type, FailureType.RateLimited);
    assert.equal(f.nonRetryable, false);
    assert.equal(f.nextRetryDelay, 1500);
    assert.match(f.message, /^server said x+…$/);
    assert.match(f.stack ?? '', /^ApplicationFailure: server said x+…\n\s+at /);
    assert.ok((f.cause as Error).message.length <= MAX_FAILURE_MESSAGE_CHARS);
  });
});

describe('tool result bounds (real tools, pathological servers)', () => {
  let fake: FakeSearch;
  let site: TestSite;
  let sim: Simulator;
  let guard: ConnectGuard;
  let dir: string;
  const savedKey = process.env.SERPER_API_KEY;

  before(async () => {
    fake = await startFakeSearch();
    site = await startTestSite();
    sim = await startSimulator();
    guard = installConnectGuard();
    dir = await mkdtemp(join(tmpdir(), 'qasynth-payloads-'));
  });
  after(async () => {
    guard.uninstall();
    await Promise.all([fake.close(), site.close(), sim.close(), rm(dir, { recursive: true, force: true })]);
    if (savedKey === undefined) delete process.env.SERPER_API_KEY;
    else process.env.SERPER_API_KEY = savedKey;
  });
  beforeEach(() => {
    process.env.SERPER_API_KEY = SERPER_KEY;
    fake.script([]);
    sim.clearScript();
    guard.reset();
  });
  afterEach(() => assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1'));

  const searchCtx = (provider = 'serper'): ToolContext => ({
    environment_kwargs: { search_provider: provider, serper_url: `${fake.url}/serper`, searxng_url: `${fake.url}/searxng`, allow_private_hosts: [fake.hostPort], web_search_top_k: 10 },
  });

  it('web_search: 50 results with 20 KB URLs and 50 KB titles/snippets', async () => {
    const organic = Array.from({ length: 10 }, (_, i) => ({
      title: `T${i} ${'t'.repeat(50_000)}`,
      link: `https://example.test/${i}/${'u'.repeat(20_000)}`,
      snippet: `S${i} ${'s'.repeat(50_000)}`,
    }));
    fake.script([{ prefix: '/serper', status: 200, body: JSON.stringify({ organic }) }]);
    const obs = await executeTool('web_search', { queries: ['a', 'b', 'c', 'd', 'e'] }, searchCtx());
    assert.equal(obs.error, undefined, obs.text.slice(0, 300));
    assert.ok(obs.sources && obs.sources.length > 0);
    assertSmallResult(obs);
  });

  it('web_search: a 5 MB error body (500, 400 HTML, 400 JSON) never reaches history whole', async () => {
    fake.script([{ prefix: '/serper', status: 500, body: 'e'.repeat(FIVE_MB) }]);
    await assert.rejects(executeTool('web_search', { queries: ['q'] }, searchCtx()), (e: unknown) => assertSmallFailure(e) && (e as ApplicationFailure).type === FailureType.ToolBackendUnavailable);
    fake.script([{ prefix: '/searxng', status: 400, body: `<html><title>${'x'.repeat(FIVE_MB)}</title></html>`, headers: { 'content-type': 'text/html' } }]);
    await assert.rejects(executeTool('web_search', { queries: ['q'] }, searchCtx('searxng')), (e: unknown) => assertSmallFailure(e) && (e as ApplicationFailure).type === FailureType.ToolMisconfigured);
    fake.script([{ prefix: '/serper', status: 400, body: JSON.stringify({ message: 'm'.repeat(FIVE_MB) }) }]);
    const obs = await executeTool('web_search', { queries: ['q1', 'q2'] }, searchCtx());
    assert.equal(obs.error, true);
    assertSmallResult(obs);
  });

  it('web_visit: an LLM summary error with a 5 MB body is thrown bounded, still classified', async () => {
    sim.script([{ respond: { status: 400, body: { error: { message: `bad request ${'b'.repeat(FIVE_MB)}`, type: 'invalid_request_error' } } } }]);
    const ctx: ToolContext = {
      environment_kwargs: { allow_private_hosts: [site.hostPort] },
      llm: { client: () => new OpenAI({ baseURL: sim.url, apiKey: 'sim-key', maxRetries: 0 }), model: 'sim-summary' },
    };
    await assert.rejects(executeTool('web_visit', { urls: [`${site.url}/article`], goal: 'g' }, ctx), (e: unknown) =>
      assertSmallFailure(e) && (e as ApplicationFailure).nonRetryable === true,
    );
  });

  it('web_visit: five 5 MB pages of NULs and a huge page', async () => {
    const urls = [`${site.url}/nul-huge`, `${site.url}/huge`, `${site.url}/nul-huge?2`, `${site.url}/nul-huge?3`, `${site.url}/nul-huge?4`];
    const obs = await executeTool('web_visit', { urls, goal: 'g' }, { environment_kwargs: { allow_private_hosts: [site.hostPort] } });
    assert.equal(obs.error, undefined);
    assertSmallResult(obs);
  });

  it('local_search: documents whose source names are 100 KB long', async () => {
    const file = join(dir, 'long-titles.jsonl');
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ title: `${i} ${'n'.repeat(100_000)}`, text: `Babbage engine passage ${i}. ${'word '.repeat(200)}` }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const obs = await executeTool('local_search', { query: 'Babbage engine', top_k: 10 }, { environment_kwargs: { corpus_path: file } });
    assert.equal(obs.error, undefined, obs.text.slice(0, 300));
    assert.ok(obs.sources && obs.sources.length >= 2);
    assertSmallResult(obs);
  });

  it('python_interpreter: 5 MB of output', async () => {
    const obs = await executeTool('python_interpreter', { code: `print("\\x00" * ${FIVE_MB})\nprint("\\u00e9" * ${FIVE_MB})` }, { environment_kwargs: {} });
    assertSmallResult(obs);
  });
});
