/**
 * Grounding in the seed workflow (issue 10 item 1), against the simulator: its default QA answers are taken from
 * the path's observations and grounded; a scripted ungrounded answer is rejected and regenerated with the reason;
 * an answer ungrounded at every attempt goes to the rejected-QA file, and the statistics' funnel says why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { type Simulator } from '../../src/llm/simulator';
import { UNGROUNDED_ANSWER } from '../../src/llm/simulator/answers';
import { submitBatch } from '../../src/api';
import { batchWorkflowId } from '../../src/shared/constants';
import type { BatchInput, QaRecord, RejectedQaRecord, SeedResultFile, YieldFunnel } from '../../src/shared/types';
import { readJsonl, smallConfig, tempDir, testTemporal, type TestTemporal, simHarness } from '../helpers/temporal';
import { groundAnswer } from '../../src/domain/grounding';
import { buildCorpus, startCorpusSite } from '../../src/corpus';
import path from 'node:path';

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const harness = () => simHarness(t, 'ground');

/** The rejected-QA file next to the QA file. */
function rejectedPath(qaPath: string): string {
  return path.join(path.dirname(qaPath), path.basename(qaPath).replace(/^synthesized_qa_/, 'rejected_qa_'));
}

function seedResult(outDir: string, runId: string, sourceId: string): SeedResultFile {
  return JSON.parse(fs.readFileSync(path.join(outDir, runId, 'seeds', `${sourceId}.json`), 'utf8')) as SeedResultFile;
}

const qaRequests = (sim: Simulator) => sim.requests().filter((r) => r.kind === 'qa');

describe('grounding in the seed workflow', () => {
  // The test and demo scenarios: math (calculator), python, rag (the fixture corpus) and web on the offline corpus
  // (the demo's setup, 300 pages).
  const scenarios: [string, Record<string, unknown>, string[]][] = [
    ['math', {}, ['prime numbers', 'Fibonacci sequence', 'compound interest']],
    ['python', { environment_mode: 'python', max_depth: 2, depth_threshold: 1 }, ['sum of the first n integers', 'prime factors']],
    ['rag', { environment_mode: 'rag', environment_kwargs: { corpus_path: path.join(__dirname, '..', 'fixtures', 'corpus') } }, ['Lyon', 'Ada Lovelace']],
    ['web', { environment_mode: 'web', depth_threshold: 1, min_depth: 3, available_tools: ['web_search', 'web_visit'] }, ['Unix', 'hacker']],
  ];
  for (const [mode, overrides, seeds] of scenarios) {
    test(`${mode}: the simulator's default answers are grounded in the path; every QA carries its grounding, none is retried`, async () => {
      const h = await harness();
      let site: Awaited<ReturnType<typeof startCorpusSite>> | null = null;
      try {
        let extra = overrides;
        if (mode === 'web') {
          const dir = tempDir('qasynth-corpus-');
          await buildCorpus({ outDir: dir, limit: 300 });
          site = await startCorpusSite({ dir });
          extra = { ...overrides, environment_kwargs: { search_provider: 'local', local_site_url: site.url, allow_private_hosts: [`127.0.0.1:${site.port}`] } };
        }
        // With dedup (the default; smallConfig turns it off): the files account for every QA either way.
        const input: BatchInput = {
          run_id: `grounded-${mode}`,
          config: smallConfig({ max_workers: 2, ...extra, dedup: { enabled: true } }),
          seeds,
          output_dir: h.outDir,
        };
        const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
        assert.equal(result.seeds_succeeded, seeds.length);
        const qas = readJsonl<QaRecord>(result.qa_path);
        assert.ok(qas.length >= seeds.length);
        const methods: Record<string, number> = {};
        for (const qa of qas) {
          const g = qa.evidence?.grounding;
          assert.ok(g, `grounded: ${qa.answer}`);
          // The grounding names a successful step of the QA's own path.
          assert.ok(qa.evidence!.steps.some((s) => s.node_id === g.node_id && !s.is_error));
          // Grounding never rejected the simulator's default answer: no attempt of any kept QA was ungrounded
          // (another rejection, e.g. a reply cut by a timeout on a loaded machine, is re-sampled and listed).
          const rejections = (qa.metadata.qa_rejections as string[] | undefined) ?? [];
          assert.equal(qa.metadata.qa_synthesis_attempts, 1 + rejections.length);
          assert.deepEqual(rejections.filter((r) => r.startsWith('ungrounded')), [], `${qa.qa_id} (${qa.answer})`);
          if (rejections.length) console.log(`${mode}: ${qa.qa_id} re-sampled after ${rejections.join(' | ')}`);
          methods[g.method] = (methods[g.method] ?? 0) + 1;
        }
        const rejected = readJsonl<RejectedQaRecord>(rejectedPath(result.qa_path));
        // One QA request per selected path plus one per listed re-sample: grounding cost no extra call.
        const resampled = [...qas, ...rejected].reduce((n, r) => n + (r.metadata.qa_synthesis_attempts as number) - 1, 0);
        assert.equal(qaRequests(h.sim).length, result.trajectory_count + resampled);
        assert.deepEqual(rejected.filter((r) => r.rejection.stage === 'grounding'), []);
        assert.equal(result.qa_count + rejected.length, result.trajectory_count);
        const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as { funnel: YieldFunnel; total_qas: number };
        assert.equal(stats.funnel.qa_written, result.trajectory_count);
        assert.equal(stats.funnel.qa_grounded, result.trajectory_count);
        assert.equal(stats.funnel.qa_kept, qas.length);
        assert.equal(stats.total_qas, qas.length);
        console.log(`${mode}: ${qas.length} QA grounded by ${JSON.stringify(methods)}; dropped by dedup: ${rejected.length}`);
      } finally {
        await site?.close();
        await h.stop();
      }
    });
  }

  test('an ungrounded answer is rejected with the reason and regenerated; the retry is grounded and kept', async () => {
    const h = await harness();
    try {
      // The first QA request gets an invented answer; the next ones the simulator's usual grounded answer.
      // A second rule marks (with a 1 ms delay, logged as `delay:1`) a QA request whose prompt quotes the rejection.
      h.sim.script([
        { match: { kind: 'qa' }, times: 1, respond: { ungrounded: true } },
        { match: { kind: 'qa', contains: `ungrounded: the answer "${UNGROUNDED_ANSWER}" is not supported` }, respond: { delayMs: 1 } },
      ]);
      const input: BatchInput = {
        run_id: 'ungrounded-once',
        config: smallConfig({ max_workers: 1, max_selected_traj: 1 }),
        seeds: ['prime numbers'],
        output_dir: h.outDir,
      };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.seeds_succeeded, 1);
      const reqs = qaRequests(h.sim);
      assert.equal(reqs.length, 2, 'one rejected attempt, one kept');
      assert.equal(reqs[0]!.fault, 'ungrounded');
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(qas.length, 1);
      assert.notEqual(qas[0]!.answer, UNGROUNDED_ANSWER);
      assert.equal(qas[0]!.metadata.qa_synthesis_attempts, 2);
      // The kept record says why its first attempt was re-sampled.
      const why = qas[0]!.metadata.qa_rejections as string[];
      assert.equal(why.length, 1);
      assert.match(why[0]!, /^ungrounded: the answer "Zorvath Quillemont"/);
      assert.ok(qas[0]!.evidence?.grounding);
      // The retry told the model why: its prompt quotes the rejected answer and the reason.
      assert.equal(reqs[1]!.fault, 'delay:1');
      assert.deepEqual(readJsonl(rejectedPath(result.qa_path)), []);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as { funnel: YieldFunnel };
      assert.equal(stats.funnel.qa_written, 1);
      assert.equal(stats.funnel.qa_grounded, 1);
      assert.equal(stats.funnel.losses.filter((l) => l.stage === 'grounding').length, 0);
      // The seed's history (with the retried QA call) replays deterministically. Its one patch marker is the seed
      // workflow's qasynth-seed-2026-12, which stands for qasynth-grounding (and the other seed patches) too.
      const { bundleWorkflowCode, DefaultLogger, Worker } = await import('@temporalio/worker');
      const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
      let replayed = 0;
      for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "${batchWorkflowId('ungrounded-once')}/"` })) {
        const history = await t.client.workflow.getHandle(wf.workflowId).fetchHistory();
        const markers = (history.events ?? [])
          .map((e) => e.markerRecordedEventAttributes)
          .filter((m) => m?.markerName === 'core_patch')
          .flatMap((m) => Object.values(m!.details ?? {}).flatMap((p) => (p.payloads ?? []).map((x) => Buffer.from(x.data ?? []).toString('utf8'))));
        assert.deepEqual(markers.map((m) => (JSON.parse(m) as { id: string }).id), ['qasynth-seed-2026-12'], `one patch marker: ${JSON.stringify(markers)}`);
        await Worker.runReplayHistory({ workflowBundle }, history, wf.workflowId);
        replayed += 1;
      }
      assert.equal(replayed, 1);
    } finally {
      await h.stop();
    }
  });

  test('ungrounded at every attempt: not in the QA file, kept in the rejected file with the reason, counted in the funnel', async () => {
    const h = await harness();
    try {
      h.sim.script([{ match: { kind: 'qa' }, respond: { ungrounded: true } }]);
      const input: BatchInput = {
        run_id: 'ungrounded-always',
        config: smallConfig({ max_workers: 1, max_selected_traj: 2, max_retries: 2 }),
        seeds: ['prime numbers'],
        output_dir: h.outDir,
      };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      assert.equal(result.qa_count, 0);
      assert.equal(result.seeds_no_qa, 1);
      const paths = result.trajectory_count;
      assert.equal(paths, 2);
      assert.equal(qaRequests(h.sim).length, paths * 2, 'max_retries attempts per path');
      assert.deepEqual(readJsonl(result.qa_path), []);
      const rejected = readJsonl<RejectedQaRecord>(rejectedPath(result.qa_path));
      assert.equal(rejected.length, paths);
      for (const r of rejected) {
        assert.deepEqual(r.rejection, { stage: 'grounding', reason: 'ungrounded' });
        assert.equal(r.answer, UNGROUNDED_ANSWER);
        assert.equal(r.evidence?.grounding, null);
        assert.equal(r.metadata.qa_synthesis_attempts, 2);
        // Indeed ungrounded in the path it was written from.
        assert.equal(groundAnswer(r.answer, r.evidence!.steps.map((s) => ({ ...s, observation: s.observation_excerpt }))), null);
      }
      const seed = seedResult(h.outDir, 'ungrounded-always', rejected[0]!.source_id);
      assert.equal(seed.status, 'no_qa');
      assert.equal(seed.error_type, 'no_qa:ungrounded');
      assert.match(seed.error!, /ungrounded ×2/);
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8')) as { funnel: YieldFunnel; rejected_qa_file: string };
      assert.equal(stats.rejected_qa_file, path.basename(rejectedPath(result.qa_path)));
      assert.deepEqual(
        { written: stats.funnel.qa_written, grounded: stats.funnel.qa_grounded, verified: stats.funnel.qa_verified, kept: stats.funnel.qa_kept },
        { written: 2, grounded: 0, verified: 0, kept: 0 },
      );
      assert.deepEqual(stats.funnel.losses.filter((l) => l.stage === 'grounding'), [{ stage: 'grounding', reason: 'ungrounded', count: 2 }]);
    } finally {
      await h.stop();
    }
  });

  test('grounding: false keeps the invented answer (the check is off)', async () => {
    const h = await harness();
    try {
      h.sim.script([{ match: { kind: 'qa' }, respond: { ungrounded: true } }]);
      const input: BatchInput = {
        run_id: 'grounding-off',
        config: smallConfig({ max_workers: 1, max_selected_traj: 1, grounding: false }),
        seeds: ['prime numbers'],
        output_dir: h.outDir,
      };
      const result = await (await submitBatch(t.client, input, { taskQueue: h.queue })).handle.result();
      const qas = readJsonl<QaRecord>(result.qa_path);
      assert.equal(qas.length, 1);
      assert.equal(qas[0]!.answer, UNGROUNDED_ANSWER);
      assert.equal(qas[0]!.evidence?.grounding, null);
      assert.equal(qaRequests(h.sim).length, 1);
    } finally {
      await h.stop();
    }
  });
});
