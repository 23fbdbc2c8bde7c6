/** The CLI's input preparation (src/cli/inputs.ts): stream-validated seeds, inline when small, by reference when not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_INLINE_INPUT_BYTES, prepareInput, UsageError } from '../../src/cli/inputs';
import { parseBatchInput } from '../../src/config/schema';
import { runFingerprint } from '../../src/activities/outputs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-inputs-'));
function file(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}
const config = file('config.json', { environment_mode: 'math', model_name: 'sim', max_depth: 2, min_depth: 1 });

async function usageLines(p: Promise<unknown>): Promise<string[]> {
  const e = await p.then(() => null, (x: unknown) => x);
  assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
  return e.issues;
}

test('small seeds go inline as the raw list (the workflow re-validates them); the run id is the same by reference', async () => {
  const raw = ['prime numbers', { text: 'golden ratio', metadata: { level: 2 } }, 'prime numbers'];
  const seeds = file('small.json', raw);
  const inline = await prepareInput({ config, seeds });
  assert.equal(inline.by_reference, false);
  assert.deepEqual(inline.input.seeds, raw);
  assert.equal(inline.input.seeds_file, undefined);
  assert.deepEqual([inline.seeds_total, inline.duplicates_dropped, inline.duplicated_seeds], [2, 1, 1]);
  const parsed = parseBatchInput(inline.input);
  assert.ok(parsed.ok);
  assert.equal(inline.input.run_id, `run-${runFingerprint(parsed.config, parsed.seeds).slice(0, 12)}`, 'the run id of the seeds as today');

  const byRef = await prepareInput({ config, seeds, seedsByReference: true });
  assert.equal(byRef.by_reference, true);
  assert.equal(byRef.input.seeds, undefined);
  assert.equal(byRef.input.seeds_file, seeds);
  assert.equal(byRef.input.run_id, inline.input.run_id, 'same seeds, same run id, inline or by reference');
  assert.ok(parseBatchInput(byRef.input).ok);
});

test(`seeds whose input would exceed ${MAX_INLINE_INPUT_BYTES} bytes go by reference, as an absolute path; number_of_seed counts`, async () => {
  const raw = Array.from({ length: 3000 }, (_, i) => `seed ${i} ${'x'.repeat(200)}`);
  const rel = path.relative(process.cwd(), file('big.jsonl', raw.map((s) => JSON.stringify(s)).join('\n')));
  const big = await prepareInput({ config, seeds: rel });
  assert.equal(big.by_reference, true);
  assert.equal(big.input.seeds_file, path.resolve(rel));
  assert.equal(big.seeds_total, 3000);
  assert.ok(Buffer.byteLength(JSON.stringify(big.input)) < 2000);
  const cut = await prepareInput({ config, seeds: rel, numberOfSeed: 100 });
  assert.equal(cut.by_reference, false, 'the first 100 seeds fit inline');
  assert.equal((cut.input.seeds ?? []).length, 100);
  assert.equal(cut.seeds_total, 100);
});

test('bad input: file problems, flags and config, then seeds one by one; a missing seeds file does not hide the config', async () => {
  const badConfig = file('bad-config.json', { environment_mode: 'math', max_depth: -3 });
  const seeds = file('bad.jsonl', '"ok"\n{"text": \n42\n');
  assert.deepEqual(await usageLines(prepareInput({ config: badConfig, seeds, runId: 'my run!' })), [
    `${seeds}:2:9: invalid JSON (Unexpected end of JSON input)`,
    '--run-id: expected 1–80 characters from A–Z a–z 0–9 . _ -, got "my run!"',
    'config.max_depth: expected an integer ≥ 1, got -3',
    'seeds[2]: expected a non-empty string or {text, id?, metadata?}, got number 42',
  ]);
  const missing = path.join(dir, 'nope.json');
  assert.deepEqual(await usageLines(prepareInput({ config: badConfig, seeds: missing })), [`${missing}: seed file not found`, 'config.max_depth: expected an integer ≥ 1, got -3']);
});
