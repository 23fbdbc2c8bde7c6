/**
 * The endpoint zoo: a small batch against every simulator profile (each imitating a real server: vLLM, Ollama,
 * llama.cpp, LiteLLM, OpenRouter, LM Studio, reasoning models …), on a real Temporal server with a real worker.
 * Each profile must end with QA, or with a clear non-retryable failure that names the fix — never a silent
 * zero, and never an unbounded retry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { PROFILE_NAMES, type ProfileName } from '../../src/llm/simulator/profiles';
import { submitBatch } from '../../src/api';
import type { BatchResult, QaRecord } from '../../src/shared/types';
import { readJsonl, startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

const SEEDS = ['prime numbers', 'Fibonacci sequence'];
/** D=2, b=2, t=1 → 4 nodes (4 action calls), 1 QA per seed: 5 calls per seed when every answer is usable. */
const TREE = { max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, max_retries: 3 };
const CALLS_PER_SEED = 5;

let t: TestTemporal;
let sim: Simulator;
let queue: string;
let worker: { stop(): Promise<void> };
const outDir = tempDir();
before(async () => {
  t = await testTemporal();
  sim = await startSimulator();
  queue = uniqueQueue('zoo');
  worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
});
after(async () => {
  await worker.stop();
  await sim.close();
  await t.close();
});

interface Outcome {
  result: BatchResult;
  stats: {
    seeds: { failed: number; no_qa: number };
    failed_seeds: { error: string; error_type: string }[];
    llm: { calls: number; requests: number; usage_estimated_calls: number; input_tokens: number; output_tokens: number };
  };
  qas: QaRecord[];
  requests: number;
}

/** One batch against `profile`. A model name per run keeps what the worker learns about one endpoint away from the others. */
async function runProfile(profile: ProfileName, extra: Record<string, unknown> = {}, runTag = ''): Promise<Outcome> {
  sim.profile(profile);
  sim.resetLog();
  const runId = `zoo-${profile}${runTag}`;
  // Without dedup: this test counts QA per seed, and the simulator's template questions can be near-duplicates.
  const config = { environment_mode: 'math', model_name: `model-${runId}`, max_workers: 2, pause_after_failures: 0, dedup: { enabled: false }, ...TREE, ...extra };
  const result = await (await submitBatch(t.client, { run_id: runId, config, seeds: SEEDS, output_dir: outDir }, { taskQueue: queue })).handle.result();
  return {
    result,
    stats: JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')),
    qas: readJsonl<QaRecord>(result.qa_path),
    requests: sim.requests().length,
  };
}

function assertQa(o: Outcome, profile: string): void {
  assert.equal(o.result.seeds_failed, 0, `${profile}: ${JSON.stringify(o.stats.failed_seeds)}`);
  assert.equal(o.result.seeds_no_qa ?? 0, 0, `${profile}: ${JSON.stringify(o.stats.failed_seeds)}`);
  assert.equal(o.result.seeds_succeeded, SEEDS.length, profile);
  assert.ok(o.qas.length >= SEEDS.length, `${profile}: ${o.qas.length} QA`);
  for (const q of o.qas) assert.ok(q.question.trim() && q.answer.trim() && q.question !== 'draft', `${profile}: ${JSON.stringify(q)}`);
  assert.equal(o.stats.llm.requests, o.requests, `${profile}: every request the endpoint saw is counted`);
  assert.ok(o.stats.llm.requests >= o.stats.llm.calls, profile);
}

function assertRefused(o: Outcome, profile: string, type: string, fix: RegExp, maxRequestsPerSeed: number): void {
  assert.equal(o.result.seeds_succeeded, 0, profile);
  assert.equal(o.result.seeds_failed + (o.result.seeds_no_qa ?? 0), SEEDS.length, profile);
  for (const f of o.stats.failed_seeds) {
    assert.equal(f.error_type, type, `${profile}: ${f.error}`);
    assert.match(f.error, fix, profile);
  }
  assert.ok(o.requests <= maxRequestsPerSeed * SEEDS.length, `${profile}: ${o.requests} requests for ${SEEDS.length} seeds`);
  assert.equal(o.stats.llm.requests, o.requests, profile);
}

/** Profiles whose answers must all be read: QA for every seed, with at most this many requests per seed beyond the 5 calls. */
const READ: Partial<Record<ProfileName, number>> = {
  openai: 0,
  'args-object': 0,
  'tool-choice-auto-only': 1, // the first call learns "auto" (one refused request), the rest go straight
  'content-json-tool-call': 0,
  'hermes-tags': 0,
  'mistral-tags': 0,
  'llama3-python-tag': 0,
  'functionary-tags': 0,
  'reasoning-content': 0,
  'reasoning-field': 0,
  'think-tags': 0,
  'fenced-trailing-commas': 0,
  'content-parts': 0,
  'error-in-200': CALLS_PER_SEED, // every request fails once (transient upstream error), then works
  'empty-choices': CALLS_PER_SEED,
  'no-json-schema': 1,
  'sse-always': 0,
  'truncated-length': CALLS_PER_SEED, // each first attempt is cut off and re-sampled at the next temperature
  'single-slot': 0,
  'tool-calls-finish-stop': 0,
  'tool-name-leak': 0,
  'required-empty': 1,
  'nested-args-strings': 0,
  'no-usage': 0,
};

describe('endpoint zoo: every profile ends with QA or a clear refusal', () => {
  for (const [profile, extraPerSeed] of Object.entries(READ) as [ProfileName, number][]) {
    test(`${profile}: QA for every seed`, async () => {
      const o = await runProfile(profile);
      assertQa(o, profile);
      // With 2 seeds at once, a learnt fallback may be paid by both before either remembers it.
      assert.ok(o.requests <= SEEDS.length * (CALLS_PER_SEED + extraPerSeed) + (extraPerSeed === 1 ? 1 : 0), `${profile}: ${o.requests} requests`);
      if (profile === 'no-usage') {
        assert.equal(o.stats.llm.usage_estimated_calls, o.stats.llm.calls, 'every token count is an estimate, and says so');
        assert.ok(o.stats.llm.input_tokens > 0 && o.stats.llm.output_tokens > 0);
      } else {
        assert.equal(o.stats.llm.usage_estimated_calls, 0, profile);
      }
    });
  }

  test('html-200: stops at the first request of each seed, naming OPENAI_BASE_URL and /v1', async () => {
    assertRefused(await runProfile('html-200'), 'html-200', 'LlmEndpointMisconfigured', /HTML page.*OPENAI_BASE_URL.*\/v1/, 1);
  });

  test('no-tools-support: refused at once, naming tool_calling "json"; with that fix the same endpoint gives QA', async () => {
    assertRefused(await runProfile('no-tools-support'), 'no-tools-support', 'LlmEndpointMisconfigured', /does not support native tool calling.*"tool_calling": "json"/, 1);
    assertQa(await runProfile('no-tools-support', { tool_calling: 'json' }, '-json'), 'no-tools-support + json');
  });

  test('model-not-found: refused at once, naming model_name', async () => {
    assertRefused(await runProfile('model-not-found'), 'model-not-found', 'LlmRequestRejected', /HTTP 404.*model_name/, 1);
  });

  test('deterministic-500: the same answer 3 times is permanent, not an outage', async () => {
    assertRefused(await runProfile('deterministic-500'), 'deterministic-500', 'LlmEndpointMisconfigured', /same failure to the same request 3 times/, 3);
  });

  test('context-overflow: the branches that do not fit are given up (no re-sampling), the seed reports why and the fix', async () => {
    // A tiny window: even the first prompt does not fit.
    const o = await runProfile('context-overflow', { qa_examples: [{ question: 'x'.repeat(3000), answer: 'y'.repeat(3000) }] });
    assertRefused(o, 'context-overflow', 'no_qa:context_overflow', /context_overflow.*--ctx-size/, 2);
  });

  test('oversize: 3 MB answers are malformed output, re-sampled a bounded number of times, never stored', async () => {
    const o = await runProfile('oversize');
    assertRefused(o, 'oversize', 'no_qa:output_too_large', /output_too_large/, 2 * TREE.max_retries);
  });

  test('every profile of the simulator is covered here', () => {
    const covered = new Set([...Object.keys(READ), 'html-200', 'no-tools-support', 'model-not-found', 'deterministic-500', 'context-overflow', 'oversize']);
    assert.deepEqual(PROFILE_NAMES.filter((p) => !covered.has(p)), []);
  });
});

test('a token budget holds within 10% on an endpoint that reports no usage (estimated counts)', async () => {
  const cap = 20_000;
  sim.profile('no-usage');
  sim.resetLog();
  const config = { environment_mode: 'math', model_name: 'model-budget', max_workers: 1, pause_after_failures: 0, ...TREE, max_depth: 3, budget: { max_tokens: cap } };
  const seeds = Array.from({ length: 12 }, (_, i) => `number theory topic ${i}`);
  const result = await (await submitBatch(t.client, { run_id: 'zoo-budget', config, seeds, output_dir: outDir }, { taskQueue: queue })).handle.result();
  const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
  const used = stats.llm.input_tokens + stats.llm.output_tokens;
  assert.equal(result.status, 'budget_exhausted');
  assert.equal(stats.llm.usage_estimated_calls, stats.llm.calls);
  assert.ok(used <= cap * 1.1, `used ${used} tokens against a cap of ${cap}`);
  assert.ok(used >= cap * 0.5, `the budget was used (${used}), not refused up front`);
  sim.profile('openai');
});
