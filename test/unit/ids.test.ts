import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  duplicatesDropped,
  legacySourceId,
  normalizeSeeds,
  MAX_SEED_CHARS,
  qaId,
  samplingSeedFor,
  sourceIdFor,
  trajectoryId,
} from '../../src/domain/ids';

const FIXTURES = path.resolve(__dirname, '../fixtures/original');

test('legacySourceId matches the original test vectors', () => {
  assert.equal(legacySourceId(3, 'The Rye House Plot: penny blood'), 'src_0003_44a9acf7');
  assert.equal(legacySourceId(6, 'Avro 730: type of aircraft'), 'src_0006_40f22d30');
  assert.equal(legacySourceId(9, 'médiathèque de Bellevue: '), 'src_0009_9d93071a');
  assert.equal(legacySourceId(1, '圣塔菲研究所'), 'src_0001_fb49c355');
  assert.equal(legacySourceId(3, 'OpenAI'), 'src_0003_0523b132');
});

test('legacySourceId of the fixture seed file entry #1', () => {
  const seeds = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'example_seed_texts.json'), 'utf8')) as string[];
  assert.equal(legacySourceId(1, seeds[0]!), 'src_0001_ddbe98e6');
});

test('legacy ids of the QA fixture records match their seed_data', () => {
  const lines = fs.readFileSync(path.join(FIXTURES, 'synthesized_qa_rag.jsonl'), 'utf8').split('\n').filter(Boolean);
  for (const line of lines) {
    const rec = JSON.parse(line) as { source_id: string; metadata: { seed_data: string } };
    const index = Number(rec.source_id.split('_')[1]);
    assert.equal(legacySourceId(index, rec.metadata.seed_data), rec.source_id);
  }
});

test('sourceIdFor is a content hash: 12 hex digits, same text same id', () => {
  assert.equal(sourceIdFor('OpenAI'), 'src_0523b13262b1');
  assert.match(sourceIdFor('圣塔菲研究所'), /^src_[0-9a-f]{12}$/);
  assert.equal(sourceIdFor('圣塔菲研究所'), 'src_fb49c355' + sourceIdFor('圣塔菲研究所').slice(12));
  assert.notEqual(sourceIdFor('a'), sourceIdFor('a '));
});

test('trajectory and qa ids', () => {
  const t = trajectoryId('src_0003_44a9acf7', 0);
  assert.equal(t, 'src_0003_44a9acf7_traj_0');
  assert.equal(qaId(t, 0), 'src_0003_44a9acf7_traj_0_qa_0');
});

test('samplingSeedFor is deterministic, 31-bit, and differs between siblings', () => {
  const a = samplingSeedFor('src_x', 'd0_t0_b0', 0, 0);
  assert.equal(a, samplingSeedFor('src_x', 'd0_t0_b0', 0, 0));
  const seen = new Set<number>();
  for (let b = 0; b < 4; b++) {
    for (let at = 0; at < 4; at++) {
      const s = samplingSeedFor('src_x', 'd0_t0_b0', b, at);
      assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31, String(s));
      seen.add(s);
    }
  }
  assert.equal(seen.size, 16);
  // parts are not ambiguous when concatenated
  assert.notEqual(samplingSeedFor('a1', 2), samplingSeedFor('a', 12));
});

test('normalizeSeeds: ids are order-independent', () => {
  const a = normalizeSeeds(['x', 'y', 'z'], null);
  const b = normalizeSeeds(['z', 'x', 'y'], null);
  assert.ok(a.ok && b.ok);
  const idOf = (r: typeof a, text: string) => (r.ok ? r.seeds.find((s) => s.text === text)!.source_id : '');
  for (const t of ['x', 'y', 'z']) assert.equal(idOf(a, t), idOf(b, t));
  assert.deepEqual(a.seeds.map((s) => s.text), ['x', 'y', 'z']);
});

test('normalizeSeeds: number_of_seed truncates first, duplicates collapse to the first occurrence', () => {
  const r = normalizeSeeds(['a', 'b', 'a', { text: 'b' }, 'a', 'c', 42], 6);
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.seeds.map((s) => s.text), ['a', 'b', 'c']);
  assert.deepEqual(r.duplicates, [
    { source_id: sourceIdFor('a'), text: 'a', count: 2 },
    { source_id: sourceIdFor('b'), text: 'b', count: 1 },
  ]);
  assert.equal(duplicatesDropped(r.duplicates), 3);
});

test('normalizeSeeds: explicit ids and metadata', () => {
  const r = normalizeSeeds([{ text: 'Paris', id: 'city:paris', metadata: { lang: 'fr' } }, 'Rome'], null);
  assert.ok(r.ok);
  assert.deepEqual(r.seeds[0], { source_id: 'city:paris', text: 'Paris', metadata: { lang: 'fr' } });
  assert.deepEqual(r.seeds[1], { source_id: sourceIdFor('Rome'), text: 'Rome' });
});

test('normalizeSeeds: errors name the seed and say what was expected', () => {
  const r = normalizeSeeds(
    ['ok', '', '   ', 42, { text: 'x', extra: 1 }, { text: 'y', id: 'bad id!' }, { id: 'z' }, { text: 'w', metadata: [] }, null],
    null,
  );
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.deepEqual(r.issues, [
    'seeds[1]: expected a non-empty string, got an empty string',
    'seeds[2]: expected a non-empty string, got a whitespace-only string',
    'seeds[3]: expected a non-empty string or {text, id?, metadata?}, got number 42',
    'seeds[4].extra: unknown key; valid keys are text, id, metadata',
    'seeds[5].id: expected 1–100 characters from A–Z a–z 0–9 . _ : - (it names files and workflows), got "bad id!"',
    'seeds[6].text: expected a non-empty string, got nothing (missing)',
    'seeds[7].metadata: expected an object, got an empty array',
    'seeds[8]: expected a non-empty string or {text, id?, metadata?}, got null',
  ]);
});

test('normalizeSeeds: same explicit id with different text is an error; same text collapses', () => {
  const bad = normalizeSeeds([{ text: 'a', id: 'k' }, { text: 'b', id: 'k' }], null);
  assert.ok(!bad.ok);
  assert.deepEqual(bad.issues, ['seeds[1].id: expected an id no other seed uses, got "k" (seeds[0] has it, with different text)']);
  const good = normalizeSeeds([{ text: 'a', id: 'k' }, { text: 'a', id: 'k' }], null);
  assert.ok(good.ok);
  assert.equal(good.seeds.length, 1);
  assert.equal(good.duplicates[0]!.count, 1);
});

test('normalizeSeeds: every problem of a seed object is reported', () => {
  const r = normalizeSeeds([{ text: 7, id: 'bad id!', metadata: [], colour: 'x' }], null);
  assert.ok(!r.ok);
  assert.deepEqual(r.issues, [
    'seeds[0].colour: unknown key; valid keys are text, id, metadata',
    'seeds[0].text: expected a non-empty string, got 7',
    'seeds[0].id: expected 1–100 characters from A–Z a–z 0–9 . _ : - (it names files and workflows), got "bad id!"',
    'seeds[0].metadata: expected an object, got an empty array',
  ]);
});

test('normalizeSeeds: seeds longer than MAX_SEED_CHARS are rejected without echoing them', () => {
  const huge = 'x'.repeat(5_000_000);
  const t0 = Date.now();
  const r = normalizeSeeds(['ok', huge, { text: 'y'.repeat(MAX_SEED_CHARS + 1) }, 'z'.repeat(MAX_SEED_CHARS)], null);
  assert.ok(Date.now() - t0 < 1000);
  assert.ok(!r.ok);
  assert.deepEqual(r.issues, [
    `seeds[1]: expected a seed of at most ${MAX_SEED_CHARS} characters, got 5000000 characters`,
    `seeds[2].text: expected a seed of at most ${MAX_SEED_CHARS} characters, got ${MAX_SEED_CHARS + 1} characters`,
  ]);
});

test('normalizeSeeds: an empty list is an error', () => {
  const r = normalizeSeeds([], null);
  assert.ok(!r.ok);
  assert.match(r.issues[0]!, /^seeds: expected at least one seed/);
});

test('utf8Bytes equals TextEncoder, including astral characters and lone surrogates', async () => {
  const { utf8Bytes } = await import('../../src/domain/ids');
  const enc = new TextEncoder();
  for (const s of ['', 'abc', 'médiathèque', '圣塔菲研究所', '😀 x', '\ud800', 'a\udc00b', '\ud83d', '\u07ff\u0800\uffff']) {
    assert.deepEqual([...utf8Bytes(s)], [...enc.encode(s)], JSON.stringify(s));
  }
});
