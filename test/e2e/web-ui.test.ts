/**
 * The Temporal Web UI tells the story of a run, as a person sees it: headless Chromium (Debian's `chromium`,
 * driven by playwright-core) on the Web UI of the test server (`npm test` starts it with the UI on a free port,
 * QASYNTH_TEST_TEMPORAL_UI; run alone, this file starts its own). A small batch where one seed fails (the LLM
 * simulator refuses its requests with HTTP 401), and one batch started the bare way (`temporal workflow start`);
 * then the rendered text of the pages is checked: the failed seed is Failed with its error, the seed text is the
 * child's summary, activities have summaries in the event history, the batch has a summary and current details.
 * Screenshots are kept in test-artifacts/web-ui/ (gitignored) for a look by eye.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { batchWorkflowId, SEARCH_ATTRIBUTES, seedWorkflowId } from '../../src/shared/constants';
import { sourceIdFor } from '../../src/domain/ids';
import { freePort, startDevServer, type DevServer } from '../../src/server/dev-server';
import { ensureTemporalCli, projectRoot } from '../../src/server/temporal-cli';
import { installRuntime } from '../../src/worker/runtime';
import type { BatchInput, BatchResult } from '../../src/shared/types';
import { smallConfig, startTestWorker, tempDir, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

/** Where the screenshots go (gitignored). */
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'web-ui');
/** Chromium flags for this machine (no GPU, no network beyond localhost, no first-run chores). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** How long a page may take to show what it should (the UI loads its data after the page). */
const PAGE_TIMEOUT_MS = 30_000;

let server: DevServer | null = null;
let address: string;
let uiUrl: string;
let t: TestTemporal;
let sim: Simulator;
let browser: BrowserContext;
let page: Page;

before(async () => {
  address = process.env.QASYNTH_TEST_TEMPORAL_ADDRESS ?? '';
  uiUrl = process.env.QASYNTH_TEST_TEMPORAL_UI ?? '';
  if (!address || !uiUrl) {
    // Run alone, or against a server without a UI (the cluster tier): a dev server of its own, with its UI.
    server = await startDevServer({ uiPort: await freePort() });
    address = server.address;
    uiUrl = server.uiUrl!;
  }
  const connection = await Connection.connect({ address });
  installRuntime();
  const native = await NativeConnection.connect({ address });
  t = { address, client: new Client({ connection }), connection, native, close: async () => {} };
  sim = await startSimulator({ latencyMs: 10 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launchPersistentContext(tempDir('qasynth-chromium-'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1600, height: 1000 },
  });
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  await sim?.close();
  await t?.native.close();
  await t?.connection.close();
  await server?.stop();
});

/** The rendered text of the page and of its frames (the UI renders Markdown metadata in sandboxed iframes). */
async function renderedText(p: Page): Promise<string> {
  const parts: string[] = [];
  for (const f of p.frames()) parts.push(await f.locator('body').innerText().catch(() => ''));
  // The UI's Markdown typesetting shows "2/3" as a fraction (U+2044 FRACTION SLASH): read it as the slash it is.
  return parts.join('\n').replace(/\u2044/g, '/');
}

/**
 * Opens `url` and waits until the rendered text matches every pattern; then takes a screenshot named `shot`.
 * Fails naming the patterns still missing and the text seen. `focus`: text scrolled into view for the screenshot.
 */
async function show(url: string, shot: string, patterns: (string | RegExp)[], focus?: string): Promise<string> {
  await page.goto(url);
  let text = '';
  const missing = () => patterns.filter((p) => (typeof p === 'string' ? !text.includes(p) : !p.test(text)));
  await waitFor(async () => {
    text = await renderedText(page);
    return missing().length === 0;
  }, PAGE_TIMEOUT_MS, shot).catch(() => undefined);
  if (focus) await page.getByText(focus).first().scrollIntoViewIfNeeded().catch(() => undefined);
  await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`), fullPage: true });
  assert.deepEqual(missing(), [], `${shot} (${url}): missing from the rendered page after ${PAGE_TIMEOUT_MS / 1000} s; it showed:\n${text}`);
  return text;
}

const ui = (wid: string, rid: string, tab: string) => `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(wid)}/${rid}/${tab}`;

test('the Web UI shows a failed seed as Failed with its error, seed texts as child summaries, activity summaries, and the batch summary and details', async () => {
  const run = `webui-${uniqueQueue('r').slice(2)}`;
  const queue = uniqueQueue('webui');
  const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  try {
    // ── A small batch where one seed fails (every request of it is refused: HTTP 401, not retried) ──────────────
    sim.script([{ match: { contains: 'Fibonacci sequence' }, respond: { status: 401, body: { error: { message: 'Incorrect API key provided: sk-te***', code: 'invalid_api_key' } } } }]);
    const seeds = ['prime numbers', 'Fibonacci sequence', 'golden ratio'];
    const input: BatchInput = { run_id: run, config: smallConfig({ max_workers: 2 }), seeds, output_dir: tempDir() };
    const sub = await submitBatch(t.client, input, { taskQueue: queue, mode: 'math', seedCount: seeds.length });
    const result: BatchResult = await sub.handle.result();
    assert.equal(result.seeds_failed, 1);
    assert.equal(result.seeds_succeeded, 2);
    sim.clearScript();

    // ── A batch started the bare way: `temporal workflow start`, no summary ────────────────────────────────────
    const plainRun = `${run}-plain`;
    const plainInput: BatchInput = { run_id: plainRun, config: smallConfig({ max_workers: 1 }), seeds: ['golden ratio'], output_dir: tempDir() };
    const cli = spawnSync(
      ensureTemporalCli(projectRoot()),
      ['workflow', 'start', '--address', address, '--task-queue', queue, '--type', 'synthesizeBatch', '--workflow-id', batchWorkflowId(plainRun), '--input', JSON.stringify(plainInput)],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const plain = t.client.workflow.getHandle(batchWorkflowId(plainRun));
    await plain.result();

    const batchRun = (await sub.handle.describe()).runId;
    const failedId = seedWorkflowId(run, sourceIdFor('Fibonacci sequence'));
    const failedRun = (await t.client.workflow.getHandle(failedId).describe()).runId;
    const okId = seedWorkflowId(run, sourceIdFor('prime numbers'));
    const okRun = (await t.client.workflow.getHandle(okId).describe()).runId;

    // The list of the run's workflows: the failed seed is FAILED, the others COMPLETED.
    const list = await show(
      `${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`${SEARCH_ATTRIBUTES.runId}="${run}"`)}`,
      'list',
      [/1 FAILED/, /3 COMPLETED/, new RegExp(`FAILED\\s+${failedId.replace('/', '\\/')}`)],
    );
    assert.match(list, new RegExp(`COMPLETED\\s+${okId.replace('/', '\\/')}`));

    // The failed seed's page: Failed, its error as the failure, its summary (the seed text) and current details.
    await show(ui(failedId, failedRun, 'history'), 'failed-seed-history', [
      'FAILED',
      'Workflow Execution Failed',
      'LLM endpoint refused the credentials (HTTP 401)',
      '"type": "LlmAuth"',
      'choose action · depth 1 · branch 0',
      'write seed result · failed',
    ], 'write seed result · failed');
    await show(ui(failedId, failedRun, 'user-metadata'), 'failed-seed-metadata', [
      'seed 2/3 · Fibonacci sequence',
      /failed · 0 QA: LLM endpoint refused the credentials \(HTTP 401\)/,
    ]);

    // A seed that succeeded: its activities say what each does.
    await show(ui(okId, okRun, 'history'), 'seed-history', [
      'COMPLETED',
      // (descending, the newest 100 events: the tree's last levels and the QA)
      'choose action · depth 2 · branch 1',
      'choose action · depth 3 · branch 0',
      // (calculator calls run inside chooseAction: their observation is in its result, no activity of their own)
      'synthesize QA · path 1/2',
      'synthesize QA · path 2/2',
      'write seed result · succeeded',
    ], 'synthesize QA · path 1/2');

    // The batch: its summary, each child's summary (the seed text) and how it ended, its own activities.
    await show(ui(sub.workflowId, batchRun, 'history'), 'batch-history', [
      `qasynth ${run} · math · 3 seeds · max_workers 2`,
      'seed 1/3 · prime numbers',
      'seed 2/3 · Fibonacci sequence',
      'seed 3/3 · golden ratio',
      'Child Workflow Execution Failed',
      'prepare run (manifest)',
      'write outputs (complete)',
    ], 'Child Workflow Execution Failed');
    await show(ui(sub.workflowId, batchRun, 'user-metadata'), 'batch-metadata', [
      `qasynth ${run} · math · 3 seeds · max_workers 2`,
      /done — 3\/3 seeds \(1 failed, 0 without QA\), 4 QA/,
    ]);

    // The batch started without a summary names itself in its current details.
    await show(ui(batchWorkflowId(plainRun), (await plain.describe()).runId, 'user-metadata'), 'plain-batch-metadata', [
      `qasynth ${plainRun} · math · 1 seed · max_workers 1`,
      /done — 1\/1 seeds/,
    ]);
  } finally {
    sim.clearScript();
    await worker.stop();
  }
});
