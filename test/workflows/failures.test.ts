/**
 * What happens when things go wrong for real: a failure that hits every seed pauses the run (circuit breaker),
 * failed seeds are re-run after the fix without paying again for the finished ones, and a request that gets the
 * same HTTP 500 every time is declared permanent instead of being retried as an outage; a seed that fails on a
 * call it was partly billed for is charged for what it got.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { queryProgress, resumeBatch, submitBatch } from '../../src/api';
import { batchWorkflowId, SEARCH_ATTRIBUTES } from '../../src/shared/constants';
import type { BatchInput, QaRecord, TrajectoryRecord } from '../../src/shared/types';
import { readJsonl, smallConfig, testTemporal, waitFor, type TestTemporal, simHarness } from '../helpers/temporal';
import { startFakeSearch } from '../helpers/fake-search';
import { startTestSite, type TestSite } from '../helpers/test-site';
import type { FaultRule } from '../../src/llm/simulator';
import { VERIFY_MARKERS } from '../../src/domain/verification';

const SEEDS = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series', 'golden ratio'];

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const harness = () => simHarness(t, 'fail');

describe('failures that hit every seed', () => {
  test('circuit breaker: 3 seeds in a row refused (HTTP 401) pause the run with the reason; resume after the fix finishes it; --retry-failed re-runs only the failed seeds', async () => {
    const h = await harness();
    try {
      h.sim.script([{ match: { kind: 'any' }, respond: { status: 401, body: { error: { message: 'Incorrect API key provided: sk-te***', code: 'invalid_api_key' } } } }]);
      const input: BatchInput = {
        run_id: 'breaker',
        config: smallConfig({ max_workers: 1, pause_after_failures: 3, max_depth: 2 }),
        seeds: SEEDS,
        output_dir: h.outDir,
      };
      const sub = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(async () => !!(await queryProgress(sub.handle)).pause_reason, 60_000, 'the breaker to pause the run');
      const p = await queryProgress(sub.handle);
      assert.equal(p.paused, true);
      assert.equal(p.counters.seeds_failed, 3);
      assert.match(p.pause_reason!, /3 seeds in a row ended with the same error \(LlmAuth\)/);
      assert.match(p.pause_reason!, /OPENAI_API_KEY/);
      assert.match(p.pause_reason!, /qasynth resume breaker/);
      // Paused: nothing more is spent. One request per seed (401 is not retried), no seed started after the third.
      assert.equal(h.sim.requests().length, 3);
      const desc = await sub.handle.describe();
      assert.equal(desc.searchAttributes[SEARCH_ATTRIBUTES.status]?.[0], 'paused');

      // The fix, then resume: the remaining seeds run and succeed.
      h.sim.clearScript();
      await resumeBatch(sub.handle);
      const result = await sub.handle.result();
      assert.equal(result.seeds_failed, 3);
      assert.equal(result.seeds_succeeded, 3);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.deepEqual(stats.errors_by_type, { LlmAuth: 3 });
      assert.ok(stats.failed_seeds.every((s: { error: string }) => /HTTP 401.*Fix: check OPENAI_API_KEY/.test(s.error)), JSON.stringify(stats.failed_seeds));

      // Re-run just the failed seeds: the finished ones are never paid again.
      const before = h.sim.requests().length;
      const again = await submitBatch(t.client, input, { taskQueue: h.queue, retryFailed: true });
      assert.equal(again.state, 'retrying');
      const retried = await again.handle.result();
      assert.equal(retried.seeds_failed, 0);
      assert.equal(retried.seeds_succeeded, 6);
      assert.equal(retried.qa_path, result.qa_path, 'the same output files are rewritten');
      const newRequests = h.sim.requests().slice(before);
      // Only the 3 failed seeds' calls: D=2, b=2, t=2 → 6 nodes + 2 QA = 8 calls each, none for the others.
      assert.equal(newRequests.length, 3 * 8, `requests after the retry: ${newRequests.length}`);
      const qas = readJsonl<QaRecord>(retried.qa_path);
      assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'every QA once');
      assert.equal(new Set(qas.map((q) => q.source_id)).size, 6);
      assert.equal(readJsonl<TrajectoryRecord>(retried.trajectories_path).length, retried.trajectory_count);
      const stats2 = JSON.parse(fs.readFileSync(retried.statistics_path, 'utf8'));
      assert.equal(stats2.seeds.failed, 0);
      // Statistics count the failed first attempts too: 3 × 1 refused request on top of the calls that worked.
      assert.equal(stats2.llm.requests, h.sim.requests().length);
      assert.equal(stats2.per_seed.filter((s: { attempts: number }) => s.attempts === 2).length, 3);
    } finally {
      await h.stop();
    }
  });

  test('a cancelled run continues when submitted again; finished seeds are not paid again', async () => {
    const h = await harness();
    try {
      const input: BatchInput = { run_id: 'cancel-continue', config: smallConfig({ max_workers: 1, max_depth: 2 }), seeds: SEEDS.slice(0, 4), output_dir: h.outDir };
      const sub = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(async () => (await queryProgress(sub.handle)).counters.seeds_done >= 1, 60_000, 'one finished seed');
      await sub.handle.cancel();
      const cancelled = await sub.handle.result();
      assert.equal(cancelled.status, 'cancelled');
      assert.ok(cancelled.seeds_missing >= 1);
      const paidFor = new Set(h.sim.requests().map((r) => r.fingerprint));
      const again = await submitBatch(t.client, input, { taskQueue: h.queue });
      assert.equal(again.state, 'retrying');
      const done = await again.handle.result();
      assert.equal(done.status, 'complete');
      assert.equal(done.seeds_succeeded, 4);
      assert.equal(done.qa_path, cancelled.qa_path);
      const repaid = h.sim.requests().slice(paidFor.size).filter((r) => paidFor.has(r.fingerprint));
      // A seed cut off mid-way by the cancel runs again from its start; finished seeds are never re-run.
      const finishedBefore = cancelled.seeds_succeeded;
      assert.ok(repaid.length <= 8, `at most the one interrupted seed's calls are repeated, got ${repaid.length}`);
      assert.ok(finishedBefore >= 1);
      const qas = readJsonl<QaRecord>(done.qa_path);
      assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length);
    } finally {
      await h.stop();
    }
  });
});

describe('a search provider that refuses every request', () => {
  test('SearXNG without the JSON API (403 + HTML): each seed pays one LLM call, the run pauses after 2 with the fix shown', async () => {
    const h = await harness();
    const search = await startFakeSearch();
    try {
      const FORBIDDEN = '<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n';
      search.script([{ prefix: '/searxng', status: 403, headers: { 'content-type': 'text/html; charset=utf-8' }, body: FORBIDDEN }]);
      const config = smallConfig({
        environment_mode: 'web',
        available_tools: ['web_search'],
        environment_kwargs: { search_provider: 'searxng', searxng_url: `${search.url}/searxng`, allow_private_hosts: [search.hostPort] },
        max_workers: 1,
        pause_after_failures: 2,
      });
      const input: BatchInput = { run_id: 'searxng-403', config, seeds: SEEDS.slice(0, 4), output_dir: h.outDir };
      const sub = await submitBatch(t.client, input, { taskQueue: h.queue });
      await waitFor(async () => !!(await queryProgress(sub.handle)).pause_reason, 60_000, 'the pause');
      const p = await queryProgress(sub.handle);
      assert.match(p.pause_reason!, /2 seeds in a row ended with the same error \(ToolMisconfigured\)/);
      assert.match(p.pause_reason!, /adding `json` to `search.formats`/);
      assert.equal(h.sim.requests().length, 2, 'one paid LLM call per seed, and no seed after the pause');
      const desc = await sub.handle.describe();
      assert.equal(desc.searchAttributes[SEARCH_ATTRIBUTES.status]?.[0], 'paused');
      await sub.handle.cancel();
      const result = await sub.handle.result();
      assert.equal(result.seeds_failed, 2);
      assert.equal(result.seeds_missing, 2);
    } finally {
      await search.close();
      await h.stop();
    }
  });
});

describe('the same failure for the same request', () => {
  test('an HTTP 500 with the same body 3 times is permanent (not an outage): the seed fails naming it, requests are counted', async () => {
    const h = await harness();
    try {
      h.sim.script([
        {
          match: { contains: 'golden ratio' },
          respond: { status: 500, body: { error: { message: "Jinja2 TemplateError: Conversation roles must alternate user/assistant/user/assistant/...", type: 'server_error' } } },
        },
      ]);
      const input: BatchInput = { run_id: 'same-500', config: smallConfig({ max_depth: 2, pause_after_failures: 0 }), seeds: ['prime numbers', 'golden ratio'], output_dir: h.outDir };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_succeeded, 1);
      assert.equal(result.seeds_failed, 1);
      const bad = h.sim.requests().filter((r) => r.status === 500);
      assert.equal(bad.length, 3, 'three identical answers, then it stops');
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.failed_seeds[0].error_type, 'LlmEndpointMisconfigured');
      assert.match(stats.failed_seeds[0].error, /same failure to the same request 3 times.*TemplateError/);
      const row = stats.per_seed.find((s: { source_id: string; llm_requests: number }) => s.source_id === stats.failed_seeds[0].source_id);
      assert.equal(row.llm_requests, 3);
      assert.equal(stats.llm.requests, h.sim.requests().length, 'provider requests = what the endpoint saw');
      assert.ok(stats.llm.requests > stats.llm.calls);
      const desc = await t.client.workflow.getHandle(batchWorkflowId('same-500')).describe();
      assert.equal(desc.searchAttributes[SEARCH_ATTRIBUTES.status]?.[0], 'completed_with_failures');
    } finally {
      await h.stop();
    }
  });
});

/**
 * Fault rules: the first chat request matching `match` is answered with a web_visit tool call of the test site's
 * article and plain-text page (with `usage`), and every summary of the plain-text page is refused (401, not
 * retried: the page's own text is in its summary prompt) — so that visit fails for good after the article's
 * summary was answered and billed.
 */
function visitRefusedAfterOnePaid(site: TestSite, match: NonNullable<FaultRule['match']>, usage: { prompt_tokens: number; completion_tokens: number }): FaultRule[] {
  const args = { intent: 'read both pages', urls: [`${site.url}/article`, `${site.url}/plain.txt`], goal: 'When was the Analytical Engine first described?' };
  const message = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'web_visit', arguments: JSON.stringify(args) } }] };
  return [
    {
      match,
      times: 1,
      respond: {
        status: 200,
        body: {
          id: 'chatcmpl-visit', object: 'chat.completion', created: 0, model: 'qasynth-sim',
          choices: [{ index: 0, finish_reason: 'tool_calls', message }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        },
      },
    },
    { match: { contains: 'PLAIN-TEXT' }, respond: { status: 401 } },
  ];
}

/** A web-mode config whose only tool is web_visit, allowed to read the test site; one seed at a time. */
const webVisitConfig = (site: TestSite, extra: Record<string, unknown> = {}) =>
  smallConfig({ environment_mode: 'web', available_tools: ['web_visit'], environment_kwargs: { allow_private_hosts: [site.hostPort] }, max_depth: 2, pause_after_failures: 0, max_workers: 1, ...extra });

describe('what a failed seed spent', () => {
  test('a web_visit that fails after one page summary was paid: the failed seed is charged that summary (calls, requests, tokens)', async () => {
    const h = await harness();
    const site = await startTestSite();
    try {
      // The first action choice visits two pages of the test site; the second page's summary is refused (401, not
      // retried), so the visit fails after the first page's summary was answered and billed.
      const ACTION_TOKENS = { prompt_tokens: 1000, completion_tokens: 20 };
      h.sim.script(visitRefusedAfterOnePaid(site, { kind: 'action' }, ACTION_TOKENS));
      const config = webVisitConfig(site, { prices: { 'qasynth-sim': { input_per_million: 2, output_per_million: 8 } } });
      const input: BatchInput = { run_id: 'paid-then-failed', config, seeds: ['the Analytical Engine'], output_dir: h.outDir };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_failed, 1);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.failed_seeds[0].error_type, 'LlmAuth');
      const requests = h.sim.requests();
      assert.deepEqual([requests[0]!.kind, requests[0]!.status], ['action', 200]);
      // The two summaries are sent at once: either may reach the simulator first.
      assert.deepEqual(requests.slice(1).map((r) => `${r.kind} ${r.status}`).sort(), ['text 200', 'text 401']);
      const row = stats.per_seed[0];
      assert.equal(row.llm_calls, 2, 'the action choice and the page summary it got');
      assert.equal(row.llm_requests, 3, 'every request the endpoint saw');
      assert.ok(row.input_tokens > ACTION_TOKENS.prompt_tokens, `the summary's tokens are charged too: ${row.input_tokens}`);
      assert.ok(row.output_tokens > ACTION_TOKENS.completion_tokens, `${row.output_tokens}`);
      const priced = (input: number, output: number) => (input * 2 + output * 8) / 1_000_000;
      // The run's cost (this one seed's, rounded to 1e-6 USD) includes the summary's.
      const cost = stats.llm.estimated_cost_usd;
      assert.ok(Math.abs(cost - priced(row.input_tokens, row.output_tokens)) <= 1e-6, `and their cost: ${cost}`);
      assert.ok(cost > priced(ACTION_TOKENS.prompt_tokens, ACTION_TOKENS.completion_tokens) + 1e-6, `${cost}`);
      assert.equal(stats.llm.calls, 2);
      assert.equal(stats.llm.requests, 3);
    } finally {
      await site.close();
      await h.stop();
    }
  });

  test("a solver's web_visit that fails for good during verification: the seed goes on, and is charged the summary it paid", async () => {
    const h = await harness();
    const site = await startTestSite();
    try {
      // Exploration visits the article named in the seed. The solver's first step visits it and the plain-text
      // page, whose summary is refused (401, not retried): the tool call fails for good after the article's
      // summary was answered and billed; the solver goes on without it.
      h.sim.script(visitRefusedAfterOnePaid(site, { kind: 'action', contains: VERIFY_MARKERS.solver }, { prompt_tokens: 500, completion_tokens: 20 }));
      const config = webVisitConfig(site, { max_selected_traj: 1, verification: { enabled: true, baseline_attempts: 1, solver_attempts: 1, solver_max_steps: 2 } });
      const input: BatchInput = { run_id: 'solver-tool-failed', config, seeds: [`the Analytical Engine (${site.url}/article)`], output_dir: h.outDir };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      const log = h.sim.requests();
      const solverVisit = log.filter((r) => r.kind === 'text' && r.n > log.find((x) => x.role === 'solver')!.n);
      assert.deepEqual(solverVisit.map((r) => r.status).sort(), [200, 401], "the solver's visit: one summary answered, one refused");
      assert.equal(result.seeds_failed, 0, 'the seed went on after the failed tool call');
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.tools.errors.web_visit, 1, "the solver's failed visit is a tool error");
      assert.equal(stats.llm.calls, log.filter((r) => r.status === 200).length, 'every answered request is a counted call, the solver visit\'s summary too');
      assert.equal(stats.llm.requests, log.length, 'every request the endpoint saw is counted');
    } finally {
      await site.close();
      await h.stop();
    }
  });
});
