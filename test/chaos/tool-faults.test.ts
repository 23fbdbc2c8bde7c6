/**
 * Chaos 4: tool servers failing and timing out. Web mode, `local` search provider and web_visit against a
 * flaky web this test controls (./flaky-web.ts): ~20% of its requests answer 500 and ~10% hang for 6 s.
 * `tool_timeout_seconds` is 2, so a hanging search outlives the tool activity (Temporal times it out and
 * retries it); `web_visit_timeout_seconds` is 1, so a hanging page fails inside the tool and becomes an error
 * observation the agent sees; a search answered 500 is retried by Temporal (ToolBackendUnavailable).
 *
 * The batch must complete with every seed succeeded or failed-with-a-reason, every record once, statistics
 * matching the files, tool errors counted, and no LLM call paid twice (tool faults never re-run LLM calls).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { smallConfig, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';
import { countRepeats, checkRun, report, runFields } from './check';
import { startFlakyWeb, type FlakyWeb } from './flaky-web';
import { assertBuilt, assertNothingRunning, awaitBatch, byLevel, elapsedSince, startWorkerProcess, stopWorkerProcess, warmUp, CHAOS } from './harness';

const SEEDS = byLevel(
  ['Analytical Engine', 'Ada Lovelace', 'Jacquard loom'],
  ['Analytical Engine', 'Ada Lovelace', 'Jacquard loom', 'Difference Engine', 'punched card', 'Charles Babbage'],
);
const MAX_WORKERS = 3;

let t: TestTemporal;
let sim: Simulator;
let web: FlakyWeb;
before(async () => {
  assertBuilt();
  t = await testTemporal();
  sim = await startSimulator({ latencyMs: 30, seed: CHAOS.seed });
  // Whatever the draws: the first search hangs and the second fails; the first page hangs, the second fails.
  web = await startFlakyWeb({
    salt: `tool-faults:${CHAOS.seed}`,
    failShare: 0.2,
    hangShare: 0.1,
    hangMs: 6000,
    forcedFirst: { '/search': ['hang', 'fail500'], '/page/': ['hang', 'fail500'] },
  });
});
after(async () => {
  await web?.close();
  await sim?.close();
  await t?.close();
});

test('chaos: search and page servers answering 500 and hanging past the tool timeout', async () => {
  const started = Date.now();
  const queue = uniqueQueue('chaos-tools');
  const runId = `chaos-tools-${queue.slice(-8)}`;
  const worker = startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url });
  try {
    await worker.ready;
    await warmUp(t.client, queue, sim, smallConfig());
    const discardedBefore = worker.discardedResults();
    await submitBatch(
      t.client,
      {
        run_id: runId,
        config: smallConfig({
          environment_mode: 'web',
          seed_description: 'entity name',
          max_workers: MAX_WORKERS,
          llm_timeout_seconds: 5,
          tool_timeout_seconds: 2,
          environment_kwargs: {
            search_provider: 'local',
            local_site_url: web.url,
            allow_private_hosts: [web.hostPort],
            web_search_timeout_seconds: 10,
            web_visit_timeout_seconds: 1,
            web_visit_summarize: false,
          },
        }),
        seeds: SEEDS,
        output_dir: tempDir('qasynth-chaos-tools-'),
      },
      { taskQueue: queue },
    );
    const result = await awaitBatch(() => t.client, runId, 300_000, () => `worker logs:\n${worker.logs().slice(-3000)}`);
    const run = checkRun(result, SEEDS.length);
    await assertNothingRunning(t.client, runId, queue);

    const searches = web.log.filter((r) => r.path.startsWith('/search'));
    const pages = web.log.filter((r) => r.path.startsWith('/page/'));
    const count = (list: typeof web.log, fault: string) => list.filter((r) => r.fault === fault).length;
    const repeats = countRepeats(sim.requests());
    const discarded = worker.discardedResults() - discardedBefore;
    const toolCalls = Object.values(run.stats.tools.calls).reduce((a, b) => a + b, 0);
    const toolErrors = Object.values(run.stats.tools.errors).reduce((a, b) => a + b, 0);
    report('tool-faults', {
      ...runFields(run, repeats, sim.requests().length),
      tool_calls: toolCalls,
      tool_errors: toolErrors,
      late_results_discarded: discarded,
      searches: `${searches.length}(${count(searches, 'fail500')}x500,${count(searches, 'hang')}hang)`,
      pages: `${pages.length}(${count(pages, 'fail500')}x500,${count(pages, 'hang')}hang)`,
      time: elapsedSince(started),
    });
    assert.ok(count(searches, 'hang') >= 1 && count(searches, 'fail500') >= 1, 'searches hung and failed');
    assert.ok(count(pages, 'hang') >= 1 && count(pages, 'fail500') >= 1, 'pages hung and failed');
    assert.ok(run.stats.tools.calls.web_search && run.stats.tools.calls.web_visit, `both tools were used: ${JSON.stringify(run.stats.tools.calls)}`);
    // Only an attempt the server had given up on (its late result discarded, on a loaded machine) may be repeated.
    assert.ok(repeats.repeats <= discarded, `tool faults never make an LLM call run twice (${repeats.repeats} repeats, ${discarded} late results discarded):\n${repeats.otherDetails.join('\n')}`);
  } finally {
    await stopWorkerProcess(worker);
  }
});
