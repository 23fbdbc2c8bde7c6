/** Limits named before anything is paid (src/domain/limits.ts), on configs whose figures are computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absurdRun, limitIssues, localLlmEventsPerCall, seedHistoryEstimate, TEMPORAL_LIMITS } from '../../src/domain/limits';
import { expectedTreeSize } from '../../src/domain/tree';
import { CONFIG_DEFAULTS } from '../../src/config/defaults';
import { parseBatchInput } from '../../src/config/schema';

const config = (over: Partial<typeof CONFIG_DEFAULTS>) => ({ ...CONFIG_DEFAULTS, environment_mode: 'math' as const, ...over });

test('expectedTreeSize in closed form: exact for real trees, saturating for absurd ones, fast for deep ones', () => {
  assert.deepEqual(expectedTreeSize(10, 2, 2), { nodes: 38, leaves: 4 });
  assert.deepEqual(expectedTreeSize(1_000_000, 2, 3), { nodes: 2 + 4 + 8 + (1_000_000 - 3) * 8, leaves: 8 });
  assert.deepEqual(expectedTreeSize(1e9, 1, 1e9), { nodes: 1e9, leaves: 1 });
  assert.deepEqual(expectedTreeSize(5, 1000, 5000), { nodes: 1000 + 1e6 + 1e9 + 1e12 + 1e15, leaves: 1e15 });
  assert.equal(expectedTreeSize(400, 10, 400).nodes, Infinity, '10^400 overflows to Infinity, not NaN');
});

test('history events: per node 3 attempts × (activity + workflow task) + a local tool marker; the QA calls', () => {
  const e = seedHistoryEstimate(config({ max_depth: 10, branching_factor: 2, depth_threshold: 2, max_retries: 3, min_depth: 2, max_selected_traj: 3 }));
  assert.equal(e.nodes, 38);
  assert.equal(e.qa_paths, 3);
  assert.equal(e.worst_events, 38 * (3 * 6 + 1) + 3 * 3 * 6 + 20);
  const web = seedHistoryEstimate(config({ environment_mode: 'web', max_depth: 10, branching_factor: 2, depth_threshold: 2 }));
  assert.equal(web.worst_events, 38 * (3 * 6 + 6) + 3 * 3 * 6 + 20, 'network tools are activities: 6 events each');
});

test('local LLM calls (local_llm): a marker plus a workflow task per 8 s the call may last, and a backoff timer', () => {
  assert.equal(localLlmEventsPerCall(300), 1 + 3 * 38 + 5);
  assert.equal(localLlmEventsPerCall(8), 1 + 3 + 5);
  const tree = { max_depth: 10, branching_factor: 2, depth_threshold: 2, max_retries: 3, min_depth: 2, max_selected_traj: 3 };
  const e = seedHistoryEstimate(config({ ...tree, local_llm: true, llm_timeout_seconds: 60 }));
  assert.equal(e.local_llm, true);
  assert.equal(e.worst_events, 38 * (3 * localLlmEventsPerCall(60) + 1) + 3 * 3 * localLlmEventsPerCall(60) + 20);
  // Without the call cache the calls stay activities (src/domain/routing.ts): counted as such.
  const uncached = seedHistoryEstimate(config({ ...tree, local_llm: true, cache: { enabled: false, path: null } }));
  assert.equal(uncached.local_llm, false);
  assert.equal(uncached.worst_events, 38 * (3 * 6 + 1) + 3 * 3 * 6 + 20);
  // A tree that fits as activities but not with 300 s local calls is refused, naming local_llm as a fix.
  const big = { max_depth: 12, branching_factor: 3, depth_threshold: 3 };
  assert.deepEqual(limitIssues(config(big)), []);
  const refused = limitIssues(config({ ...big, local_llm: true }));
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.message, /set local_llm: false or a lower llm_timeout_seconds/);
});

test('the defaults and the original’s larger configs fit; the limits are named with the fix', () => {
  assert.deepEqual(limitIssues(config({})), []);
  assert.deepEqual(limitIssues(config({ environment_mode: 'web', max_depth: 10, branching_factor: 3, depth_threshold: 3 })), []);
  const deep = limitIssues(config({ max_depth: 1_000_000 }));
  assert.equal(deep.length, 1);
  assert.match(deep[0]!.message, /history limit of 51,200 events \(limit\.historyCount\.error\)/);
  assert.match(deep[0]!.message, /lower max_depth/);
  const workers = limitIssues(config({ max_workers: TEMPORAL_LIMITS.pendingChildren + 1 }));
  assert.deepEqual(workers.map((i) => i.path), [['max_workers']]);
  assert.match(workers[0]!.message, /limit\.numPendingChildExecutions\.error/);
  // A long chain (b = 1) grows its history through the history steps each call carries.
  const chain = limitIssues(config({ environment_mode: 'web', max_depth: 400, branching_factor: 1, depth_threshold: 1 }));
  assert.match(chain[0]!.message, /history limit of 50 MB \(limit\.historySize\.error\)/);
});

test('absurd runs: more than 1,000 nodes per seed, or more than 100 million calls; --force lets them through', () => {
  assert.equal(absurdRun(config({}), 1000), null);
  assert.match(absurdRun(config({ max_depth: 9, branching_factor: 2, depth_threshold: 9 }), 1)!, /1,022 nodes/);
  // 30 nodes + 3 QA = 33 calls per seed: 3.1 million seeds is over 100 million calls.
  assert.match(absurdRun(config({}), 3_100_000)!, /102,300,000 LLM calls/);
  const input = (force?: boolean) => ({
    run_id: 'r',
    config: { environment_mode: 'math', max_depth: 9, branching_factor: 2, depth_threshold: 9 },
    seeds: ['a'],
    output_dir: '/tmp/o',
    ...(force ? { force } : {}),
  });
  const refused = parseBatchInput(input());
  assert.ok(!refused.ok && refused.issues.some((i) => i.startsWith('config: each seed\'s tree would have 1,022 nodes')));
  assert.ok(parseBatchInput(input(true)).ok);
});
