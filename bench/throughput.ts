/**
 * Throughput: qasynth against the process pool it replaces, per max_workers, at 500 ms simulated LLM latency,
 * on issue 8's tree. For each setting, one after the other (so both see the same machine): qasynth (a fresh
 * dev server, a `qasynth worker` child process from a private build) and the process pool (bench/pool.ts,
 * `max_workers` child processes, no Temporal), each against its own simulator with the same latency.
 *
 * Each setting also runs qasynth with `local_llm: true` (LLM calls as local activities, src/domain/routing.ts),
 * its worker with a call cache in a fresh folder (the setting's recommended setup), as system `qasynth-local-llm`.
 *
 * Each setting also runs the bare SDK in the same shape (bench/sdk-baseline.ts `bareFanOutRun`: a parent running
 * child workflows max_workers at a time, each awaiting the tree's serial LLM calls as activities that sleep the
 * latency, on the workflow's own queue and as local activities): what Temporal itself costs on this server in
 * this run, against which qasynth's default and `local_llm` figures are read.
 *
 * Reported per run: seeds/min; fraction of the LLM-bound ideal; CPU s per seed of the dev server and of the
 * worker process (the pool: all its processes); server tasks per tree node (qasynth: WorkflowTaskStarted +
 * ActivityTaskStarted of the run's histories ÷ nodes); per-seed latency.
 */
import {
  benchConfig, benchSeeds, chatLog, describeTree, historyStats, median, pctOfCore, privateBuild, progress, quantile, round, startChildWorker,
  treeShape, TREE, withServer, type Tree, withSimulator, workerCaps, runBatch, type BenchContext, type Benchmark,
} from './harness';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPoolBatch, startPool } from './pool';
import { bareFanOutRun, type BareFanOutRun } from './sdk-baseline';
import type { WorkerConcurrency } from '../src/worker/worker';
import type { Simulator } from '../src/llm/simulator';

const LATENCY_MS = 500;

function settings(ctx: BenchContext) {
  return {
    latency_ms: LATENCY_MS,
    tree: TREE,
    /** Issue 8's settings: max_workers 1, 4, 16, 64 with 20, 20, 64, 64 seeds. */
    cases: ctx.quick ? [{ max_workers: 1, seeds: 2 }, { max_workers: 4, seeds: 8 }] : [{ max_workers: 1, seeds: 20 }, { max_workers: 4, seeds: 20 }, { max_workers: 16, seeds: 64 }, { max_workers: 64, seeds: 64 }],
    ideal: 'seeds ÷ (⌈seeds ÷ max_workers⌉ waves × serial LLM calls per seed × latency): max_workers seeds at once, each seed’s LLM calls in series, tools and orchestration free',
  };
}

/** The LLM-bound ideal seeds/min of `seeds` seeds at `maxWorkers` at once (see settings().ideal). */
export function idealSeedsPerMin(seeds: number, maxWorkers: number, latencyMs: number, tree = TREE): number {
  const seedS = (treeShape(tree).serial_llm_calls * latencyMs) / 1000;
  return (seeds / (Math.ceil(seeds / maxWorkers) * seedS)) * 60;
}

/** LLM requests whose body (fingerprint) the simulator had already received. */
export function repeatedRequests(sim: Simulator): number {
  const log = chatLog(sim);
  return log.length - new Set(log.map((e) => e.fingerprint)).size;
}

/** Per-seed latency summary, seconds. */
export interface LatencySummary {
  median_s: number;
  p90_s: number;
  max_s: number;
}

export function latencySummary(ms: number[]): LatencySummary {
  return { median_s: round(median(ms) / 1000, 2), p90_s: round(quantile(ms, 0.9) / 1000, 2), max_s: round(Math.max(...ms) / 1000, 2) };
}

export interface ThroughputRun {
  system: 'qasynth' | 'qasynth-local-llm' | 'pool';
  max_workers: number;
  seeds: number;
  wall_s: number;
  seeds_per_min: number;
  ideal_seeds_per_min: number;
  fraction_of_ideal: number;
  /** CPU s per seed: the dev server (qasynth) and the worker process (qasynth) or all pool processes (pool). */
  server_cpu_s_per_seed: number | null;
  worker_cpu_s_per_seed: number;
  /** qasynth: (workflow tasks + activity tasks) in the run's histories ÷ tree nodes (seeds × nodes per seed). */
  server_tasks_per_node: number | null;
  workflow_tasks_per_node: number | null;
  activity_tasks_per_node: number | null;
  history_events_per_seed: number | null;
  seed_latency: LatencySummary;
  qa: number;
  failed_seeds: number;
  llm_requests: number;
  /** LLM requests answered 429. */
  llm_requests_429: number;
  /** LLM requests whose body the simulator had already received (retries of the same call, for any reason). */
  llm_requests_repeated: number;
  /** Pool: LLM calls that still failed after the client's retries, by message (digits masked). */
  llm_error_kinds?: Record<string, number>;
  server_cpu_pct: number | null;
  worker_cpu_pct: number;
  /** The bench process: driver and simulator. */
  bench_process_cpu_pct: number;
  /** Other processes on the machine during the run, % of one core (200 % = both cores of this machine). */
  other_processes_cpu_pct: number;
  load_avg_1m: number;
  /** Peak RSS, MB: qasynth {server, worker}; pool {pool} (sum over its processes, shared pages counted in each). */
  peak_rss_mb: Record<string, number>;
  caps?: WorkerConcurrency;
  worker_command?: string;
  /** Pool start-up (spawn → all processes loaded), not part of wall time. */
  pool_startup_s?: number;
}

export interface ThroughputResult {
  nodes_per_seed: number;
  serial_llm_calls_per_seed: number;
  ideal_seed_s: number;
  runs: ThroughputRun[];
  /** The bare SDK in the same shape, per setting and form (absent in results recorded before it was measured). */
  bare?: (BareFanOutRun & { ideal_seeds_per_min: number; fraction_of_ideal: number })[];
}

/** One qasynth batch on a fresh server, simulator and child worker. Exported for the storm benchmark. */
export async function qasynthRun(opts: {
  label: string;
  maxWorkers: number;
  seeds: number;
  latencyMs: number;
  script?: Parameters<typeof withSimulator>[0]['script'];
  configExtra?: Record<string, unknown>;
  tree?: Tree;
  /** The worker's call cache folder (absent: none). */
  cacheDir?: string;
}): Promise<ThroughputRun> {
  const dist = await privateBuild();
  const w = opts.maxWorkers;
  const caps = workerCaps(w);
  const tree = opts.tree ?? TREE;
  const shape = treeShape(tree);
  return withServer(opts.label, (env) =>
    withSimulator({ latencyMs: opts.latencyMs, script: opts.script }, async (sim) => {
      const q = `bench-${opts.label}`;
      const worker = await startChildWorker({ dist, address: env.server.address, taskQueue: q, llmUrl: sim.url, caps, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}) });
      try {
        const run = await runBatch(env, {
          label: `qasynth ${opts.label}`, taskQueue: q, runId: `${q}-${Date.now()}`, config: benchConfig(w, opts.configExtra, tree),
          seeds: benchSeeds(opts.seeds), sim, meter: { server: env.server.pid, worker: worker.pid },
        });
        const h = await historyStats(env, run.run_id, opts.seeds);
        const nodes = opts.seeds * shape.nodes;
        const wallS = run.wall_ms / 1000;
        const spm = (opts.seeds / wallS) * 60;
        const ideal = idealSeedsPerMin(opts.seeds, w, opts.latencyMs, tree);
        const c = run.cpu;
        return {
          system: opts.configExtra?.local_llm ? 'qasynth-local-llm' : 'qasynth',
          max_workers: w,
          seeds: opts.seeds,
          wall_s: round(wallS, 1),
          seeds_per_min: round(spm, 2),
          ideal_seeds_per_min: round(ideal, 2),
          fraction_of_ideal: round(spm / ideal, 3),
          server_cpu_s_per_seed: round(c.cpu_ms.server! / 1000 / opts.seeds, 3),
          worker_cpu_s_per_seed: round(c.cpu_ms.worker! / 1000 / opts.seeds, 3),
          server_tasks_per_node: round((h.workflow_tasks + h.activity_tasks) / nodes, 2),
          workflow_tasks_per_node: round(h.workflow_tasks / nodes, 2),
          activity_tasks_per_node: round(h.activity_tasks / nodes, 2),
          history_events_per_seed: round(h.events / opts.seeds, 1),
          seed_latency: latencySummary(h.seed_latencies_ms),
          qa: run.result.qa_count,
          failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
          llm_requests: chatLog(sim).length,
          llm_requests_429: chatLog(sim).filter((e) => e.status === 429).length,
          llm_requests_repeated: repeatedRequests(sim),
          server_cpu_pct: pctOfCore(c.cpu_ms.server!, c),
          worker_cpu_pct: pctOfCore(c.cpu_ms.worker!, c),
          bench_process_cpu_pct: pctOfCore(c.bench_process_cpu_ms, c),
          other_processes_cpu_pct: pctOfCore(c.others_cpu_ms, c),
          load_avg_1m: round(c.load_avg_1m_end, 1),
          peak_rss_mb: c.peak_rss_mb,
          caps,
          worker_command: worker.command,
        };
      } finally {
        await worker.stop();
      }
    }),
  );
}

/** One process-pool batch: a fresh simulator and `maxWorkers` pool processes. Exported for the storm benchmark. */
export async function poolRun(opts: { label: string; maxWorkers: number; seeds: number; latencyMs: number; script?: Parameters<typeof withSimulator>[0]['script'] }): Promise<ThroughputRun> {
  const w = opts.maxWorkers;
  return withSimulator({ latencyMs: opts.latencyMs, script: opts.script }, async (sim) => {
    const pool = await startPool(w);
    try {
      const r = await runPoolBatch(pool, { label: `pool ${opts.label}`, llmUrl: sim.url, config: benchConfig(w), seeds: benchSeeds(opts.seeds) });
      const wallS = r.wall_ms / 1000;
      const spm = (opts.seeds / wallS) * 60;
      const ideal = idealSeedsPerMin(opts.seeds, w, opts.latencyMs);
      return {
        system: 'pool',
        max_workers: w,
        seeds: opts.seeds,
        wall_s: round(wallS, 1),
        seeds_per_min: round(spm, 2),
        ideal_seeds_per_min: round(ideal, 2),
        fraction_of_ideal: round(spm / ideal, 3),
        server_cpu_s_per_seed: null,
        worker_cpu_s_per_seed: round(r.cpu.cpu_ms.pool! / 1000 / opts.seeds, 3),
        server_tasks_per_node: null,
        workflow_tasks_per_node: null,
        activity_tasks_per_node: null,
        history_events_per_seed: null,
        seed_latency: latencySummary(r.seed_latencies_ms),
        qa: r.qa,
        failed_seeds: r.seeds_failed,
        llm_requests: chatLog(sim).length,
        llm_requests_429: chatLog(sim).filter((e) => e.status === 429).length,
        llm_requests_repeated: repeatedRequests(sim),
        llm_error_kinds: r.llm_error_kinds,
        server_cpu_pct: null,
        worker_cpu_pct: pctOfCore(r.cpu.cpu_ms.pool!, r.cpu),
        bench_process_cpu_pct: pctOfCore(r.cpu.bench_process_cpu_ms, r.cpu),
        other_processes_cpu_pct: pctOfCore(r.cpu.others_cpu_ms, r.cpu),
        load_avg_1m: round(r.cpu.load_avg_1m_end, 1),
        peak_rss_mb: r.cpu.peak_rss_mb,
        pool_startup_s: round(pool.startup_ms / 1000, 1),
      };
    } finally {
      await pool.close();
    }
  });
}

function logRun(r: ThroughputRun): void {
  progress(
    `throughput ${r.system} max_workers=${r.max_workers}: ${r.seeds_per_min} seeds/min (${r.fraction_of_ideal} of ideal) in ${r.wall_s} s; ` +
      `CPU s/seed server ${r.server_cpu_s_per_seed ?? '–'} worker ${r.worker_cpu_s_per_seed}; tasks/node ${r.server_tasks_per_node ?? '–'}; ` +
      `seed latency median ${r.seed_latency.median_s} s; others ${r.other_processes_cpu_pct} %`,
  );
}

async function run(ctx: BenchContext): Promise<ThroughputResult> {
  const s = settings(ctx);
  const shape = treeShape(TREE);
  const runs: ThroughputRun[] = [];
  const bare: NonNullable<ThroughputResult['bare']> = [];
  for (const c of s.cases) {
    progress(`throughput: max_workers=${c.max_workers}, ${c.seeds} seeds, LLM latency ${s.latency_ms} ms — qasynth`);
    const q = await qasynthRun({ label: `tp-${c.max_workers}`, maxWorkers: c.max_workers, seeds: c.seeds, latencyMs: s.latency_ms });
    logRun(q);
    runs.push(q);
    progress(`throughput: max_workers=${c.max_workers}, ${c.seeds} seeds, LLM latency ${s.latency_ms} ms — qasynth, local_llm`);
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-cache-'));
    try {
      const l = await qasynthRun({ label: `tp-local-${c.max_workers}`, maxWorkers: c.max_workers, seeds: c.seeds, latencyMs: s.latency_ms, configExtra: { local_llm: true }, cacheDir });
      logRun(l);
      runs.push(l);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
    for (const form of ['own-queue', 'local'] as const) {
      const seeds = c.seeds;
      progress(`throughput: max_workers=${c.max_workers}, ${seeds} seeds — bare SDK, ${form === 'local' ? 'local activities' : 'activities on the workflow’s queue'}`);
      const b = await bareFanOutRun({ form, maxWorkers: c.max_workers, seeds, callsPerSeed: shape.serial_llm_calls, latencyMs: s.latency_ms });
      const ideal = idealSeedsPerMin(seeds, c.max_workers, s.latency_ms);
      bare.push({ ...b, ideal_seeds_per_min: round(ideal, 2), fraction_of_ideal: round(b.seeds_per_min / ideal, 3) });
      progress(`throughput bare-sdk ${form} max_workers=${c.max_workers}: ${b.seeds_per_min} seeds/min (${round(b.seeds_per_min / ideal, 3)} of ideal), ${b.overhead_ms_per_wave} ms per wave above its calls, CPU s/seed server ${b.server_cpu_s_per_seed} worker ${b.worker_cpu_s_per_seed}`);
    }
    progress(`throughput: max_workers=${c.max_workers}, ${c.seeds} seeds — process pool`);
    const p = await poolRun({ label: `tp-${c.max_workers}`, maxWorkers: c.max_workers, seeds: c.seeds, latencyMs: s.latency_ms });
    logRun(p);
    runs.push(p);
  }
  return { nodes_per_seed: shape.nodes, serial_llm_calls_per_seed: shape.serial_llm_calls, ideal_seed_s: (shape.serial_llm_calls * s.latency_ms) / 1000, runs, bare };
}

const fmt = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : String(round(x, d)));

function markdown(r: ThroughputResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  const L: string[] = [];
  L.push(
    `Tree: ${describeTree(TREE)}. LLM latency ${s.latency_ms} ms. Ideal = ${s.ideal} (${r.ideal_seed_s} s per seed). ` +
      'qasynth: fresh dev server + `qasynth worker` child process (command in latest.json); pool: `max_workers` Node processes, one seed at a time each, ' +
      'the same activity functions in a plain loop (bench/pool.ts). CPU s/seed from /proc/<pid>/stat (user + system, reaped children included). ' +
      'Server tasks/node = (WorkflowTaskStarted + ActivityTaskStarted in all the run’s histories) ÷ (seeds × nodes per seed). CPU % = % of one core (200 % = the whole machine).',
    '',
  );
  L.push('| max_workers (qasynth setting) | seeds | pool seeds/min (of ideal) | qasynth seeds/min (of ideal) | qasynth ÷ pool | CPU s/seed pool | CPU s/seed qasynth server + worker | server tasks/node (workflow + activity) | seed latency median / p90 s pool | qasynth |');
  L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of s.cases) {
    const p = r.runs.find((x) => x.system === 'pool' && x.max_workers === c.max_workers);
    if (!p) continue;
    for (const q of r.runs.filter((x) => x.system !== 'pool' && x.max_workers === c.max_workers)) {
      L.push(
        `| ${c.max_workers}${q.system === 'qasynth-local-llm' ? ' (local_llm)' : ''} | ${c.seeds} | ${fmt(p.seeds_per_min)} (${fmt(p.fraction_of_ideal)}) | ${fmt(q.seeds_per_min)} (${fmt(q.fraction_of_ideal)}) | ${fmt(q.seeds_per_min / p.seeds_per_min)} | ` +
          `${fmt(p.worker_cpu_s_per_seed, 3)} | ${fmt((q.server_cpu_s_per_seed ?? NaN) + q.worker_cpu_s_per_seed, 3)} (${fmt(q.server_cpu_s_per_seed, 3)} + ${fmt(q.worker_cpu_s_per_seed, 3)}) | ` +
          `${fmt(q.server_tasks_per_node)} (${fmt(q.workflow_tasks_per_node)} + ${fmt(q.activity_tasks_per_node)}) | ${fmt(p.seed_latency.median_s)} / ${fmt(p.seed_latency.p90_s)} | ${fmt(q.seed_latency.median_s)} / ${fmt(q.seed_latency.p90_s)} |`,
      );
    }
  }
  L.push('');
  if (r.bare?.length) {
    L.push(
      'The bare SDK in the same shape, same server build, same run (bench/sdk-baseline-workflows.ts `fanOut`): a parent running child workflows max_workers at a time, each awaiting ' +
        `${r.serial_llm_calls_per_seed} activities in series that sleep ${s.latency_ms} ms — on the workflow’s own queue (what qasynth’s default routing does per LLM call) and as local activities (\`local_llm\`); ` +
        'a worker in the bench process set up as qasynth’s (no sandbox watchdog, the same slots and pollers). “Above its calls” = wall ÷ waves − calls × latency (waves = ⌈seeds ÷ max_workers⌉; one wave’s includes the batch’s start and its slowest seed). ' +
        '“qasynth − bare SDK” is qasynth’s CPU per seed (server + worker) beyond Temporal’s own cost for the shape: the work of the calls (HTTP client, parsing, prompts, the tree) and qasynth’s own overhead — beside the pool’s CPU for the same calls without Temporal (at 64 the pool pays for 64 processes on the machine’s cores too).',
      '',
      '| max_workers | seeds | form | bare SDK seeds/min (of ideal) | ms per wave above its calls | bare SDK CPU s/seed server + worker | qasynth of ideal (same routing) | qasynth ÷ bare SDK | qasynth CPU s/seed | qasynth − bare SDK, CPU s/seed | pool CPU s/seed |',
      '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const b of r.bare) {
      const q = r.runs.find((x) => x.max_workers === b.max_workers && x.system === (b.form === 'local' ? 'qasynth-local-llm' : 'qasynth'));
      const p = r.runs.find((x) => x.max_workers === b.max_workers && x.system === 'pool');
      const qCpu = q ? (q.server_cpu_s_per_seed ?? NaN) + q.worker_cpu_s_per_seed : NaN;
      L.push(
        `| ${b.max_workers} | ${b.seeds} | ${b.form === 'local' ? 'local activities' : 'own queue'} | ${fmt(b.seeds_per_min)} (${fmt(b.fraction_of_ideal, 3)}) | ${b.overhead_ms_per_wave} | ` +
          `${fmt(b.server_cpu_s_per_seed + b.worker_cpu_s_per_seed, 3)} (${fmt(b.server_cpu_s_per_seed, 3)} + ${fmt(b.worker_cpu_s_per_seed, 3)}) | ${fmt(q?.fraction_of_ideal, 3)} | ${q ? fmt(q.fraction_of_ideal / b.fraction_of_ideal, 3) : '–'} | ${fmt(qCpu, 3)} | ${fmt(qCpu - b.server_cpu_s_per_seed - b.worker_cpu_s_per_seed, 3)} | ${fmt(p?.worker_cpu_s_per_seed, 3)} |`,
      );
    }
    L.push('');
  }
  L.push('Every run:', '');
  L.push('| system | max_workers | seeds | wall s | seeds/min | of ideal | QA | failed seeds | LLM requests (repeated) | history events/seed | server CPU % | worker CPU % | bench process CPU % | others’ CPU % | load 1m | peak RSS MB |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const x of r.runs) {
    const rss = Object.entries(x.peak_rss_mb).map(([k, v]) => `${k} ${v}`).join(', ');
    L.push(`| ${x.system} | ${x.max_workers} | ${x.seeds} | ${x.wall_s} | ${fmt(x.seeds_per_min)} | ${fmt(x.fraction_of_ideal, 3)} | ${x.qa} | ${x.failed_seeds} | ${x.llm_requests} (${x.llm_requests_repeated}) | ${fmt(x.history_events_per_seed, 1)} | ${fmt(x.server_cpu_pct, 0)} | ${x.worker_cpu_pct} | ${x.bench_process_cpu_pct} | ${x.other_processes_cpu_pct} | ${x.load_avg_1m} | ${rss} |`);
  }
  L.push('');
  return L;
}

export const throughput: Benchmark<ThroughputResult> = { name: 'throughput', settings, run, markdown };
