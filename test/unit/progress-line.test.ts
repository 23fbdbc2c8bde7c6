/**
 * The live view's pure parts: the progress line at several terminal widths, the snapshot sums, ETA and refresh.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import { formatCount, formatDuration, formatProgressLine, formatTotals } from '../../src/cli/progress';
import { combineProgress, etaMs, progressFromResult, refreshIntervalMs, type LiveProgress } from '../../src/client/progress';
import { emptyBatchCounters, noteFailedSeed, FAILED_SEEDS_SHOWN } from '../../src/domain/batch';
import type { BatchProgress, BatchResult, SeedLiveProgress } from '../../src/shared/types';

const T0 = Date.UTC(2026, 0, 1);

function parent(over: Partial<BatchProgress> = {}): BatchProgress {
  return {
    run_id: 'r1',
    mode: 'math',
    seeds_total: 30,
    running: ['src_a', 'src_b', 'src_c'],
    paused: false,
    max_workers: 3,
    counters: { ...emptyBatchCounters(), seeds_done: 12, seeds_succeeded: 10, seeds_failed: 1, seeds_no_qa: 1, qa: 45, llm_calls: 300, llm_requests: 310, input_tokens: 50_000, output_tokens: 7_300, cost_usd: 0.0123 },
    phase: 'running',
    started_at_ms: T0,
    seeds_started: 15,
    failed_seeds: [{ source_id: 'src_7395f764cd10', status: 'failed', error_type: 'LlmAuth', error: 'refused' }],
    ...over,
  };
}

const seed = (over: Partial<SeedLiveProgress> = {}): SeedLiveProgress => ({
  source_id: 'src_a', phase: 'exploring', llm_calls: 4, llm_requests: 5, input_tokens: 1000, output_tokens: 100, cost_usd: 0.001, nodes: 3, qa: 1, ...over,
});

function live(over: Partial<BatchProgress> = {}, seeds: SeedLiveProgress[] = [seed(), seed({ source_id: 'src_b', llm_calls: 8 })]): LiveProgress {
  return combineProgress('qasynth-r1', parent(over), seeds, T0 + 125_000, new Map([['src_7395f764cd10', 'Who wrote the first compiler for the language used in the Apollo guidance computer']]));
}

describe('combineProgress', () => {
  test('adds the running seeds’ partial counters to the finished totals; seed counts stay the finished ones', () => {
    const p = live();
    assert.equal(p.llm_calls, 300 + 4 + 8);
    assert.equal(p.llm_requests, 310 + 5 + 5);
    assert.equal(p.qa, 45 + 2);
    assert.equal(p.input_tokens, 52_000);
    assert.ok(Math.abs(p.cost_usd - 0.0143) < 1e-9);
    assert.equal(p.seeds_done, 12);
    assert.equal(p.seeds_running, 3);
    assert.equal(p.running_answered, 2);
    assert.equal(p.elapsed_ms, 125_000);
    assert.equal(p.failed_seeds[0]!.text?.startsWith('Who wrote'), true);
  });
  test('a parent from an older worker saying `draining` reads as running', () => {
    assert.equal(live({ phase: 'draining' }).phase, 'running');
  });
  test('no start time: no elapsed, no ETA', () => {
    const p = live({ started_at_ms: undefined });
    assert.equal(p.elapsed_ms, null);
    assert.equal(p.eta_ms, null);
  });
});

describe('etaMs and refreshIntervalMs', () => {
  test('ETA from the rate of fresh (not cached) finished seeds', () => {
    assert.equal(etaMs({ seeds_total: 30, seeds_done: 10, seeds_cached: 0 }, 100_000), 200_000);
    assert.equal(etaMs({ seeds_total: 30, seeds_done: 10, seeds_cached: 5 }, 100_000), 400_000);
    assert.equal(etaMs({ seeds_total: 30, seeds_done: 5, seeds_cached: 5 }, 100_000), null);
    assert.equal(etaMs({ seeds_total: 30, seeds_done: 30, seeds_cached: 0 }, 100_000), 0);
    assert.equal(etaMs({ seeds_total: 30, seeds_done: 0, seeds_cached: 0 }, 100_000), null);
  });
  test('refresh every second for few seeds, slower for many, never past 10 s', () => {
    assert.equal(refreshIntervalMs(0), 1000);
    assert.equal(refreshIntervalMs(32), 1000);
    assert.equal(refreshIntervalMs(160), 5000);
    assert.equal(refreshIntervalMs(2000), 10_000);
  });
});

describe('formatProgressLine', () => {
  const words = (line: string) => line.split(/\s+/).filter(Boolean);
  const vocabulary = new Set(words(formatProgressLine(live(), 1000)).concat(words('12/30 3 run 312 calls 57k tok ETA')));

  for (const width of [40, 60, 80, 100, 130, 200]) {
    test(`at ${width} columns: fits in width − 1, whole words only, seed count always there`, () => {
      const line = formatProgressLine(live(), width);
      assert.ok(stringWidth(line) <= width - 1, `${stringWidth(line)} > ${width - 1}: ${line}`);
      assert.match(line, /12\/30/);
      // every word of the line is a whole word of the full or compact forms (or of the seed text): nothing cut mid-word
      const text = 'Who wrote the first compiler for the language used in the Apollo guidance computer';
      for (const w of words(line)) {
        const bare = w.replace(/^"|…?"$|…$/g, '');
        assert.ok(vocabulary.has(w) || text.split(' ').includes(bare) || /^[█░]+$/.test(w) || /^(\d+(\.\d+)?k?|tok|calls|run)$/.test(w), `${JSON.stringify(w)} in ${line}`);
      }
    });
  }

  test('130 columns: the full words — LLM calls, tokens, cost, elapsed, ETA', () => {
    const line = formatProgressLine(live(), 130);
    assert.match(line, /12\/30 seeds/);
    assert.match(line, /312 LLM calls/);
    assert.match(line, /47 QA/);
    assert.match(line, /\$0\.0143/);
    assert.match(line, /2m05s/);
    assert.match(line, /ETA 3m07s/);
    assert.match(line, /1 failed/);
    assert.match(line, /59\.5k tokens/);
    assert.doesNotMatch(line, /█/, 'no bar at 130 columns: the numbers first');
  });
  test('200 columns: the bar and the failed seed’s text, cut at a word', () => {
    const line = formatProgressLine(live(), 200);
    assert.match(line, /^█{8}░{12} 12\/30 seeds /);
    assert.match(line, /✗ src_7395f764cd10 "Who wrote the first/);
  });
  test('80 columns: the compact line keeps seeds, QA, calls, failed, elapsed', () => {
    const line = formatProgressLine(live(), 80);
    for (const re of [/12\/30/, /47 QA/, /312 (LLM )?calls/, /1 failed/, /2m05s/]) assert.match(line, re, line);
  });
  test('40 columns: still whole segments', () => {
    const line = formatProgressLine(live(), 40);
    assert.ok(line.length > 0);
    assert.match(line, /^12\/30( ·|$)/);
  });
  test('phases and pause are said first', () => {
    assert.match(formatProgressLine(live({ phase: 'writing' }), 80), /^writing outputs · /);
    assert.match(formatProgressLine(live({ paused: true }), 80), /^paused · /);
    assert.match(formatProgressLine(live({ phase: 'preparing' }), 80), /^preparing · /);
  });
  test('the final frame carries the totals the summary prints (same words)', () => {
    const r: BatchResult = {
      run_id: 'r1', seeds_total: 30, duplicates_dropped: 0, status: 'complete', qa_path: 'q', trajectories_path: 't', statistics_path: 's',
      qa_count: 60, trajectory_count: 60, seeds_succeeded: 29, seeds_failed: 1, seeds_budget_exhausted: 0, seeds_missing: 0,
      estimated_cost_usd: 0.05, llm_calls: 323, llm_requests: 330, input_tokens: 90_000, output_tokens: 9_000,
    };
    const final = progressFromResult('qasynth-r1', r, live(), T0 + 65_000);
    const frame = formatProgressLine(final, 130);
    assert.ok(frame.includes(formatTotals(final)), `${frame} ⊉ ${formatTotals(final)}`);
    assert.equal(formatTotals(final), '60 QA · 323 LLM calls · 99.0k tokens · $0.0500 · 1 failed · 1m05s');
    assert.match(frame, /^done · [█░]{20} 30\/30 seeds · /);
  });
});

describe('formatters and the failed-seed notes', () => {
  test('durations and counts', () => {
    assert.equal(formatDuration(5_400), '5s');
    assert.equal(formatDuration(65_000), '1m05s');
    assert.equal(formatDuration(7_500_000), '2h05m');
    assert.equal(formatCount(9_999), '9999');
    assert.equal(formatCount(57_300), '57.3k');
    assert.equal(formatCount(250_000), '250k');
    assert.equal(formatCount(4_560_000), '4.56M');
  });
  test('noteFailedSeed keeps failed and no-QA seeds, newest last, at most FAILED_SEEDS_SHOWN', () => {
    const state: { failed_seeds?: import('../../src/shared/types').FailedSeedNote[] } = {};
    const s = (i: number, status: 'failed' | 'no_qa' | 'succeeded') => ({ source_id: `s${i}`, status, cached: false, qa_count: 0, trajectory_count: 0, llm_calls: 0, tool_calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, error: 'x'.repeat(300) });
    noteFailedSeed(state, s(0, 'succeeded'));
    assert.equal(state.failed_seeds, undefined);
    for (let i = 1; i <= FAILED_SEEDS_SHOWN + 5; i++) noteFailedSeed(state, s(i, i % 2 ? 'failed' : 'no_qa'));
    assert.equal(state.failed_seeds!.length, FAILED_SEEDS_SHOWN);
    assert.equal(state.failed_seeds![0]!.source_id, 's6');
    assert.equal(state.failed_seeds!.at(-1)!.source_id, `s${FAILED_SEEDS_SHOWN + 5}`);
    assert.equal(state.failed_seeds![0]!.error!.length, 160);
  });
});
