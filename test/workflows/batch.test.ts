/**
 * synthesizeBatch / synthesizeSeed on a real Temporal dev server, with the LLM simulator over HTTP and the
 * real tools. Each test has its own task queue, output folder and simulator.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { buildCorpus, openCorpus, startCorpusSite } from '../../src/corpus';
import { submitBatch, queryProgress } from '../../src/api';
import { batchWorkflowId } from '../../src/shared/constants';
import type { BatchInput, BatchResult, QaRecord, TrajectoryRecord } from '../../src/shared/types';
import { readJsonl, smallConfig, tempDir, testTemporal, type TestTemporal, simHarness, type SimHarness } from '../helpers/temporal';
import { windowTimeline } from '../helpers/window';

const SEEDS = ['prime numbers', 'Fibonacci sequence', 'compound interest', 'Pythagorean triples', 'harmonic series'];

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

type Harness = SimHarness;

const harness = (): Promise<Harness> => simHarness(t, 'wf');

function input(h: Harness, runId: string, config: Record<string, unknown>, seeds: unknown[] = SEEDS): BatchInput {
  return { run_id: runId, config, seeds, output_dir: h.outDir };
}

async function runToEnd(h: Harness, inp: BatchInput): Promise<BatchResult> {
  const sub = await submitBatch(t.client, inp, { taskQueue: h.queue });
  return sub.handle.result();
}

/** Highest number of seeds running at once as the parent sees them (test/helpers/window.ts), and how many started. */
async function maxConcurrentChildren(workflowId: string): Promise<{ max: number; started: number }> {
  const steps = windowTimeline(workflowId, (await t.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []);
  return { max: Math.max(0, ...steps.map((s) => s.running)), started: steps.filter((s) => s.started).length };
}

describe('synthesizeBatch on a real dev server', () => {
  test('5 seeds with max_workers 2: never more than 2 children at once; complete, ordered, unique outputs', async () => {
    const h = await harness();
    try {
      const result = await runToEnd(h, input(h, 'five', smallConfig({ max_workers: 2 })));
      assert.equal(result.status, 'complete');
      assert.equal(result.seeds_total, 5);
      assert.equal(result.seeds_succeeded, 5);
      assert.equal(result.seeds_failed, 0);

      const { max, started } = await maxConcurrentChildren(batchWorkflowId('five'));
      assert.equal(started, 5);
      assert.equal(max, 2, 'the window of 2 children is used and never exceeded');

      const qas = readJsonl<QaRecord>(result.qa_path);
      const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
      assert.equal(qas.length, result.qa_count);
      assert.ok(qas.length >= 5, `expected QA for every seed, got ${qas.length}`);
      assert.equal(new Set(qas.map((q) => q.qa_id)).size, qas.length, 'qa ids are unique');
      assert.equal(new Set(trajs.map((x) => x.trajectory_id)).size, trajs.length, 'trajectory ids are unique');
      // Seed input order.
      const order = qas.map((q) => SEEDS.indexOf(q.metadata.seed_data));
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
      // Original field names first, in the original order; qasynth's additions (evidence, verification) after them.
      const ORIGINAL = ['question', 'answer', 'trajectory_id', 'reasoning_steps', 'source_id', 'qa_id', 'metadata'];
      assert.deepEqual(Object.keys(qas[0]).slice(0, ORIGINAL.length), ORIGINAL);
      assert.deepEqual(Object.keys(qas[0]).slice(ORIGINAL.length).filter((k) => !['evidence', 'verification'].includes(k)), []);
      assert.ok(Array.isArray(qas[0].evidence?.steps), 'each QA carries its evidence');
      for (const k of ['seed_data', 'seed_description', 'trajectory_depth', 'synthesis_date', 'environment_mode']) {
        assert.ok(k in qas[0].metadata, `metadata.${k}`);
      }
      // Each trajectory is a real path of the tree, with tool observations from the calculator.
      assert.ok(trajs.every((x) => x.nodes.length === x.total_depth && x.total_depth >= 2));
      assert.ok(trajs[0].nodes.some((n) => n.observation.includes('Calculator Results')));

      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.seeds.total, 5);
      assert.equal(stats.seeds.succeeded, 5);
      assert.equal(stats.total_qas, qas.length);
      assert.equal(stats.total_trajectories, trajs.length);
      assert.ok(stats.llm.calls > 0 && stats.llm.input_tokens > 0 && stats.llm.output_tokens > 0);
      assert.equal(stats.llm.calls, h.sim.requests().filter((r) => r.status === 200).length);
      assert.ok(stats.tools.calls.calculator > 0);
      assert.equal(stats.per_seed.length, 5);
      // Tree: D=3, b=2, t=2 → 2 + 4 + 4 = 10 nodes per seed when nothing fails.
      assert.equal(stats.total_nodes, 50);
    } finally {
      await h.stop();
    }
  });

  test('one poisoned seed fails alone and is reported with its error', async () => {
    const h = await harness();
    try {
      h.sim.script([{ match: { contains: 'POISONED seed' }, respond: { status: 400, body: { error: { message: 'this seed is poison', type: 'invalid_request_error' } } } }]);
      const seeds = [...SEEDS.slice(0, 3), 'POISONED seed'];
      const result = await runToEnd(h, input(h, 'poison', smallConfig(), seeds));
      assert.equal(result.seeds_succeeded, 3);
      assert.equal(result.seeds_failed, 1);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.failed_seeds.length, 1);
      assert.equal(stats.failed_seeds[0].seed_data, 'POISONED seed');
      assert.match(stats.failed_seeds[0].error, /400|poison/i);
      // A 400 is not retried: exactly one request for the poisoned seed's first action.
      assert.equal(h.sim.requests().filter((r) => r.status === 400).length, 1);
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.ok(qas.length >= 3);
      assert.ok(qas.every((q) => q.metadata.seed_data !== 'POISONED seed'));
    } finally {
      await h.stop();
    }
  });

  test('a 429 storm with Retry-After delays the batch but loses nothing', async () => {
    const h = await harness();
    try {
      h.sim.script([{ times: 12, respond: { status: 429, headers: { 'retry-after-ms': '150' } } }]);
      const result = await runToEnd(h, input(h, 'storm', smallConfig(), SEEDS.slice(0, 3)));
      assert.equal(result.seeds_succeeded, 3);
      const log = h.sim.requests();
      assert.equal(log.filter((r) => r.status === 429).length, 12);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.total_nodes, 30, 'every tree is complete despite the 429s');
      assert.equal(stats.llm.calls, log.filter((r) => r.status === 200).length);
    } finally {
      await h.stop();
    }
  });

  test('malformed model output is retried with rising temperature, then the branch is skipped and counted', async () => {
    const h = await harness();
    try {
      h.sim.script([{ match: { kind: 'action', contains: 'harmonic series' }, respond: { malformed: 'unknown_tool' } }]);
      const result = await runToEnd(h, input(h, 'malformed', smallConfig(), ['prime numbers', 'harmonic series']));
      assert.equal(result.seeds_succeeded, 1);
      // Zero QA is not a success: the seed is reported as no_qa with the reason.
      assert.equal(result.seeds_no_qa, 1);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.seeds.no_qa, 1);
      assert.equal(stats.failed_seeds[0].status, 'no_qa');
      assert.equal(stats.failed_seeds[0].error_type, 'no_qa:unknown_tool');
      assert.match(stats.failed_seeds[0].error, /^no QA: exploration found no path .*unknown_tool ×6/);
      const bad = stats.per_seed.find((s: { index: number }) => s.index === 1);
      assert.equal(bad.nodes, 0, 'both root branches were skipped');
      assert.equal(bad.llm_calls, 2 * 3, '2 branches × max_retries 3 attempts');
      assert.equal(bad.qa, 0);
      const skipped = Object.entries(stats.skipped_branches as Record<string, number>);
      assert.equal(skipped.reduce((n, [, c]) => n + c, 0), 2);
      assert.ok(skipped.every(([reason]) => reason.startsWith('unknown_tool')), JSON.stringify(skipped));
      const temps = h.sim.requests().filter((r) => r.fault?.startsWith('malformed')).map((r) => r.temperature);
      assert.deepEqual(temps, [0.7, 0.8, 0.9, 0.7, 0.8, 0.9]);
    } finally {
      await h.stop();
    }
  });

  test('invalid input fails the workflow at once with a non-retryable InvalidInput naming each problem', async () => {
    const h = await harness();
    try {
      const bad = input(h, 'bad-input', { ...smallConfig(), max_depth: 2, min_depth: 5, colour: 'blue' }, ['ok', 42]);
      const sub = await submitBatch(t.client, bad, { taskQueue: h.queue });
      const err = await sub.handle.result().then(
        () => assert.fail('expected the workflow to fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'InvalidInput');
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /config\.colour/);
      assert.match(cause.message, /config\.min_depth/);
      assert.match(cause.message, /seeds\[1\]/);
      assert.equal(h.sim.requests().length, 0, 'nothing was paid for');
      assert.equal(fs.existsSync(path.join(h.outDir, 'bad-input')), false, 'nothing was written');
    } finally {
      await h.stop();
    }
  });

  test('resubmitting is idempotent: a finished run is not re-run, and re-run children reuse their durable results', async () => {
    const h = await harness();
    try {
      const inp = input(h, 'again', smallConfig(), SEEDS.slice(0, 2));
      const first = await runToEnd(h, inp);
      const calls = h.sim.requests().length;
      const again = await submitBatch(t.client, inp, { taskQueue: h.queue });
      assert.equal(again.state, 'completed');
      assert.deepEqual(await again.handle.result(), first);
      // A new parent over the same run (e.g. after a parent was terminated): children find their results.
      const rerun = await t.client.workflow.execute('synthesizeBatch', {
        taskQueue: h.queue,
        workflowId: `${batchWorkflowId('again')}-rerun`,
        args: [inp],
      });
      assert.equal(h.sim.requests().length, calls, 'no LLM call was made again');
      assert.equal((rerun as BatchResult).qa_count, first.qa_count);
      assert.equal(readJsonl(first.qa_path).length, first.qa_count, 'files rewritten with each record once');
    } finally {
      await h.stop();
    }
  });

  test('explore_concurrency 3: complete trees, unique ids, and the seed workflows replay deterministically', async () => {
    const h = await harness();
    try {
      const result = await runToEnd(h, input(h, 'explore', smallConfig({ explore_concurrency: 3, max_depth: 4 }), SEEDS.slice(0, 2)));
      assert.equal(result.seeds_succeeded, 2);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      // D=4, b=2, t=2: 2 + 4 + 4 + 4 = 14 nodes per seed, as with the depth-first order.
      assert.equal(stats.total_nodes, 2 * 14);
      const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
      for (const tr of trajs) assert.equal(new Set(tr.nodes.map((n) => n.node_id)).size, tr.nodes.length);
      const { bundleWorkflowCode, DefaultLogger, Worker } = await import('@temporalio/worker');
      const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
      for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "${batchWorkflowId('explore')}/"` })) {
        const history = await t.client.workflow.getHandle(wf.workflowId).fetchHistory();
        await Worker.runReplayHistory({ workflowBundle }, history, wf.workflowId);
      }
    } finally {
      await h.stop();
    }
  });

  test('continues as new on long batches, with state carried and every seed written once', async () => {
    const h = await harness();
    try {
      const seeds = Array.from({ length: 40 }, (_, i) => `number ${i + 1}`);
      const sub = await submitBatch(t.client, input(h, 'long', smallConfig({ max_depth: 1, branching_factor: 1, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, max_workers: 4 }), seeds), { taskQueue: h.queue });
      const progress = await queryProgress(sub.handle).catch(() => null);
      assert.ok(progress === null || progress.seeds_total === 40);
      const result = await sub.handle.result();
      assert.equal(result.seeds_succeeded, 40);
      const desc = await sub.handle.describe();
      const firstRunId = (sub.handle as unknown as { firstExecutionRunId: string }).firstExecutionRunId;
      assert.ok(firstRunId);
      assert.notEqual(desc.runId, firstRunId, 'the batch continued as new at least once');
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(new Set(qas.map((q) => q.source_id)).size, 40);
      assert.equal(qas.length, 40);
    } finally {
      await h.stop();
    }
  });
});

describe('every implemented mode end to end', () => {
  for (const [mode, extra, marker] of [
    ['python', {}, ''],
    ['rag', { environment_kwargs: { corpus_path: path.join(__dirname, '..', 'fixtures', 'corpus') } }, 'Retrieved Context'],
  ] as const) {
    test(`${mode} mode: real ${mode === 'python' ? 'python_interpreter' : 'local_search'} observations reach the trajectories`, async () => {
      const h = await harness();
      try {
        const config = smallConfig({ environment_mode: mode, max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 2, max_selected_traj: 2, ...extra });
        const result = await runToEnd(h, input(h, `mode-${mode}`, config, mode === 'rag' ? ['Lyon', 'Ada Lovelace'] : ['sum of the first n integers', 'prime factors']));
        assert.equal(result.seeds_succeeded, 2);
        const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
        assert.ok(trajs.length >= 2);
        const tool = mode === 'python' ? 'python_interpreter' : 'local_search';
        assert.ok(trajs.every((x) => x.nodes.every((n) => n.action?.tool_name === tool)));
        const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
        assert.equal(stats.tools.calls[tool], stats.total_nodes);
        assert.equal(stats.tools.errors[tool] ?? 0, 0, JSON.stringify(trajs[0].nodes.map((n) => n.observation)));
        if (marker) assert.ok(trajs[0].nodes[0].observation.includes(marker));
        else assert.ok(trajs.every((x) => x.nodes.every((n) => /\d/.test(n.observation))), 'python printed numbers');
      } finally {
        await h.stop();
      }
    });
  }
});

describe('web mode end to end on the offline corpus (no internet)', () => {
  test('web_search (local provider) and web_visit read real corpus pages; the summaries quote them', async () => {
    const h = await harness();
    const dir = tempDir('qasynth-corpus-');
    await buildCorpus({ outDir: dir, limit: 300 });
    const site = await startCorpusSite({ dir });
    try {
      const config = smallConfig({
        environment_mode: 'web',
        environment_kwargs: { search_provider: 'local', local_site_url: site.url, allow_private_hosts: [`127.0.0.1:${site.port}`] },
        max_depth: 3,
        branching_factor: 2,
        // Branching down to depth 2 (10 nodes per seed, 6 with 1): which pages the simulator's trees visit depends
        // on the local site's port, and a visit can hit a link outside the 300-page corpus; more nodes make a run
        // without one successful visit (below) unlikely for any port.
        depth_threshold: 2,
        min_depth: 3,
        max_selected_traj: 2,
      });
      const result = await runToEnd(h, input(h, 'mode-web', config, ['Unix', 'hacker']));
      assert.equal(result.seeds_succeeded, 2);
      const trajs = readJsonl<TrajectoryRecord>(result.trajectories_path);
      const nodes = trajs.flatMap((x) => x.nodes);
      const visits = nodes.filter((n) => n.action?.tool_name === 'web_visit' && !n.is_error);
      assert.ok(nodes.some((n) => n.action?.tool_name === 'web_search'), 'searched');
      assert.ok(visits.length >= 1, 'visited pages');
      const corpus = await openCorpus(dir);
      for (const v of visits) {
        assert.ok(v.sources && v.sources.length >= 1, 'visited URLs are kept as sources');
        for (const url of v.sources!) {
          assert.ok(url.startsWith(site.url), url);
          const page = corpus.page(decodeURIComponent(new URL(url).pathname));
          assert.ok(page, `a corpus page for ${url}`);
        }
        // The observation quotes the page as the site served it: its first words (letters and digits only; markup,
        // markdown escaping and punctuation aside) appear together, in that order, in the served page — the first
        // 4 at least, of 6 looked at: the summary is the page's sentences that best match the goal, in page order,
        // so a short first sentence may be followed by one from further down ("[Sun Users' Group & elsewhere] n."
        // then "He says that …" of jargon/SEX). (Not the corpus entry's text alone: a short entry, "n. Syn. forum.", is quoted
        // with the page's attribution line.)
        const served = (await (await fetch(v.sources![0])).text()).replace(/<[^>]*>/g, ' ').replace(/&(?:[a-z]+|#\d+);/gi, ' ');
        const words = (t: string) => t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
        const first = words(v.observation.split('\n').slice(1).join(' ')).split(' ').slice(0, 6);
        let k = first.length;
        while (k > 0 && !words(served).includes(first.slice(0, k).join(' '))) k--;
        const quoted = first.join(' ');
        assert.ok(k >= 4, `observation quotes ${v.sources![0]}: ${quoted} (${k} leading words found in the page)`);
      }
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.ok(qas.length >= 2);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.ok(stats.tools.calls.web_search >= 2 && stats.tools.calls.web_visit >= 1, JSON.stringify(stats.tools));
      // Every request the endpoint answered is paid and counted — web_visit's page summaries (kind `text`) too: in
      // the calls, the requests and the tokens the statistics (and the budget) charge.
      const answered = h.sim.requests().filter((r) => r.status === 200);
      const summaries = answered.filter((r) => r.kind === 'text').length;
      assert.ok(summaries >= 1, 'web_visit summarised pages with the LLM');
      assert.equal(stats.llm.calls, answered.length, `LLM calls counted: ${stats.llm.calls}; answered requests ${answered.length} (${summaries} summaries)`);
      assert.equal(stats.llm.requests, answered.length);
    } finally {
      await site.close();
      await h.stop();
    }
  });
});
