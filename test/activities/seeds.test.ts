/** Seeds by reference: prepareSeeds and readSeedPage over real files, in MockActivityEnvironment. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { runActivity, runActivityIn } from '../helpers/activity';
import { createSeedActivities } from '../../src/activities/seeds';
import { createOutputActivities } from '../../src/activities/outputs';
import { seedListFingerprint } from '../../src/config/seeds-stream';
import { normalizeSeeds } from '../../src/domain/ids';
import { emptySeedCounters } from '../../src/domain/statistics';
import type { Seed, SeedPage, SeedResultFile } from '../../src/shared/types';
import { tempDir } from '../helpers/temporal';

const acts = createSeedActivities();
const out = createOutputActivities();

/** 10,000 seeds: strings, objects with metadata and explicit ids, and 1,000 duplicates. */
const RAW: unknown[] = Array.from({ length: 11_000 }, (_, i) => {
  const k = i % 10_000;
  if (k % 5 === 0) return { text: `Topic ${k}: "quoted" ünïcode`, metadata: { k }, ...(k % 10 === 0 ? { id: `id:${k}` } : {}) };
  return `seed number ${k}`;
});
const EXPECTED = (() => {
  const n = normalizeSeeds(RAW, null);
  assert.ok(n.ok);
  return n.seeds;
})();

function writeSeeds(dir: string, name: string, raw: unknown[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, name.endsWith('.jsonl') ? raw.map((s) => JSON.stringify(s)).join('\n') + '\n' : JSON.stringify(raw, null, 2));
  return file;
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(() => null, (x: unknown) => x);
  assert.ok(e instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(e)}`);
  return e;
}

/** Every page from 0 to the end. */
async function allPages(dir: string, runId: string, maxSeeds: number, maxBytes: number, withFinished = false): Promise<SeedPage[]> {
  const pages: SeedPage[] = [];
  let start = 0;
  for (;;) {
    const page = await runActivity(acts.readSeedPage, { run_id: runId, output_dir: dir, start, max_seeds: maxSeeds, max_bytes: maxBytes, with_finished: withFinished });
    if (page.seeds.length === 0) {
      assert.equal(page.next, start);
      break;
    }
    assert.equal(page.next, start + page.seeds.length);
    pages.push(page);
    start = page.next;
  }
  return pages;
}

describe('seed activities', () => {
  for (const name of ['seeds.jsonl', 'seeds.json']) {
    test(`prepareSeeds + readSeedPage: 10,000 seeds from ${name}, every seed once and in order, pages by count`, async () => {
      const dir = tempDir();
      const file = writeSeeds(dir, name, RAW);
      const r = await runActivity(acts.prepareSeeds, { run_id: 'r', output_dir: dir, seeds_file: file, number_of_seed: null });
      const bytes = fs.readFileSync(file);
      assert.deepEqual(r, {
        seeds_total: 10_000,
        duplicates_dropped: 1000,
        duplicated_seeds: 1000,
        source: { path: file, bytes: bytes.length, sha256: require('node:crypto').createHash('sha256').update(bytes).digest('hex') },
        fingerprint_seeds: seedListFingerprint(EXPECTED.map((s) => s.source_id)),
        reused: false,
      });
      assert.deepEqual(fs.readdirSync(path.join(dir, 'r')).sort(), ['seeds.index', 'seeds.jsonl', 'seeds.prepared.json']);
      const pages = await allPages(dir, 'r', 777, 2_000_000);
      assert.deepEqual(pages.map((p) => p.seeds.length), [...Array(12).fill(777), 10_000 - 12 * 777]);
      assert.deepEqual(pages.flatMap((p) => p.seeds), EXPECTED);
      assert.ok(pages.every((p) => p.finished === null));
      // The end, and past it.
      const end = await runActivity(acts.readSeedPage, { run_id: 'r', output_dir: dir, start: 10_000, max_seeds: 5, max_bytes: 1000, with_finished: true });
      assert.deepEqual(end, { seeds: [], finished: [], next: 10_000 });
      const past = await failure(runActivity(acts.readSeedPage, { run_id: 'r', output_dir: dir, start: 10_001, max_seeds: 5, max_bytes: 1000, with_finished: false }));
      assert.equal(past.type, 'InvalidInput');
      assert.match(past.message, /start: expected at most 10000 \(the run's seeds\), got 10001/);
    });
  }

  test('readSeedPage: pages by bytes stay within max_bytes as JSON, and a seed larger than max_bytes comes alone', async () => {
    const dir = tempDir();
    const raw = ['short', { text: 'with metadata', metadata: { blob: 'm'.repeat(3000) } }, ...Array.from({ length: 500 }, (_, i) => `seed ${i} ${'x'.repeat(i % 50)}`)];
    const file = writeSeeds(dir, 's.jsonl', raw);
    await runActivity(acts.prepareSeeds, { run_id: 'b', output_dir: dir, seeds_file: file, number_of_seed: null });
    for (const withFinished of [false, true]) {
      const pages = await allPages(dir, 'b', 1000, 1500, withFinished);
      const big = pages.find((p) => p.seeds.some((s) => s.metadata));
      assert.equal(big?.seeds.length, 1, 'the 3 KB seed is a page of its own');
      for (const p of pages) {
        if (p.seeds.length > 1) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= 1500, `${Buffer.byteLength(JSON.stringify(p))} bytes`);
      }
      assert.equal(pages.flatMap((p) => p.seeds).length, 502);
      assert.ok(pages.length > 10, `${pages.length} pages`);
    }
  });

  test('readSeedPage with_finished answers as finishedSeeds: final results (succeeded, budget) by summary, others null', async () => {
    const dir = tempDir();
    const file = writeSeeds(dir, 's.jsonl', ['a', 'b', 'c', 'd', 'e']);
    await runActivity(acts.prepareSeeds, { run_id: 'f', output_dir: dir, seeds_file: file, number_of_seed: null });
    const seeds = (await runActivity(acts.readSeedPage, { run_id: 'f', output_dir: dir, start: 0, max_seeds: 10, max_bytes: 100_000, with_finished: false })).seeds;
    const result = (s: Seed, index: number, status: SeedResultFile['status']): SeedResultFile => ({
      run_id: 'f', source_id: s.source_id, index, seed_data: s.text, status, started_at: 'x', finished_at: 'y', qas: [], trajectories: [],
      counters: { ...emptySeedCounters(), llm_calls: 2 },
    });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(seeds[0]!, 0, 'succeeded') });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(seeds[1]!, 1, 'failed') });
    await runActivity(out.writeSeedResult, { output_dir: dir, result: result(seeds[3]!, 3, 'budget_exhausted') });
    const page = await runActivity(acts.readSeedPage, { run_id: 'f', output_dir: dir, start: 0, max_seeds: 10, max_bytes: 100_000, with_finished: true });
    const want = await runActivity(out.finishedSeeds, { run_id: 'f', output_dir: dir, source_ids: seeds.map((s) => s.source_id) });
    assert.deepEqual(page.finished, want);
    assert.deepEqual(page.finished?.map((s) => s?.status ?? null), ['succeeded', null, null, 'budget_exhausted', null]);
  });

  test('bad seeds: non-retryable InvalidInput listing every problem, nothing left in the run folder', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, '"fine"\n{"text": \n42\n{"text": "x", "colour": "red"}\n"fine"\n');
    const e = await failure(runActivity(acts.prepareSeeds, { run_id: 'bad', output_dir: dir, seeds_file: file, number_of_seed: null }));
    assert.equal(e.type, 'InvalidInput');
    assert.equal(e.nonRetryable, true);
    assert.equal(
      e.message,
      `invalid seeds file ${file}:\n` +
        `  ${file}:2:9: invalid JSON (Unexpected end of JSON input)\n` +
        '  seeds[2]: expected a non-empty string or {text, id?, metadata?}, got number 42\n' +
        '  seeds[3].colour: unknown key; valid keys are text, id, metadata',
    );
    assert.deepEqual(fs.readdirSync(path.join(dir, 'bad')), []);
    const missing = await failure(runActivity(acts.prepareSeeds, { run_id: 'm', output_dir: dir, seeds_file: path.join(dir, 'nope.json'), number_of_seed: null }));
    assert.equal(missing.type, 'InvalidInput');
    assert.match(missing.message, /nope\.json: seed file not found/);
    const rel = await failure(runActivity(acts.prepareSeeds, { run_id: 'm', output_dir: dir, seeds_file: 'seeds.json', number_of_seed: null }));
    assert.match(rel.message, /^seeds_file: expected an absolute path, got "seeds\.json"$/);
  });

  test('idempotent: a retry or a new execution reuses the prepared seeds; a changed or missing file is an OutputConflict', async () => {
    const dir = tempDir();
    const file = writeSeeds(dir, 's.jsonl', ['a', 'b', 'a', 'c']);
    const first = await runActivity(acts.prepareSeeds, { run_id: 'i', output_dir: dir, seeds_file: file, number_of_seed: 3 });
    assert.equal(first.seeds_total, 2);
    const jsonl = path.join(dir, 'i', 'seeds.jsonl');
    const mtime = fs.statSync(jsonl).mtimeMs;
    const again = await runActivity(acts.prepareSeeds, { run_id: 'i', output_dir: dir, seeds_file: file, number_of_seed: 3 });
    assert.deepEqual(again, { ...first, reused: true });
    assert.equal(fs.statSync(jsonl).mtimeMs, mtime, 'not rewritten');

    const other = await failure(runActivity(acts.prepareSeeds, { run_id: 'i', output_dir: dir, seeds_file: file, number_of_seed: null }));
    assert.equal(other.type, 'OutputConflict');
    assert.match(other.message, /prepared with number_of_seed 3, got unset \(all seeds\)/);

    fs.appendFileSync(file, '"d"\n');
    const changed = await failure(runActivity(acts.prepareSeeds, { run_id: 'i', output_dir: dir, seeds_file: file, number_of_seed: 3 }));
    assert.equal(changed.type, 'OutputConflict');
    assert.equal(changed.nonRetryable, true);
    assert.match(changed.message, new RegExp(`seeds file ${file} changed since run i was prepared from it \\(sha256 ${first.source.sha256}, ${first.source.bytes} bytes; now [0-9a-f]{64}, ${first.source.bytes + 4} bytes\\).*new run id.*restore the file`));
    fs.rmSync(file);
    const gone = await failure(runActivity(acts.prepareSeeds, { run_id: 'i', output_dir: dir, seeds_file: file, number_of_seed: 3 }));
    assert.equal(gone.type, 'OutputConflict');
    assert.match(gone.message, /is gone; restore the file, or start a new run id/);
    // The run's copy still serves pages.
    const page = await runActivity(acts.readSeedPage, { run_id: 'i', output_dir: dir, start: 0, max_seeds: 10, max_bytes: 10_000, with_finished: false });
    assert.deepEqual(page.seeds.map((s) => s.text), ['a', 'b']);
    const none = await failure(runActivity(acts.readSeedPage, { run_id: 'nope', output_dir: dir, start: 0, max_seeds: 1, max_bytes: 1000, with_finished: false }));
    assert.equal(none.type, 'OutputConflict');
    assert.match(none.message, /run nope has no prepared seeds/);
  });

  test('prepareSeeds heartbeats its progress while it reads', async () => {
    const dir = tempDir();
    const file = writeSeeds(dir, 'h.jsonl', Array.from({ length: 40_000 }, (_, i) => `seed ${i} ${'p'.repeat(40)}`));
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const fast = createSeedActivities({ heartbeatMs: 0 });
    const r = await runActivityIn(env, fast.prepareSeeds, { run_id: 'h', output_dir: dir, seeds_file: file, number_of_seed: null });
    assert.equal(r.seeds_total, 40_000);
    assert.ok(beats.length >= 2, `${beats.length} heartbeats`);
    assert.deepEqual(Object.keys(beats.at(-1) as object), ['phase', 'bytes_read', 'seeds_read']);
  });
});
