/**
 * The after-the-run commands on a real finished run (`qasynth run` with the simulator, test/helpers/finished-run.ts)
 * as a user runs them (compiled CLI): `export` in each format (SFT validated against OpenAI's chat fine-tuning
 * format, Parquet read back by an independent reader and equal to the JSONL), `show`, and `report` opened in
 * headless Chromium (Debian's, driven by playwright-core) with assertions on the rendered DOM. The screenshots are
 * kept in test/artifacts/ (gitignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { QaRecord, SeedResultFile, TrajectoryRecord, YieldFunnel } from '../../src/shared/types';
import { validateSftRecord, type SftRecord } from '../../src/export/records';
import { produceFinishedRun, runCli, RUN_SEEDS, type FinishedRun } from '../helpers/finished-run';
import { FIXTURE_FUNNEL, writeRunFixture } from '../helpers/run-fixture';
import { readParquetRows } from '../helpers/parquet-read';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const CHROMIUM = '/usr/bin/chromium';

let run: FinishedRun;
let qas: QaRecord[];
let seeds: SeedResultFile[];
let stats: { llm: { input_tokens: number; output_tokens: number; calls: number }; funnel?: YieldFunnel };
let tmp: string;
let browser: BrowserContext;

const jsonl = <T>(file: string): T[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), 'Debian chromium missing: run scripts/setup.sh (it installs it)');
  run = await produceFinishedRun();
  qas = jsonl<QaRecord>(run.result.qa_path);
  seeds = fs.readdirSync(path.join(run.runDir, 'seeds')).map((f) => JSON.parse(fs.readFileSync(path.join(run.runDir, 'seeds', f), 'utf8')) as SeedResultFile);
  stats = JSON.parse(fs.readFileSync(run.result.statistics_path, 'utf8'));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-artefacts-e2e-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
});
after(async () => {
  await browser?.close();
});

describe('qasynth export on a real run', () => {
  test('sft: one valid OpenAI chat record per QA, in QA-file order, tool calls and observations from the trajectories', async () => {
    const r = await runCli(['export', run.runDir, '--format', 'sft', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    const recs = jsonl<SftRecord>(result.file);
    assert.ok(qas.length >= 3);
    assert.equal(recs.length, qas.length);
    const trajectories = new Map(jsonl<TrajectoryRecord>(run.result.trajectories_path).map((t) => [t.trajectory_id, t]));
    recs.forEach((rec, i) => {
      assert.deepEqual(validateSftRecord(rec), [], `record ${i}`);
      const qa = qas[i]!;
      assert.equal((rec.messages[1] as { content: string }).content, qa.question);
      assert.equal((rec.messages.at(-1) as { content: string }).content, qa.answer);
      const steps = trajectories.get(qa.trajectory_id)!.nodes.filter((n) => n.action);
      const calls = rec.messages.filter((m) => m.role === 'assistant' && 'tool_calls' in m && m.tool_calls);
      const results = rec.messages.filter((m) => m.role === 'tool') as { content: string }[];
      assert.equal(calls.length, steps.length);
      steps.forEach((s, j) => {
        const call = (calls[j] as { tool_calls: { function: { name: string; arguments: string } }[] }).tool_calls[0]!;
        assert.equal(call.function.name, s.action!.tool_name);
        assert.deepEqual(JSON.parse(call.function.arguments), s.action!.parameters);
        assert.equal(results[j]!.content, s.observation);
      });
      assert.deepEqual(rec.tools.map((t) => t.function.name), ['calculator']);
    });
    const info = JSON.parse(fs.readFileSync(result.dataset_info_file, 'utf8'));
    assert.equal(info.records, qas.length);
    assert.equal(info.run_id, run.runId);
  });

  test('parquet (by run id and --output-dir): an independent reader gives back exactly the SFT JSONL', async () => {
    const sftFile = path.join(tmp, 'run.sft.jsonl');
    const pqFile = path.join(tmp, 'run.parquet');
    assert.equal((await runCli(['export', run.runDir, '--format', 'sft', '--out', sftFile])).code, 0);
    const r = await runCli(['export', run.runId, '--output-dir', run.outputDir, '--format', 'parquet', '--out', pqFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pqFile);
    const rows = readParquetRows(pqFile);
    const recs = jsonl<SftRecord>(sftFile);
    assert.equal(rows.length, recs.length);
    rows.forEach((row, i) => {
      assert.deepEqual(JSON.parse(row.messages as string), recs[i]!.messages);
      assert.deepEqual(JSON.parse(row.tools as string), recs[i]!.tools);
      assert.equal(row.qa_id, qas[i]!.qa_id);
      assert.equal(row.question, qas[i]!.question);
      assert.equal(row.answer, qas[i]!.answer);
      assert.equal(row.label, 'kept');
      assert.equal(row.rejection_reason, null);
    });
    assert.ok(fs.existsSync(path.join(tmp, 'run.README.md')));
  });

  test('sharegpt: one conversation per QA ending with the answer', async () => {
    const out = path.join(tmp, 'run.sharegpt.jsonl');
    const r = await runCli(['export', run.runDir, '--format', 'sharegpt', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const recs = jsonl<{ id: string; conversations: { from: string; value: string }[] }>(out);
    assert.deepEqual(recs.map((x) => x.id), qas.map((q) => q.qa_id));
    recs.forEach((x, i) => assert.deepEqual(x.conversations.at(-1), { from: 'gpt', value: qas[i]!.answer }));
  });

  test('bad arguments exit 2 naming what was wrong', async () => {
    const fmt = await runCli(['export', run.runDir, '--format', 'csv']);
    assert.equal(fmt.code, 2);
    assert.match(fmt.stderr, /--format: expected one of sft, sharegpt, parquet, got "csv"/);
    const missing = await runCli(['report', path.join(tmp, 'no-such-run')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is neither a run folder/);
  });
});

describe('qasynth show on a real run', () => {
  test('the run, one QA with its trajectory, one seed with its tree', async () => {
    const all = await runCli(['show', run.runDir]);
    assert.equal(all.code, 0, all.stderr);
    for (const s of seeds) assert.ok(all.stdout.includes(s.source_id), s.source_id);
    const qa = qas[0]!;
    const one = await runCli(['show', run.runDir, qa.qa_id]);
    assert.equal(one.code, 0, one.stderr);
    assert.ok(one.stdout.includes(`question  ${qa.question}`));
    assert.ok(one.stdout.includes(`answer    ${qa.answer}`));
    for (const st of qa.evidence!.steps) assert.ok(one.stdout.includes(`${st.node_id}  ${st.tool_name}`), st.node_id);
    const seed = seeds[0]!;
    const s = await runCli(['show', run.runDir, seed.source_id]);
    assert.equal(s.code, 0, s.stderr);
    for (const n of seed.tree!) assert.ok(s.stdout.includes(`${n.node_id} ${n.tool_name || 'root'} [${n.outcome}]`), n.node_id);
  });
});

async function openReport(args: string[], shot: string): Promise<{ page: Page; requests: string[] }> {
  const r = await runCli(['report', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const file = r.stdout.trim();
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true });
  assert.deepEqual(dialogs, []);
  return { page, requests };
}

describe('qasynth report in headless Chromium', () => {
  test('real run: a drawn tree per seed (nodes by outcome, selected path), tokens, the run\'s funnel, filter, no XSS, no network', async () => {
    const { page, requests } = await openReport([run.runDir, '--out', path.join(tmp, 'report.html')], 'report-real-run.png');
    assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), [], 'the page loads nothing from the network');
    for (const s of seeds) {
      const box = page.locator(`.seed[data-source-id="${s.source_id}"]`);
      assert.equal(await box.locator('svg.tree .node').count(), s.tree!.length, `${s.source_id}: one node element per tree node`);
      for (const outcome of ['ok', 'error', 'refused']) {
        assert.equal(await box.locator(`svg.tree .node.${outcome}`).count(), s.tree!.filter((n) => n.outcome === outcome).length, `${s.source_id} ${outcome}`);
      }
      const selected = new Set(s.trajectories.flatMap((t) => t.nodes.map((n) => n.node_id)));
      selected.add('d0_t0_b0');
      const drawnSelected = await box.locator('svg.tree .node.selected').evaluateAll((els) => els.map((el) => el.getAttribute('data-node-id')));
      assert.deepEqual(new Set(drawnSelected), selected);
      assert.ok(selected.size < s.tree!.length, 'some nodes are not on the selected path');
    }
    assert.equal(await page.locator('#input-tokens').innerText(), stats.llm.input_tokens.toLocaleString('en-US'));
    assert.equal(await page.locator('#llm-calls').innerText(), stats.llm.calls.toLocaleString('en-US'));
    // The run's own yield funnel, number for number as in its statistics file.
    assert.ok(stats.funnel, 'the run wrote a funnel');
    for (const stage of ['seeds', 'nodes', 'paths', 'qa_written', 'qa_grounded', 'qa_verified', 'qa_kept'] as const) {
      assert.equal(await page.locator(`#funnel tr[data-stage="${stage}"] .funnel-value`).innerText(), String(stats.funnel![stage]), stage);
    }
    // XSS: the hostile seed is shown as text; its script did not run and its <img> was not created.
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('img').count(), 0);
    const hostile = seeds.find((s) => s.seed_data === RUN_SEEDS[1])!;
    assert.ok((await page.locator(`.seed[data-source-id="${hostile.source_id}"] h3`).innerText()).includes('<script>window.__xss = 1</script>'));
    // Filter: every QA shown, then only the matching ones.
    assert.equal(await page.locator('.qa:visible').count(), qas.length);
    await page.locator('#filter').fill(qas[1]!.qa_id);
    assert.equal(await page.locator('.qa:visible').count(), 1);
    assert.equal(await page.locator('.qa:visible').getAttribute('data-qa-id'), qas[1]!.qa_id);
    assert.equal(await page.locator('#qa-count').innerText(), `1 of ${qas.length} QA shown`);
    await page.locator('#filter').fill(hostile.source_id);
    assert.equal(await page.locator('.qa:visible').count(), qas.filter((q) => q.source_id === hostile.source_id).length);
    await page.locator('#filter').fill('no such words anywhere');
    assert.equal(await page.locator('.qa:visible').count(), 0);
    await page.locator('#filter').fill('');
    await page.locator('.qa').first().locator('summary').click();
    assert.ok((await page.locator('.qa').first().locator('table.steps').innerText()).includes(qas[0]!.evidence!.steps[0]!.tool_name));
    await page.close();
  });

  test('hand-made run: funnel numbers equal the statistics file; failed seed and old result file drawn as such; errors grouped', async () => {
    const dir = writeRunFixture(path.join(tmp, 'fixture'));
    const { page } = await openReport([dir], 'report-edge-cases.png');
    for (const [stage, value] of Object.entries(FIXTURE_FUNNEL)) {
      if (stage === 'losses') continue;
      assert.equal(await page.locator(`#funnel tr[data-stage="${stage}"] .funnel-value`).innerText(), String(value), stage);
    }
    assert.equal(await page.locator('#funnel tr.loss').count(), FIXTURE_FUNNEL.losses.length);
    const tree = page.locator('.seed[data-source-id="src_tree"]');
    assert.equal(await tree.locator('svg.tree .node').count(), 7);
    assert.equal(await tree.locator('svg.tree .node.error').count(), 1);
    assert.equal(await tree.locator('svg.tree .node.refused').count(), 1);
    assert.equal(await tree.locator('svg.tree .node.selected').count(), 3);
    assert.equal(await tree.locator('svg.tree .edge.selected').count(), 2);
    const failed = page.locator('.seed[data-source-id="src_failed"]');
    assert.equal(await failed.locator('svg').count(), 0);
    assert.match(await failed.innerText(), /No tree recorded \(the seed failed\)/);
    assert.match(await page.locator('.seed[data-source-id="src_old"] .tree-note').innerText(), /Partial tree: only the selected paths/);
    assert.equal(await page.locator('.seed[data-source-id="src_old"] svg.tree .node').count(), 3);
    assert.match(await page.locator('.seed[data-source-id="src_missing"]').innerText(), /no result/);
    assert.match(await page.locator('#error-groups').innerText(), /LlmAuth\s+1/);
    assert.match(await page.locator('#qa-dropped').innerText(), /dedup: near_duplicate\s+1/);
    assert.equal(await page.locator('.qa.rejected').count(), 2);
    assert.equal(await page.locator('script').count(), 1);
    await page.close();
  });
});
