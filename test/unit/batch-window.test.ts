/** The parent's pure bookkeeping (src/domain/batch.ts) and the reading of a dead seed's history (inspect.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continueAsNewEvents, countSeed, emptyBatchCounters, RunningWindow } from '../../src/domain/batch';
import { historyFacts } from '../../src/activities/inspect';
import type { SeedSummary } from '../../src/shared/types';

const summary = (over: Partial<SeedSummary>): SeedSummary => ({
  source_id: 'src_a', status: 'succeeded', cached: false, qa_count: 2, trajectory_count: 2, llm_calls: 10, tool_calls: 8,
  input_tokens: 100, output_tokens: 20, cost_usd: 0.5, ...over,
});

test('countSeed adds a finished seed to the counters by its status; requests are at least the calls', () => {
  const c = emptyBatchCounters();
  countSeed(c, summary({}));
  countSeed(c, summary({ source_id: 'src_b', status: 'no_qa', qa_count: 0, llm_requests: 14 }));
  countSeed(c, summary({ source_id: 'src_c', status: 'failed', qa_count: 0, cached: true }));
  assert.deepEqual(
    { done: c.seeds_done, ok: c.seeds_succeeded, noQa: c.seeds_no_qa, failed: c.seeds_failed, cached: c.seeds_cached, qa: c.qa, calls: c.llm_calls, requests: c.llm_requests },
    { done: 3, ok: 1, noQa: 1, failed: 1, cached: 1, qa: 2, calls: 30, requests: 10 + 14 + 10 },
  );
});

test('RunningWindow: carried across continue-as-new; a repeated report takes nothing; inherited = started by an earlier run', () => {
  const w = new RunningWindow([{ source_id: 'src_old', index: 0, allowance: null, parent_run_id: 'run-1', started_at_ms: 1 }]);
  w.add({ source_id: 'src_new', index: 1, allowance: null, parent_run_id: 'run-2', started_at_ms: 2 });
  assert.equal(w.size, 2);
  assert.deepEqual(w.inherited('run-2').map((r) => r.source_id), ['src_old']);
  assert.ok(w.take('src_old'));
  assert.equal(w.take('src_old'), undefined, 'a second report of the same seed is ignored');
  assert.deepEqual(w.toCarry().map((r) => r.source_id), ['src_new']);
});

test('historyFacts: a seed the server terminated at its history limit is reported with the reason and its LLM calls', () => {
  const ev = (id: number, attrs: Record<string, unknown>) => ({ eventId: id, ...attrs }) as unknown as Parameters<typeof historyFacts>[0] extends Iterable<infer E> ? E : never;
  const events = [
    ev(1, { workflowExecutionStartedEventAttributes: {}, eventTime: { seconds: 1_800_000_000 } }),
    ev(5, { activityTaskScheduledEventAttributes: { activityType: { name: 'chooseAction' } } }),
    ev(6, { activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 3 } }),
    ev(7, { activityTaskCompletedEventAttributes: { scheduledEventId: 5 } }),
    ev(11, { markerRecordedEventAttributes: { markerName: 'core_local_activity' } }),
    ev(12, { activityTaskScheduledEventAttributes: { activityType: { name: 'chooseAction' } } }),
    ev(13, { activityTaskStartedEventAttributes: { scheduledEventId: 12, attempt: 1 } }),
    ev(14, { activityTaskCompletedEventAttributes: { scheduledEventId: 12 } }),
    ev(20, { activityTaskScheduledEventAttributes: { activityType: { name: 'synthesizeQa' } } }),
    ev(30, { workflowExecutionTerminatedEventAttributes: { reason: 'Workflow history size exceeds limit.', identity: 'history-service' } }),
  ];
  const f = historyFacts(events, 'TERMINATED');
  assert.equal(f.error_type, 'HistoryLimit');
  assert.match(f.error, /history exceeded its limit \(Workflow history size exceeds limit\.\) after 2 LLM calls.*max_depth/);
  assert.equal(f.llm_calls, 2);
  assert.equal(f.llm_requests, 3 + 1 + 1, 'attempts of finished calls, plus the call in flight at the end');
  assert.equal(f.tool_calls, 1);
  assert.equal(f.started_at, new Date(1_800_000_000_000).toISOString());
  const byUser = historyFacts([ev(9, { workflowExecutionTerminatedEventAttributes: { reason: 'stop it', identity: 'alice@laptop' } })], 'TERMINATED');
  assert.equal(byUser.error_type, 'Terminated');
  assert.equal(byUser.error, 'terminated by alice@laptop: stop it (after 0 LLM calls)');
});

test('historyFacts: local-activity markers count as the call their data names; a tool run inside chooseAction counts as a tool call, a tool\'s own LLM calls as LLM calls', () => {
  const ev = (id: number, attrs: Record<string, unknown>) => ({ eventId: id, ...attrs }) as unknown as Parameters<typeof historyFacts>[0] extends Iterable<infer E> ? E : never;
  const json = (v: unknown) => ({ payloads: [{ data: Buffer.from(JSON.stringify(v)) }] });
  const marker = (type: string, attempt: number, result: unknown) =>
    ({ markerRecordedEventAttributes: { markerName: 'core_local_activity', details: { data: json({ activity_type: type, attempt }), result: json(result) } } });
  const withTool = { ok: true, intent: 'x', action: { tool_name: 'calculator', parameters: { expressions: ['1+1'] } }, observation: { text: '2' }, usage: {} };
  const events = [
    ev(5, marker('chooseAction', 2, withTool)), // a local LLM call (2 requests) that ran the calculator in the call
    ev(6, marker('runTool', 1, { text: 'ok' })), // a tool as its own local activity
    ev(60, marker('runTool', 1, { text: 'pages', llm_usage: { model: 'm', calls: 2, requests: 3, input_tokens: 9, output_tokens: 9 } })), // web_visit: 2 summaries
    ev(7, marker('chooseAction', 1, { ...withTool, observation: undefined })),
    ev(8, marker('synthesizeQa', 1, { ok: true })),
    ev(9, { activityTaskScheduledEventAttributes: { activityType: { name: 'chooseAction' } } }),
    ev(10, { activityTaskStartedEventAttributes: { scheduledEventId: 9, attempt: 1 } }),
    ev(11, { activityTaskCompletedEventAttributes: { scheduledEventId: 9, result: json(withTool) } }),
    ev(20, { workflowExecutionTerminatedEventAttributes: { reason: 'stop', identity: 'me' } }),
  ];
  const f = historyFacts(events, 'TERMINATED');
  assert.equal(f.llm_calls, 4 + 2, 'with the two page summaries web_visit made');
  assert.equal(f.llm_requests, 2 + 1 + 1 + 1 + 3);
  assert.equal(f.tool_calls, 4, 'the runTool markers and the two calculator calls made inside chooseAction');
});

test('continueAsNewEvents keeps the thresholds of small windows', () => {
  assert.deepEqual(continueAsNewEvents(1), { due: 3000, hard: 4500 });
  assert.deepEqual(continueAsNewEvents(50), { due: 3000, hard: 4500 });
});

test('continueAsNewEvents leaves room below 10% of the event limit for the tail of a large window', () => {
  for (const mw of [100, 200, 400]) {
    const { due, hard } = continueAsNewEvents(mw);
    assert.ok(due <= hard, `due ${due} <= hard ${hard}`);
    // After the last start each seed can still add 4 events (start initiated, started, ended, report signal),
    // and ~60 workflow tasks (3 events each) take them in.
    assert.ok(hard + 4 * mw + 3 * 60 < 5120, `max_workers ${mw}: hard ${hard}`);
  }
  assert.deepEqual(continueAsNewEvents(200), { due: 3000, hard: 3620 });
});

test('continueAsNewEvents never goes below its floor, however large the window', () => {
  assert.deepEqual(continueAsNewEvents(2000), { due: 1000, hard: 1000 });
});
