/** Streaming seed files (src/config/seeds-stream.ts): same seeds, ids and problems as loadSeedsFile + normalizeSeeds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadSeedsFile } from '../../src/config/load';
import {
  MAX_DOCUMENT_BYTES,
  MAX_REPORTED_ISSUES,
  MAX_SEED_JSON_BYTES,
  readSeedsFile,
  SeedKeyTable,
  seedKey,
  seedListFingerprint,
  type ReadSeedsOptions,
} from '../../src/config/seeds-stream';
import { normalizeSeeds, sourceIdFor } from '../../src/domain/ids';
import type { Seed } from '../../src/shared/types';
import { parseBatchInput, parseConfig } from '../../src/config/schema';
import { RunFingerprint, runFingerprint } from '../../src/activities/outputs';

const ROOT = path.resolve(__dirname, '../..');

function tmp(name: string, content: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-seeds-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function read(file: string, opts: Partial<ReadSeedsOptions> = {}) {
  const seeds: Seed[] = [];
  const r = await readSeedsFile(file, { numberOfSeed: null, onSeed: (s, pos) => {
    assert.equal(pos, seeds.length);
    seeds.push(s);
  }, ...opts });
  return { ...r, seeds };
}

/** What today's whole-file path makes of a file: seeds and duplicates, or its problems. */
function reference(file: string, n: number | null = null) {
  const norm = normalizeSeeds(loadSeedsFile(file), n);
  return norm.ok ? { ok: true, seeds: norm.seeds, duplicates: norm.duplicates, issues: [] as string[] } : { ok: false, seeds: [], duplicates: [], issues: norm.issues };
}

test('every format gives the seeds, ids, duplicates and seed problems of loadSeedsFile + normalizeSeeds', async () => {
  const cases: [string, string | Buffer][] = [
    ['a.json', JSON.stringify(['alpha', 'beta', 'alpha', { text: 'gamma', id: 'g:1', metadata: { k: 1 } }, { text: 'beta' }, 'alpha'])],
    ['b.json', '[\n  "pretty",\n  {"text": "printed"}\r\n]\r\n'],
    ['c.jsonl', '"one"\n\n{"text": "two", "metadata": {"x": [1, 2]}}\r\n"one"\n   \n"three"'],
    ['d.json', '"jsonl"\n"in a .json file"\n"jsonl"\n'],
    ['e.json', '{"entities": ["Avro 730", "Paris", "Avro 730"]}'],
    ['f.json', '{\n  "entities": [\n    "pretty entities"\n  ]\n}\n'],
    ['g.json', '"a single string"'],
    ['h.json', '\ufeff["bom", "b\\u00f6m", "\\ud83d\\ude00 emoji", "lone \\ud800 surrogate"]'],
    ['i.ndjson', '\ufeff{"text": "bom jsonl"}\n'],
    ['j.json', '["ok", 42, {"text": ""}, {"text": "x", "colour": "red", "id": "bad id!"}, null, ["a"], {"text": "  "}]'],
    ['k.json', JSON.stringify([{ text: 'a', id: 'k' }, { text: 'b', id: 'k' }, { text: 'a', id: 'k' }, 'plain', { text: 'other', id: sourceIdFor('plain') }])],
    ['l.json', JSON.stringify([{ text: 'explicit', id: sourceIdFor('content') }, 'content'])],
    ['m.json', JSON.stringify(['z'.repeat(20_001), { text: 'y'.repeat(20_000) }])],
    ['n.json', '[]'],
    ['o.json', '{"entities": []}'],
    ['p.yaml', '- yaml one\n- text: yaml two\n  id: y2\n- yaml one\n'],
    ['q.yml', 'entities:\n  - yml entity\n'],
  ];
  for (const [name, content] of cases) {
    const file = tmp(name, content);
    const got = await read(file);
    const want = name.endsWith('.yaml') || name.endsWith('.yml') ? yamlReference(file) : reference(file);
    assert.equal(got.ok, want.ok, `${name}: ${got.issues.join('; ')}`);
    assert.deepEqual(got.issues, want.issues, name);
    if (want.ok) {
      assert.deepEqual(got.seeds, want.seeds, name);
      assert.deepEqual(got.duplicates, want.duplicates, name);
      assert.equal(got.duplicates_dropped, want.duplicates.reduce((n, d) => n + d.count, 0), name);
      assert.equal(got.seeds_total, want.seeds.length, name);
      assert.equal(got.fingerprint_seeds, seedListFingerprint(want.seeds.map((s) => s.source_id)), name);
    }
    assert.equal(got.bytes, fs.statSync(file).size, name);
    assert.equal(got.sha256, createHash('sha256').update(fs.readFileSync(file)).digest('hex'), name);
  }
});

/** loadSeedsFile reads no YAML; the reference for a YAML file is the same list given inline. */
function yamlReference(file: string) {
  const yaml = require('yaml') as typeof import('yaml');
  const v = yaml.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const raw = Array.isArray(v) ? v : (v as { entities: unknown[] }).entities;
  const norm = normalizeSeeds(raw, null);
  assert.ok(norm.ok);
  return { ok: true, seeds: norm.seeds, duplicates: norm.duplicates, issues: [] as string[] };
}

test('number_of_seed keeps the first N seeds of the file (duplicates and bad seeds count), still hashing the whole file', async () => {
  const file = tmp('s.json', JSON.stringify(['a', 'b', 'a', 'c', 'd', 42]) + '\n');
  for (const n of [1, 3, 4, 5]) {
    const got = await read(file, { numberOfSeed: n });
    const want = reference(file, n);
    assert.deepEqual(got.seeds, want.seeds, `n=${n}`);
    assert.equal(got.seeds_read, n);
    assert.equal(got.sha256, createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  }
  // stopAtCut (the CLI) reads no further than the chunk holding the last seed kept.
  const big = tmp('big.jsonl', Array.from({ length: 60_000 }, (_, i) => JSON.stringify(`seed ${i} ${'y'.repeat(30)}`)).join('\n'));
  const whole = await read(big, { numberOfSeed: 5 });
  assert.equal(whole.bytes, fs.statSync(big).size);
  const early = await read(big, { numberOfSeed: 5, stopAtCut: true });
  assert.deepEqual(early.seeds, whole.seeds);
  assert.ok(early.bytes < whole.bytes && early.bytes <= 1024 * 1024, `${early.bytes} bytes read`);
  // What follows the cut is not read: a syntax error after it does not count.
  const broken = tmp('t.jsonl', '"a"\n"b"\n{oops\n');
  assert.equal((await read(broken, { numberOfSeed: 2 })).ok, true);
  assert.equal((await read(broken)).ok, false);
});

test('syntax errors name file:line:col as JSON.parse would; JSONL keeps reading and lists bad lines with bad seeds', async () => {
  const arr = tmp('p.json', '[\n  "a",\n  "b",,\n  "c"\n]');
  assert.deepEqual((await read(arr)).issues, [`${arr}:3:7: invalid JSON (Unexpected token ',')`]);
  const open = tmp('o.json', '[\n  "a",\n  "b"\n');
  assert.deepEqual((await read(open)).issues, [`${open}:3:6: invalid JSON (Unexpected end of JSON input)`]);
  const after = tmp('x.json', '["a"]\n["b"]\n');
  assert.deepEqual((await read(after)).issues, [`${after}:2:1: invalid JSON (Unexpected non-whitespace character after JSON)`]);
  const ctrl = tmp('c.json', '["a\tb"]');
  assert.deepEqual((await read(ctrl)).issues, [`${ctrl}:1:4: invalid JSON (Bad control character in string literal in JSON)`]);
  // A pretty-printed document that is not an array is parsed whole, with JSON.parse's position.
  const doc = tmp('d.json', '{\n  "entities": ["a",,\n  "b"]\n}');
  assert.match((await read(doc)).issues[0]!, /d\.json:2:\d+: invalid JSON/);

  const lines = tmp('m.jsonl', '"a"\n{"text": \n"b"\n42\n42x\n"a"\n');
  const r = await read(lines);
  assert.equal(r.ok, false);
  assert.deepEqual(r.issues.map((i) => i.replace(/ \(.*\)$/, '')), [
    `${lines}:2:9: invalid JSON`,
    'seeds[3]: expected a non-empty string or {text, id?, metadata?}, got number 42',
    `${lines}:5:3: invalid JSON`,
  ]);
  assert.equal(r.problems, 3);
});

test('at most MAX_REPORTED_ISSUES problems are listed, then one line counts the rest', async () => {
  const file = tmp('many.jsonl', Array.from({ length: MAX_REPORTED_ISSUES + 17 }, (_, i) => (i % 2 ? 'x' : String(i))).join('\n'));
  const r = await read(file);
  assert.equal(r.problems, MAX_REPORTED_ISSUES + 17);
  assert.equal(r.issues.length, MAX_REPORTED_ISSUES + 1);
  assert.equal(r.issues.at(-1), `${file}: 17 more problems not listed; fix the ones above and validate again`);
});

test('file problems: missing, directory, empty, UTF-16, bad UTF-8 (also across a read chunk), too big for one document', async () => {
  assert.deepEqual((await read('/nonexistent/seeds.json')).issues, ['/nonexistent/seeds.json: seed file not found']);
  assert.deepEqual((await read(os.tmpdir())).issues, [`${os.tmpdir()}: expected a seed file, got a directory`]);
  for (const [name, content] of [['e.json', '  \n\n'], ['e.jsonl', '\n\n'], ['e2.json', '']] as const) {
    const f = tmp(name, content);
    assert.deepEqual((await read(f)).issues, [`${f}: expected seeds, got an empty file`], name);
  }
  const u16 = tmp('u.json', Buffer.from('\ufeff["a"]', 'utf16le'));
  assert.deepEqual((await read(u16)).issues, [`${u16}: expected UTF-8 text, got UTF-16 text (byte order mark FF FE); re-save the file as UTF-8`]);
  const latin = tmp('l.json', Buffer.from('["ok",\n "caf\xe9"]', 'latin1'));
  const want = `${latin}: expected UTF-8 text, got a byte that is not valid UTF-8 (0xE9 at byte offset 12, line 2); re-save the file as UTF-8`;
  assert.deepEqual((await read(latin)).issues, [want]);
  const latinLines = tmp('l.jsonl', Buffer.from('"ok"\n"caf\xe9"\n', 'latin1'));
  assert.match((await read(latinLines)).issues[0]!, /0xE9 at byte offset 9, line 2\)/);
  // A 3-byte character split by the 1 MiB read chunk is fine; a broken one after it is found at its offset.
  const pad = 1024 * 1024 - 3;
  const split = Buffer.concat([Buffer.from('["'), Buffer.from('a'.repeat(pad - 2)), Buffer.from('€'), Buffer.from('", "'), Buffer.from([0xe2, 0x82]), Buffer.from('"]')]);
  const big = tmp('split.json', split);
  const r = await read(big);
  assert.equal(r.issues.length, 1);
  assert.match(r.issues[0]!, new RegExp(`0xE2 at byte offset ${pad + 3 + 4}, line 1\\)`));
  // Read whole: a YAML file or a JSON document above the limit is refused with the fix (sparse files: no disk used).
  for (const name of ['huge.yaml', 'huge.json']) {
    const f = tmp(name, name.endsWith('.json') ? '{"entities": [' : '- a\n');
    fs.truncateSync(f, MAX_DOCUMENT_BYTES + 1);
    const issues = (await read(f)).issues;
    assert.equal(issues.length, 1, name);
    assert.match(issues[0]!, /expected at most 64 MiB for a seeds file in .* which is read whole, got 64\.0 MiB; convert it to JSONL/, name);
  }
});

test('a seed of more than MAX_SEED_JSON_BYTES of JSON is one problem; JSONL goes on after it', async () => {
  const meta = { blob: 'x'.repeat(MAX_SEED_JSON_BYTES) };
  const bigLine = JSON.stringify({ text: 'b', metadata: meta });
  const lines = tmp('big.jsonl', `"a"\n${bigLine}\n"c"\n42\n`);
  const r = await read(lines);
  assert.deepEqual(r.issues, [
    `seeds[1]: expected at most 1 MiB of JSON for one seed (a text of at most 20000 characters and its metadata), got ${bigLine.length} bytes (${lines} line 2)`,
    'seeds[3]: expected a non-empty string or {text, id?, metadata?}, got number 42',
  ]);
  const arr = tmp('big.json', JSON.stringify(['a', { text: 'b', metadata: meta }, 'c']));
  assert.deepEqual((await read(arr)).issues, [
    `seeds[1]: expected at most 1 MiB of JSON for one seed (a text of at most 20000 characters and its metadata), got ${bigLine.length} bytes`,
  ]);
  // An element still open after more than 2 MiB stops the reading (its end is not awaited).
  const open = tmp('open.json', `["a", {"text": "b", "metadata": {"blob": "${'z'.repeat(3 * 1024 * 1024)}"}}]`);
  assert.deepEqual((await read(open)).issues, [
    'seeds[1]: expected at most 1 MiB of JSON for one seed (a text of at most 20000 characters and its metadata), got more than 1 MiB',
  ]);
});

test('content ids from node:crypto equal sourceIdFor (noble md5 over hand-encoded UTF-8)', async () => {
  const texts = ['plain', 'é', '日本語', '😀 emoji', 'lone \ud800 high', 'lone \udc00 low', 'x\u2028y', 'a'.repeat(20_000)];
  const file = tmp('ids.json', JSON.stringify(texts));
  const r = await read(file);
  assert.equal(r.ok, true, r.issues.join('; '));
  assert.deepEqual(r.seeds.map((s) => s.source_id), texts.map(sourceIdFor));
});

test('the run fingerprint streamed from a file equals runFingerprint of the same seeds inline (10,000 seeds, JSONL and JSON array)', async () => {
  const parsed = parseConfig({ environment_mode: 'math', max_depth: 3, model_name: 'm' });
  assert.ok(parsed.ok);
  const raw = Array.from({ length: 10_000 }, (_, i) => (i % 7 === 0 ? { text: `topic ${i} "quoted" ü`, ...(i % 14 === 0 ? { id: `id:${i}` } : {}) } : `seed ${i % 9000}`));
  const inline = parseBatchInput({ run_id: 'r', config: { environment_mode: 'math', max_depth: 3, model_name: 'm' }, seeds: raw, output_dir: '/o' });
  assert.ok(inline.ok);
  const want = runFingerprint(parsed.config, inline.seeds);
  for (const file of [tmp('f.jsonl', raw.map((s) => JSON.stringify(s)).join('\n')), tmp('f.json', JSON.stringify(raw, null, 1))]) {
    const f: RunFingerprint = new RunFingerprint(parsed.config);
    const r = await readSeedsFile(file, { numberOfSeed: null, onSeed: (s) => f.add(s.source_id) });
    assert.equal(r.ok, true);
    assert.equal(r.seeds_total, inline.seeds.length);
    assert.equal(f.digest(), want, file);
    assert.equal(r.fingerprint_seeds, seedListFingerprint(inline.seeds.map((s) => s.source_id)));
  }
  // The definition did not move: the id of a known run (test/unit/config.test.ts pins it too).
  const known = parseBatchInput({ run_id: 'x', config: { environment_mode: 'math', max_depth: 3, model_name: 'm', max_workers: 4 }, seeds: ['prime numbers', 'golden ratio'], output_dir: '/tmp/o' });
  assert.ok(known.ok);
  const f = new RunFingerprint(known.config);
  for (const s of known.seeds) f.add(s.source_id);
  assert.equal(f.digest(), '9cb79bb337c4d11d');
});

test('10,000 seeds with duplicates: table growth keeps every id, counts every copy; keys of other-kind ids do not clash', async () => {
  const texts = Array.from({ length: 10_000 }, (_, i) => `seed number ${i}`);
  const withDups = [...texts, ...texts.slice(0, 2500), ...texts.slice(0, 100)];
  const file = tmp('d.jsonl', withDups.map((t) => JSON.stringify(t)).join('\n'));
  const r = await read(file);
  assert.equal(r.ok, true);
  assert.equal(r.seeds_total, 10_000);
  assert.equal(r.duplicates_dropped, 2600);
  assert.equal(r.duplicated_seeds, 2500);
  assert.equal(r.duplicates.length, 20);
  assert.deepEqual(r.duplicates[0], { source_id: sourceIdFor(texts[0]!), text: texts[0], count: 2 });
  assert.deepEqual(r.seeds.map((s) => s.source_id), texts.map(sourceIdFor));

  const table = new SeedKeyTable(4);
  const ids = ['src_0123456789ab', 'SRC_0123456789AB', 'city:paris', 'src_0123456789ac'];
  ids.forEach((id, i) => {
    const [hi, lo] = seedKey(id);
    assert.equal(table.find(hi, lo), -1, id);
    table.insert(hi, lo, i, i);
  });
  ids.forEach((id, i) => assert.equal(table.firstIndex(table.find(...seedKey(id))), i));
  assert.deepEqual(seedKey('src_0123456789ab'), seedKey('src_0123456789ab'));
});

test('the shipped seed files read the same streamed', async () => {
  for (const f of ['configs/seeds/demo.json', 'test/fixtures/original/example_seed_texts.json', 'test/fixtures/original/example_seed_entities.json']) {
    const file = path.join(ROOT, f);
    if (!fs.existsSync(file)) continue;
    const got = await read(file);
    assert.deepEqual(got.seeds, reference(file).seeds, f);
  }
});

test('aborting stops the reading with the signal reason', async () => {
  const file = tmp('a.jsonl', '"a"\n'.repeat(10));
  const ac = new AbortController();
  ac.abort(new Error('cancelled'));
  await assert.rejects(readSeedsFile(file, { numberOfSeed: null, signal: ac.signal }), /cancelled/);
});
