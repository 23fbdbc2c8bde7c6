/** The Web UI texts (src/domain/metadata.ts) and the failure a failed seed workflow ends with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, ChildWorkflowFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import {
  argsPreview,
  batchSummary,
  chooseActionSummary,
  qaSummary,
  seedDetails,
  seedWorkflowSummary,
  toolSummary,
  type SeedDetailsState,
} from '../../src/domain/metadata';
import { seedFailure, seedSummaryOfFailure } from '../../src/workflows/synthesize-seed';
import type { SeedSummary } from '../../src/shared/types';
import { expectedNoise, expectedSeedFailure } from '../../src/worker/runtime';

test('seed summary: index 1-based of the total, the seed text on one line and cut at 80 characters', () => {
  assert.equal(seedWorkflowSummary(11, 500, 'prime numbers'), 'seed 12/500 · prime numbers');
  assert.equal(seedWorkflowSummary(0, 0, 'a\n  b'), 'seed 1 · a b');
  const long = seedWorkflowSummary(0, 2, 'x'.repeat(200));
  assert.equal(long, `seed 1/2 · ${'x'.repeat(80)}…`);
});

test('batch summary: run id, mode, seeds, max_workers', () => {
  assert.equal(batchSummary('r1', 'web', 500, 8), 'qasynth r1 · web · 500 seeds · max_workers 8');
  assert.equal(batchSummary('r1', 'math', 1, 1), 'qasynth r1 · math · 1 seed · max_workers 1');
  assert.equal(batchSummary('r1', 'rag', null, 4), 'qasynth r1 · rag · ? seeds · max_workers 4');
});

test('activity summaries: action choice, tool calls with an argument preview, QA synthesis', () => {
  assert.equal(chooseActionSummary(3, 1, 0), 'choose action · depth 3 · branch 1');
  assert.equal(chooseActionSummary(1, 0, 2), 'choose action · depth 1 · branch 0 · attempt 3');
  assert.equal(qaSummary(1, 3, 0), 'synthesize QA · path 2/3');
  assert.equal(qaSummary(0, 1, 1), 'synthesize QA · path 1/1 · attempt 2');
  assert.equal(toolSummary('web_search', { queries: ['Ada Lovelace', 'first program'] }), 'web_search "Ada Lovelace", "first program"');
  assert.equal(toolSummary('calculator', { expressions: ['2+3', 'sqrt(16)'] }), 'calculator 2+3; sqrt(16)');
  assert.equal(toolSummary('web_visit', { urls: ['https://example.org/a'] }), 'web_visit https://example.org/a');
  assert.equal(toolSummary('python_interpreter', { code: '\n\nimport math\nprint(math.pi)' }), 'python_interpreter import math');
  assert.equal(toolSummary('local_search', { query: 'Babbage engine', top_k: 3 }), 'local_search "Babbage engine"');
  assert.equal(toolSummary('other', { a: 1, b: 'x' }), 'other a=1 b=x');
  assert.equal(toolSummary('other', {}), 'other');
  // One line, at most 60 characters of arguments.
  const preview = argsPreview('calculator', { expressions: ['1 +\n'.repeat(100)] });
  assert.equal(preview.length, 61);
  assert.ok(!preview.includes('\n') && preview.endsWith('…'));
});

test('seed details: phase, node x of N, depth, last tool and its arguments, QA so far; the outcome once done', () => {
  const s: SeedDetailsState = {
    phase: 'exploring',
    title: 'seed 2/5 · golden ratio',
    nodes: 7,
    expected_nodes: 10,
    depth: 2,
    max_depth: 3,
    last_tool: { tool_name: 'calculator', parameters: { expressions: ['1.618 * 2'] } },
    qa: 0,
    paths: 0,
  };
  assert.equal(seedDetails(s), '**exploring** · node 7 of 10 · depth 2/3 · last calculator 1.618 * 2 · 0 QA\n\nseed 2/5 · golden ratio');
  assert.equal(
    seedDetails({ ...s, phase: 'writing QA', nodes: 10, paths: 2, path: 2, qa: 1 }),
    '**writing QA** · node 10 of 10 · depth 2/3 · last calculator 1.618 * 2 · path 2/2 · 1 QA\n\nseed 2/5 · golden ratio',
  );
  assert.equal(seedDetails({ ...s, phase: 'done', qa: 2, outcome: '2 QA from 2 paths, 10 nodes' }), '**done** · 2 QA: 2 QA from 2 paths, 10 nodes\n\nseed 2/5 · golden ratio');
  assert.match(seedDetails({ ...s, expected_nodes: Infinity }), /node 7 of \?/);
  assert.equal(seedDetails({ ...s, phase: 'checking' }), '**checking**\n\nseed 2/5 · golden ratio');
});

const failedSummary: SeedSummary = {
  source_id: 'src_0123456789ab',
  status: 'failed',
  cached: false,
  qa_count: 0,
  trajectory_count: 0,
  llm_calls: 0,
  tool_calls: 0,
  input_tokens: 0,
  output_tokens: 0,
  cost_usd: 0,
  error: 'LLM endpoint refused the credentials (HTTP 401)',
  error_type: 'LlmAuth',
};

test('a failed seed ends with a non-retryable failure: its error as message, its error_type as type, the summary as details', () => {
  const f = seedFailure(failedSummary);
  assert.equal(f.message, failedSummary.error);
  assert.equal(f.type, 'LlmAuth');
  assert.equal(f.nonRetryable, true);
  assert.deepEqual(f.details, [failedSummary]);
  const noQa = seedFailure({ ...failedSummary, status: 'no_qa', error: 'no QA: …', error_type: 'no_qa:rejected' });
  assert.equal(noQa.type, 'no_qa:rejected');
});

test('the parent reads the summary from a child failure (as it arrives: ChildWorkflowFailure around it), and nothing from other failures', () => {
  const wrapped = new ChildWorkflowFailure('default', { workflowId: 'w', runId: 'r' }, 'synthesizeSeed', RetryState.NON_RETRYABLE_FAILURE, seedFailure(failedSummary));
  assert.deepEqual(seedSummaryOfFailure(wrapped), failedSummary);
  // A bug, a timeout, a termination: no summary (the parent inspects what became of the seed).
  assert.equal(seedSummaryOfFailure(new ChildWorkflowFailure('default', { workflowId: 'w', runId: 'r' }, 'synthesizeSeed', RetryState.TIMEOUT, new TimeoutFailure('timed out', undefined, TimeoutType.START_TO_CLOSE))), null);
  assert.equal(seedSummaryOfFailure(ApplicationFailure.create({ message: 'bug', type: 'TypeError' })), null);
  assert.equal(seedSummaryOfFailure(ApplicationFailure.create({ message: 'x', details: [{ source_id: 's', status: 'succeeded' }] })), null);
  assert.equal(seedSummaryOfFailure(new Error('plain')), null);
});

test('the worker log skips the failure end of a seed workflow, and nothing else', () => {
  assert.equal(expectedSeedFailure({ message: 'Workflow failed', meta: { workflowType: 'synthesizeSeed' } }), true);
  assert.equal(expectedSeedFailure({ message: 'Workflow failed', meta: { workflowType: 'synthesizeBatch' } }), false);
  assert.equal(expectedSeedFailure({ message: 'Activity failed', meta: { workflowType: 'synthesizeSeed' } }), false);
});

test('the worker log skips the visibility lag of just-registered qasynth search attributes, not other bad attributes', () => {
  const lag = 'code: \'Client specified an invalid argument\', message: "BadSearchAttributes: Namespace ns-1 has no mapping defined for search attribute QasynthMode"';
  assert.equal(expectedNoise({ message: 'Error while completing workflow activation', meta: { error: lag } }), true);
  assert.equal(expectedNoise({ message: 'Error while completing workflow activation', meta: { error: lag.replace('QasynthMode', 'CustomerId') } }), false);
  assert.equal(expectedNoise({ message: 'Error while completing workflow activation', meta: { error: 'code: internal' } }), false);
  assert.equal(expectedNoise({ message: 'No activities registered, not polling for activity tasks' }), true);
});
