/**
 * The chaos suite's shared checker: what must hold after ANY fault, whatever the scenario.
 *
 * - every seed ended succeeded or failed-with-a-reason: statistics seeds.succeeded + failed == total,
 *   missing == 0, each failed seed (statistics and per-seed rows) carries a non-empty error, and the batch
 *   result agrees;
 * - the final files hold each record exactly once: qa_id and trajectory_id unique, QA lines ==
 *   statistics.total_qas == result.qa_count, trajectory lines == statistics.total_trajectories;
 * - statistics match the files: the per-seed qa / trajectory counts sum to the file lines and equal the
 *   per-source counts in the files; every QA points at a trajectory of the same seed; every seed is known;
 * - repeated LLM requests (same fingerprint answered 200 more than once) are counted, split by whether an
 *   earlier answer was delayed on purpose (a timeout fault: its answer never reached the worker in time).
 *
 * `report()` prints one `# chaos:` line per scenario, the numbers the suite's report quotes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { RequestLogEntry } from '../../src/llm/simulator';
import type { BatchResult, QaRecord, TrajectoryRecord } from '../../src/shared/types';
import type { PerSeedStatistics, RunStatistics } from '../../src/domain/statistics';
import { readJsonl } from '../helpers/temporal';
import { readStatistics } from '../helpers/statistics';
import { CHAOS } from './harness';

export interface RepeatCount {
  /** LLM requests answered 200 again with a fingerprint already answered 200 (Σ over fingerprints of count − 1). */
  repeats: number;
  /** Of those, repeats of a request whose earlier answer was deliberately delayed past the activity timeout. */
  afterDelay: number;
  /** The rest: a finished call paid again (e.g. answered just before a worker was killed). */
  other: number;
  /** One line per `other` repeat: request numbers, kind, ms since the simulator started, faults (for failure messages). */
  otherDetails: string[];
}

export function countRepeats(log: RequestLogEntry[]): RepeatCount {
  const byFp = new Map<string, RequestLogEntry[]>();
  for (const r of log) {
    if (r.status !== 200 || r.kind === 'invalid') continue;
    const list = byFp.get(r.fingerprint) ?? [];
    list.push(r);
    byFp.set(r.fingerprint, list);
  }
  let repeats = 0;
  let afterDelay = 0;
  const otherDetails: string[] = [];
  for (const list of byFp.values()) {
    list.sort((a, b) => a.n - b.n);
    for (let i = 1; i < list.length; i++) {
      repeats++;
      if (list.slice(0, i).some((e) => e.fault?.includes('delay:'))) afterDelay++;
      else {
        const all = log.filter((e) => e.fingerprint === list[0]!.fingerprint);
        otherDetails.push(
          `${list[i]!.kind} t=${list[i]!.temperature}: ` + all.map((e) => `#${e.n}@${e.at_ms}ms→${e.status}${e.fault ? `(${e.fault})` : ''}`).join(', '),
        );
      }
    }
  }
  return { repeats, afterDelay, other: repeats - afterDelay, otherDetails };
}

export interface CheckedRun {
  stats: RunStatistics & { per_seed: PerSeedStatistics[] };
  qas: QaRecord[];
  trajectories: TrajectoryRecord[];
  /** Records whose id occurs more than once (always 0 after the assertions). */
  duplicates: number;
}

/** Asserts every invariant listed above on a finished batch; returns what it read. */
export function checkRun(result: BatchResult, expectedSeeds: number): CheckedRun {
  assert.equal(result.status, 'complete', 'the batch completed (not cancelled)');
  const stats = readStatistics(result.statistics_path);
  const qas = readJsonl<QaRecord>(result.qa_path);
  const trajectories = readJsonl<TrajectoryRecord>(result.trajectories_path);

  // Every seed ended succeeded, or failed with a reason: none stuck, none silently missing.
  assert.equal(stats.seeds.total, expectedSeeds, 'statistics count every seed');
  assert.equal(stats.seeds.missing, 0, `no seed silently missing (statistics: ${JSON.stringify(stats.seeds)})`);
  assert.equal(stats.seeds.succeeded + stats.seeds.failed, stats.seeds.total, 'succeeded + failed == total');
  assert.equal(result.seeds_succeeded, stats.seeds.succeeded, 'batch result and statistics agree on succeeded seeds');
  assert.equal(result.seeds_failed, stats.seeds.failed, 'batch result and statistics agree on failed seeds');
  assert.equal(result.seeds_missing, 0, 'batch result: no missing seed');
  assert.equal(stats.per_seed.length, expectedSeeds, 'one statistics row per seed');
  for (const row of stats.per_seed) {
    assert.ok(row.status === 'succeeded' || row.status === 'failed', `seed ${row.source_id}: status ${row.status}`);
    if (row.status === 'failed') assert.ok(row.error?.trim(), `failed seed ${row.source_id} carries a reason`);
  }
  assert.equal(stats.failed_seeds.length, stats.seeds.failed, 'every failed seed is listed');
  for (const f of stats.failed_seeds) assert.ok(f.error.trim(), `failed seed ${f.source_id} carries a reason`);

  // Each record exactly once.
  const qaIds = new Set(qas.map((q) => q.qa_id));
  const trajIds = new Set(trajectories.map((t) => t.trajectory_id));
  const duplicates = qas.length - qaIds.size + (trajectories.length - trajIds.size);
  assert.equal(qaIds.size, qas.length, 'each QA (qa_id) exactly once');
  assert.equal(trajIds.size, trajectories.length, 'each trajectory (trajectory_id) exactly once');
  assert.equal(qas.length, stats.total_qas, 'QA lines == statistics.total_qas');
  assert.equal(qas.length, result.qa_count, 'QA lines == batch result qa_count');
  assert.equal(trajectories.length, stats.total_trajectories, 'trajectory lines == statistics.total_trajectories');
  assert.equal(trajectories.length, result.trajectory_count, 'trajectory lines == batch result trajectory_count');

  // Statistics match the files, seed by seed.
  const known = new Set(stats.per_seed.map((r) => r.source_id));
  const perSource = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
  const qaBySeed = perSource(qas.map((q) => q.source_id));
  const trajBySeed = perSource(trajectories.map((t) => t.source_id));
  assert.equal(stats.per_seed.reduce((n, r) => n + r.qa, 0), qas.length, 'per-seed qa counts sum to the QA file');
  assert.equal(stats.per_seed.reduce((n, r) => n + r.trajectories, 0), trajectories.length, 'per-seed trajectory counts sum to the trajectory file');
  for (const row of stats.per_seed) {
    assert.equal(qaBySeed.get(row.source_id) ?? 0, row.qa, `seed ${row.source_id}: QA lines == statistics row`);
    assert.equal(trajBySeed.get(row.source_id) ?? 0, row.trajectories, `seed ${row.source_id}: trajectory lines == statistics row`);
    if (row.status === 'failed') assert.equal(row.qa + row.trajectories, 0, `failed seed ${row.source_id} wrote no records`);
  }
  for (const id of [...qaBySeed.keys(), ...trajBySeed.keys()]) assert.ok(known.has(id), `records of unknown seed ${id}`);
  const trajSeed = new Map(trajectories.map((t) => [t.trajectory_id, t.source_id]));
  for (const q of qas) {
    assert.equal(trajSeed.get(q.trajectory_id), q.source_id, `QA ${q.qa_id} points at a trajectory of its own seed`);
  }
  return { stats, qas, trajectories, duplicates };
}

/** Prints the scenario's `# chaos:` report line (to stdout, so the test runner shows it). */
export function report(scenario: string, fields: Record<string, string | number>): string {
  const line =
    `# chaos: ${scenario} [${CHAOS.level}, seed ${CHAOS.seed}] ` +
    Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`${line}\n`);
  return line;
}

/** The common report fields of a checked run. */
export function runFields(run: CheckedRun, repeats: RepeatCount, llmRequests: number): Record<string, string | number> {
  return {
    seeds: `${run.stats.seeds.succeeded}ok/${run.stats.seeds.failed}failed/${run.stats.seeds.total}`,
    records: `${run.qas.length}qa+${run.trajectories.length}traj`,
    duplicates: run.duplicates,
    llm_requests: llmRequests,
    repeats: repeats.repeats,
    repeats_after_timeout: repeats.afterDelay,
  };
}
