/** The run summary names QA that were written but not kept (a paid answer is never dropped silently). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printResult } from '../../src/cli/run';
import type { BatchResult } from '../../src/shared/types';

function capture(fn: () => void): string {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

const RESULT: BatchResult = {
  run_id: 'r1',
  status: 'complete',
  seeds_total: 5,
  duplicates_dropped: 0,
  seeds_succeeded: 5,
  seeds_failed: 0,
  seeds_missing: 0,
  qa_count: 7,
  trajectory_count: 10,
  qa_path: '/out/r1/synthesized_qa_web_1.jsonl',
  trajectories_path: '/out/r1/trajectories_web_1.jsonl',
  statistics_path: '/out/r1/statistics_web_1.json',
} as BatchResult;

test('the summary lists the rejected-QA file with its count when QA were not kept, and no such line otherwise', () => {
  const withRejected = capture(() => printResult({ ...RESULT, rejected_qa_count: 3, rejected_qa_path: '/out/r1/rejected_qa_web_1.jsonl' }));
  assert.match(withRejected, /^ {2}not kept {6}3 {2}\/out\/r1\/rejected_qa_web_1\.jsonl {2}\(grounding, verification or dedup; the reasons are in the funnel\)$/m);
  const none = capture(() => printResult({ ...RESULT, rejected_qa_count: 0, rejected_qa_path: '/out/r1/rejected_qa_web_1.jsonl' }));
  assert.doesNotMatch(none, /not kept/);
  assert.match(none, /^ {2}QA pairs {6}7 /m);
});
