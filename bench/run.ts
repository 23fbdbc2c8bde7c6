/**
 * `npm run bench`: performance benchmarks of qasynth on this machine, against the offline LLM simulator and
 * in-memory Temporal dev servers. Not part of the test suite. Results: bench/results/latest.json + latest.md.
 *
 *   npm run bench                                  # all four benchmarks (~8 min on 2 cores)
 *   npm run bench -- --only throughput,memory      # a subset: throughput, ratelimit, overhead, memory
 *   npm run bench -- --quick                       # smaller settings (smoke run; results not comparable)
 *
 * 1. throughput  seeds/min vs max_workers ∈ {1, 4, 16, 64} at 500 ms simulated LLM latency; parallel efficiency
 * 2. ratelimit   achieved LLM requests/min ÷ a simulated provider quota, with and without qasynth's rate_limits
 * 3. overhead    zero-latency LLM: Temporal vs the same activity functions called in a plain loop
 * 4. memory      peak RSS of a child-process worker (`qasynth worker`) running 64 seeds at once
 *
 * Every benchmark starts its own in-memory headless dev server, simulator and worker, and stops them after.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startDevServer, type DevServer } from '../src/server/dev-server';
import { ensureTemporalCli, projectRoot } from '../src/server/temporal-cli';
import { createWorkers, runWorkers, DEFAULT_CONCURRENCY, type WorkerConcurrency } from '../src/worker/worker';
import { installRuntime } from '../src/worker/runtime';
import { startSimulator, type RequestLogEntry, type Simulator } from '../src/llm/simulator';
import { submitBatch, queryProgress } from '../src/api';
import { parseBatchInput } from '../src/config/schema';
import { createLlmActivities } from '../src/activities/llm';
import { createToolActivities } from '../src/activities/tools';
import { createOutputActivities } from '../src/activities/outputs';
import { sampleTree, expectedTreeSize } from '../src/domain/tree';
import { selectTrajectories } from '../src/domain/selection';
import { buildQaRecord, buildTrajectoryRecord } from '../src/domain/records';
import { validateQa } from '../src/domain/validate';
import { emptySeedCounters } from '../src/domain/statistics';
import { qaId } from '../src/domain/ids';
import { MODE_TOOLS, batchWorkflowId } from '../src/shared/constants';
import type { BatchResult, QaRecord, RateLimits, Seed, SeedResultFile, SynthesisConfig } from '../src/shared/types';

// ------------------------------------------------------------------------------------------------ settings

const ROOT = projectRoot();
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const STATE = path.join(ROOT, '.state', 'bench');
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const onlyArg = argv.find((a, i) => argv[i - 1] === '--only') ?? argv.find((a) => a.startsWith('--only='))?.slice(7);
/** V8 flags of bin/qasynth.js's shebang and the Dockerfile's NODE_OPTIONS (bounded heap). */
const WORKER_NODE_FLAGS = ['--max-old-space-size=384', '--max-semi-space-size=4'];

const ALL_BENCHES = ['throughput', 'ratelimit', 'overhead', 'memory'] as const;
type BenchName = (typeof ALL_BENCHES)[number];
const ONLY = new Set<BenchName>((onlyArg ? onlyArg.split(',') : ALL_BENCHES) as BenchName[]);
for (const b of ONLY) if (!ALL_BENCHES.includes(b)) throw new Error(`--only: unknown benchmark ${b}; valid: ${ALL_BENCHES.join(', ')}`);

/** The tree of every benchmark: math mode, D=3, b=2, t=2 → 10 nodes, 4 leaves, 2 QA per seed. */
const TREE = { max_depth: 3, branching_factor: 2, depth_threshold: 2, min_depth: 2, max_selected_traj: 2, max_retries: 3 };

const SETTINGS = {
  tree: TREE,
  throughput: {
    latency_ms: 500,
    workers: QUICK ? [1, 4] : [1, 4, 16, 64],
    /** Seeds per setting: max(3 × workers, 8) so every setting runs ≥ 3 waves (8 for the serial baseline). */
    seeds_rule: 'max(3 × max_workers, 8)',
  },
  ratelimit: {
    requests_per_minute: 600,
    latency_ms: 50,
    max_workers: 32,
    /** Seeds of the unlimited probe that measures the natural demand. */
    demand_probe_seeds: QUICK ? 8 : 32,
    /** Steady state = the middle 80 % of the answered (200) requests: [p10, p90] of their arrival times. */
    steady_state: 'middle 80% of 200-answered requests',
    /**
     * `quota`: the provider's per-minute quota as a 60 s sliding window; `strict`: the same quota enforced per
     * second (10 per sliding 1 s, as providers that quantise their limits do); qasynth's limit at the quota ÷ 60.
     */
    cases: [
      { name: 'quota-limited', window_ms: 60_000, qasynth_fraction_of_quota: 1, seeds: QUICK ? 30 : 80 },
      { name: 'quota-unlimited', window_ms: 60_000, qasynth_fraction_of_quota: null, seeds: QUICK ? 30 : 80 },
      { name: 'strict-limited', window_ms: 1000, qasynth_fraction_of_quota: 1, seeds: QUICK ? 20 : 40 },
      { name: 'strict-unlimited', window_ms: 1000, qasynth_fraction_of_quota: null, seeds: QUICK ? 20 : 40 },
    ] satisfies RateCase[],
  },
  overhead: {
    latency_ms: 0,
    serial_seeds: QUICK ? 4 : 10,
    concurrent_seeds: QUICK ? 16 : 48,
    concurrency: 16,
    warmup_seeds: 2,
  },
  memory: {
    latency_ms: 500,
    max_workers: 64,
    seeds: QUICK ? 64 : 128,
    sample_every_ms: 200,
  },
};

/** Worker caps for a benchmark with `workers` seeds at once: high enough never to throttle it. */
function workerCaps(workers: number): WorkerConcurrency {
  return {
    llm: Math.max(DEFAULT_CONCURRENCY.llm, workers * 2),
    tools: Math.max(DEFAULT_CONCURRENCY.tools, workers),
    cachedWorkflows: Math.max(DEFAULT_CONCURRENCY.cachedWorkflows, workers * 2 + 10),
  };
}

// ------------------------------------------------------------------------------------------------ helpers

const T0 = Date.now();
const QUIET = new DefaultLogger('WARN');
function progress(msg: string): void {
  process.stderr.write(`[bench +${((Date.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}

const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

const TOPICS = [
  'prime numbers', 'Fibonacci sequence', 'golden ratio', 'Pythagorean triples', 'perfect numbers', 'Euler totient',
  'Catalan numbers', 'Mersenne primes', 'triangular numbers', 'harmonic series', 'Collatz conjecture', 'pi digits',
  'factorials', 'binomial coefficients', 'geometric series', 'modular arithmetic',
];
/** Deterministic, distinct seeds; every benchmark takes a prefix, so settings share the same seeds. */
function benchSeeds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${TOPICS[i % TOPICS.length]} (bench seed ${i + 1})`);
}

function benchConfig(maxWorkers: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    environment_mode: 'math',
    model_name: 'qasynth-sim',
    seed_description: 'math topic',
    ...TREE,
    max_workers: maxWorkers,
    ...extra,
  };
}

let clkTck = 100;
try {
  clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
} catch {
  /* default */
}
/** CPU time (ms, user + system) of a process and its reaped children, from /proc (Linux). */
function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11..14] = utime, stime, cutime, cstime (fields 14–17 of stat(5))
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return (ticks * 1000) / clkTck;
  } catch {
    return NaN;
  }
}

/** Busy and total CPU time of the whole machine (ms summed over cores), from /proc/stat. */
function machineCpuMs(): { busy: number; total: number } {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3]! + f[4]!;
    return { busy: ((total - idle) * 1000) / clkTck, total: (total * 1000) / clkTck };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

function procStatusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

interface Env {
  server: DevServer;
  connection: Connection;
  native: NativeConnection;
  client: Client;
}

async function withServer<T>(name: string, fn: (env: Env) => Promise<T>): Promise<T> {
  // Failed activity attempts (the rate-limit benchmark's 429s) are expected: keep the SDK to errors unless asked.
  installRuntime((process.env.QASYNTH_LOG_LEVEL?.toUpperCase() as 'ERROR' | undefined) ?? 'ERROR');
  fs.mkdirSync(STATE, { recursive: true });
  const server = await startDevServer({ uiPort: null, logTo: path.join(STATE, `server-${name}.log`), log: progress });
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  try {
    return await fn({ server, connection, native, client: new Client({ connection, namespace: 'default' }) });
  } finally {
    await native.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await server.stop();
  }
}

async function withSimulator<T>(opts: Parameters<typeof startSimulator>[0], fn: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(opts);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

async function withWorker<T>(
  env: Env,
  opts: { taskQueue: string; llmUrl: string; caps: WorkerConcurrency; rateLimits?: RateLimits },
  fn: () => Promise<T>,
): Promise<T> {
  const llm = new OpenAI({ baseURL: opts.llmUrl, apiKey: 'bench-key', maxRetries: 0, timeout: 120_000 });
  const workers = await createWorkers({
    connection: env.native,
    namespace: 'default',
    taskQueue: opts.taskQueue,
    concurrency: opts.caps,
    rateLimits: opts.rateLimits,
    llmClient: () => llm,
  });
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const run = runWorkers(workers, stopped);
  try {
    return await fn();
  } finally {
    stop();
    await run;
  }
}

interface BatchRun {
  wall_ms: number;
  result: BatchResult;
  /** CPU ms of the dev server and of this process (in-process worker + simulator + driver) during the batch. */
  server_cpu_ms: number;
  bench_process_cpu_ms: number;
  extra_cpu_ms?: number;
  /** CPU busy on the whole machine during the batch (ms over all cores), and what other processes used of it. */
  machine_busy_ms: number;
  others_cpu_ms: number;
  load_avg_1m_end: number;
}

/** Submits a batch, prints progress every 2 s, waits for its result. Wall time = submit → result. */
async function runBatch(
  env: Env,
  opts: { label: string; taskQueue: string; runId: string; config: Record<string, unknown>; seeds: string[]; extraPid?: number; sim?: Simulator },
): Promise<BatchRun> {
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-'));
  const sCpu0 = procCpuMs(env.server.pid);
  const xCpu0 = opts.extraPid ? procCpuMs(opts.extraPid) : 0;
  const pCpu0 = process.cpuUsage();
  const m0 = machineCpuMs();
  const t0 = performance.now();
  const sub = await submitBatch(env.client, { run_id: opts.runId, config: opts.config, seeds: opts.seeds, output_dir: outputDir }, { taskQueue: opts.taskQueue });
  const timer = setInterval(() => {
    queryProgress(sub.handle).then(
      (p) => progress(`  ${opts.label}: ${p.counters.seeds_done}/${p.seeds_total} seeds done, ${p.running.length} running${opts.sim ? `, ${opts.sim.requests().length} LLM requests` : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
      () => undefined,
    );
  }, 2000);
  try {
    const result = await sub.handle.result();
    const wall = performance.now() - t0;
    const pCpu = process.cpuUsage(pCpu0);
    const m1 = machineCpuMs();
    const serverCpu = procCpuMs(env.server.pid) - sCpu0;
    const benchCpu = (pCpu.user + pCpu.system) / 1000;
    const extraCpu = opts.extraPid ? procCpuMs(opts.extraPid) - xCpu0 : 0;
    const busy = m1.busy - m0.busy;
    return {
      wall_ms: wall,
      result,
      server_cpu_ms: serverCpu,
      bench_process_cpu_ms: benchCpu,
      ...(opts.extraPid ? { extra_cpu_ms: extraCpu } : {}),
      machine_busy_ms: busy,
      others_cpu_ms: Math.max(0, busy - serverCpu - benchCpu - extraCpu),
      load_avg_1m_end: os.loadavg()[0]!,
    };
  } finally {
    clearInterval(timer);
    fs.rmSync(outputDir, { recursive: true, force: true });
  }
}

/** Activity executions and workflow tasks in a batch's histories (parent + every child). */
async function historyCounts(env: Env, runId: string): Promise<{ activities: number; workflow_tasks: number; events: number; workflows: number }> {
  const parentId = batchWorkflowId(runId);
  const ids = [parentId];
  for await (const wf of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${parentId}/"` })) ids.push(wf.workflowId);
  let activities = 0;
  let workflowTasks = 0;
  let events = 0;
  for (const id of ids) {
    const h = await env.client.workflow.getHandle(id).fetchHistory();
    for (const e of h.events ?? []) {
      events += 1;
      if (e.activityTaskCompletedEventAttributes) activities += 1;
      if (e.workflowTaskCompletedEventAttributes) workflowTasks += 1;
    }
  }
  return { activities, workflow_tasks: workflowTasks, events, workflows: ids.length };
}

function chatLog(sim: Simulator): RequestLogEntry[] {
  return sim.requests().filter((e) => e.kind !== 'embedding' && e.kind !== 'invalid');
}

// ------------------------------------------------------------------------------------------------ 1. throughput

interface ThroughputRow {
  max_workers: number;
  seeds: number;
  wall_s: number;
  seeds_per_min: number;
  speedup: number;
  parallel_efficiency: number;
  /** seeds/min ÷ (max_workers × 60 s ÷ the LLM-bound minimum seed time). */
  efficiency_vs_ideal: number;
  llm_requests: number;
  llm_requests_per_s: number;
  failed_seeds: number;
  server_cpu_pct: number;
  worker_process_cpu_pct: number;
  /** CPU used by processes outside this benchmark during the run (other work on the machine), % of one core. */
  other_processes_cpu_pct: number;
  load_avg_1m: number;
  caps: WorkerConcurrency;
}

async function benchThroughput(): Promise<{ rows: ThroughputRow[]; ideal_seed_s: number }> {
  const s = SETTINGS.throughput;
  const llmCallsPerSeed = expectedTreeSize(TREE.max_depth, TREE.branching_factor, TREE.depth_threshold).nodes + TREE.max_selected_traj;
  const idealSeedS = (llmCallsPerSeed * s.latency_ms) / 1000;
  const rows: ThroughputRow[] = [];
  for (const w of s.workers) {
    const n = Math.max(3 * w, 8);
    const caps = workerCaps(w);
    progress(`throughput: max_workers=${w}, ${n} seeds, LLM latency ${s.latency_ms} ms, worker caps ${JSON.stringify(caps)}`);
    const row = await withServer(`throughput-${w}`, (env) =>
      withSimulator({ latencyMs: s.latency_ms }, (sim) =>
        withWorker(env, { taskQueue: `bench-tp-${w}`, llmUrl: sim.url, caps }, async () => {
          const run = await runBatch(env, {
            label: `w=${w}`, taskQueue: `bench-tp-${w}`, runId: `bench-tp-${w}-${Date.now()}`,
            config: benchConfig(w), seeds: benchSeeds(n), sim,
          });
          const reqs = chatLog(sim).length;
          const wallS = run.wall_ms / 1000;
          const r: ThroughputRow = {
            max_workers: w, seeds: n, wall_s: round(wallS, 1), seeds_per_min: round((n / wallS) * 60, 1),
            speedup: 0, parallel_efficiency: 0,
            efficiency_vs_ideal: round((n / wallS) / (w / idealSeedS), 3),
            llm_requests: reqs, llm_requests_per_s: round(reqs / wallS, 1),
            failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
            server_cpu_pct: round((run.server_cpu_ms / run.wall_ms) * 100, 0),
            worker_process_cpu_pct: round((run.bench_process_cpu_ms / run.wall_ms) * 100, 0),
            other_processes_cpu_pct: round((run.others_cpu_ms / run.wall_ms) * 100, 0),
            load_avg_1m: round(run.load_avg_1m_end, 1),
            caps,
          };
          progress(`throughput: max_workers=${w}: ${r.seeds_per_min} seeds/min in ${r.wall_s} s; server CPU ${r.server_cpu_pct} %, worker process CPU ${r.worker_process_cpu_pct} %, other processes ${r.other_processes_cpu_pct} %, load ${r.load_avg_1m}`);
          return r;
        }),
      ),
    );
    rows.push(row);
  }
  const base = rows.find((r) => r.max_workers === 1)?.seeds_per_min ?? NaN;
  for (const r of rows) {
    r.speedup = round(r.seeds_per_min / base, 2);
    r.parallel_efficiency = round(r.seeds_per_min / base / r.max_workers, 3);
  }
  return { rows, ideal_seed_s: idealSeedS };
}

// ------------------------------------------------------------------------------------------------ 2. rate limit

interface RateCase {
  name: string;
  window_ms: number;
  /** qasynth's `rate_limits.llm_requests_per_second`, as a fraction of the quota (null = unset). */
  qasynth_fraction_of_quota: number | null;
  seeds: number;
}

interface RateRun {
  case: string;
  window_ms: number;
  qasynth_llm_rps: number | null;
  seeds: number;
  wall_s: number;
  requests: number;
  answered_200: number;
  answered_429: number;
  share_429: number;
  steady_window_s: number;
  steady_requests_per_min: number;
  /** 429 share among the requests that arrived inside the steady-state window. */
  steady_share_429: number;
  utilisation: number;
  overall_200_per_min: number;
  /** Most requests (any status) that arrived in one sliding second. */
  max_arrivals_per_s: number;
  failed_seeds: number;
  other_processes_cpu_pct: number;
}

function rateStats(log: RequestLogEntry[], rpm: number): Omit<RateRun, 'case' | 'window_ms' | 'qasynth_llm_rps' | 'seeds' | 'wall_s' | 'failed_seeds' | 'other_processes_cpu_pct'> {
  const ok = log.filter((e) => e.status === 200).map((e) => e.at_ms).sort((a, b) => a - b);
  const n429 = log.filter((e) => e.status === 429).length;
  const lo = Math.floor(ok.length * 0.1);
  const hi = Math.ceil(ok.length * 0.9) - 1;
  const tLo = ok[lo]!;
  const tHi = ok[hi]!;
  const spanMs = tHi - tLo;
  const steady = spanMs > 0 ? ((hi - lo) / spanMs) * 60_000 : NaN;
  const inSteady = log.filter((e) => e.at_ms >= tLo && e.at_ms <= tHi);
  const overallSpan = ok[ok.length - 1]! - ok[0]!;
  const all = log.map((e) => e.at_ms).sort((a, b) => a - b);
  let maxPerS = 0;
  for (let i = 0, j = 0; i < all.length; i++) {
    while (all[i]! - all[j]! >= 1000) j++;
    maxPerS = Math.max(maxPerS, i - j + 1);
  }
  return {
    requests: log.length,
    answered_200: ok.length,
    answered_429: n429,
    share_429: round(n429 / log.length, 4),
    steady_window_s: round(spanMs / 1000, 1),
    steady_requests_per_min: round(steady, 1),
    steady_share_429: round(inSteady.filter((e) => e.status === 429).length / Math.max(1, inSteady.length), 4),
    utilisation: round(steady / rpm, 3),
    overall_200_per_min: round(overallSpan > 0 ? ((ok.length - 1) / overallSpan) * 60_000 : NaN, 1),
    max_arrivals_per_s: maxPerS,
  };
}

async function benchRateLimit(): Promise<{ demand_requests_per_min: number; runs: RateRun[] }> {
  const s = SETTINGS.ratelimit;
  const caps = workerCaps(s.max_workers);
  // Natural demand: the same settings with no limit anywhere.
  progress(`ratelimit: probing natural demand (${s.demand_probe_seeds} seeds, max_workers ${s.max_workers}, no limits)`);
  const demand = await withServer('ratelimit-demand', (env) =>
    withSimulator({ latencyMs: s.latency_ms }, (sim) =>
      withWorker(env, { taskQueue: 'bench-rl-demand', llmUrl: sim.url, caps }, async () => {
        await runBatch(env, { label: 'demand', taskQueue: 'bench-rl-demand', runId: `bench-rl-demand-${Date.now()}`, config: benchConfig(s.max_workers), seeds: benchSeeds(s.demand_probe_seeds), sim });
        return rateStats(chatLog(sim), s.requests_per_minute).steady_requests_per_min;
      }),
    ),
  );
  progress(`ratelimit: natural demand ≈ ${demand} requests/min vs quota ${s.requests_per_minute}/min`);

  const runs: RateRun[] = [];
  for (const c of s.cases) {
    const rps = c.qasynth_fraction_of_quota === null ? null : round((s.requests_per_minute / 60) * c.qasynth_fraction_of_quota, 3);
    const rateLimits: RateLimits = rps ? { llm_requests_per_second: rps } : {};
    const config = benchConfig(s.max_workers, rps ? { rate_limits: rateLimits } : {});
    const q = `bench-rl-${c.name}`;
    progress(`ratelimit ${c.name}: ${c.seeds} seeds, simulator quota ${s.requests_per_minute}/min over a ${c.window_ms} ms sliding window, qasynth llm_requests_per_second=${rps ?? 'unset'}`);
    const r = await withServer(q, (env) =>
      withSimulator({ latencyMs: s.latency_ms, rateLimit: { requestsPerMinute: s.requests_per_minute, windowMs: c.window_ms } }, (sim) =>
        // The config's rate_limits are applied by the worker (createWorkers({rateLimits})), as `qasynth run` does.
        withWorker(env, { taskQueue: q, llmUrl: sim.url, caps, rateLimits }, async () => {
          const run = await runBatch(env, { label: q, taskQueue: q, runId: `${q}-${Date.now()}`, config, seeds: benchSeeds(c.seeds), sim });
          return {
            case: c.name,
            window_ms: c.window_ms,
            qasynth_llm_rps: rps,
            seeds: c.seeds,
            wall_s: round(run.wall_ms / 1000, 1),
            ...rateStats(chatLog(sim), s.requests_per_minute),
            failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
            other_processes_cpu_pct: round((run.others_cpu_ms / run.wall_ms) * 100, 0),
          } satisfies RateRun;
        }),
      ),
    );
    progress(`ratelimit ${c.name}: utilisation ${r.utilisation}, 429 share ${(r.share_429 * 100).toFixed(1)} % (steady ${(r.steady_share_429 * 100).toFixed(1)} %), failed seeds ${r.failed_seeds}`);
    runs.push(r);
  }
  return { demand_requests_per_min: demand, runs };
}

// ------------------------------------------------------------------------------------------------ 3. overhead

/** The seed workflow's logic (tree → selection → QA → result file) with the activity functions called directly. */
async function plainSeed(
  acts: { llm: ReturnType<typeof createLlmActivities>; tools: ReturnType<typeof createToolActivities>; out: ReturnType<typeof createOutputActivities> },
  config: SynthesisConfig,
  seed: Seed,
  runId: string,
  outputDir: string,
  index: number,
): Promise<{ activities: number }> {
  const act = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment(undefined, { logger: QUIET }).run(fn, ...args) as Promise<R>;
  let activities = 1;
  await act(acts.out.loadSeedResult, { run_id: runId, output_dir: outputDir, source_id: seed.source_id });
  const toolNames = config.available_tools.length ? config.available_tools : [...MODE_TOOLS[config.environment_mode]];
  const counters = emptySeedCounters();
  const tree = await sampleTree({
    config,
    seedText: seed.text,
    sourceId: seed.source_id,
    deps: {
      chooseAction: (req) => {
        activities += 1;
        return act(acts.llm.chooseAction, {
          model: config.model_name, tool_calling: config.tool_calling, temperature: req.temperature, sampling_seed: req.samplingSeed,
          seed_text: seed.text, seed_description: config.seed_description, sampling_tips: config.sampling_tips,
          qa_examples: config.qa_examples.slice(0, 2), tools: toolNames, history: req.history,
          current_observation: req.current.observation, attempt: req.attempt, executed_actions: req.executedActions,
        });
      },
      runTool: (action) => {
        activities += 1;
        return act(acts.tools.runTool, {
          mode: config.environment_mode, environment_kwargs: config.environment_kwargs, tool_name: action.tool_name,
          parameters: action.parameters, summary_model: config.model_name,
        });
      },
    },
  });
  counters.nodes = tree.nodes.length - 1;
  const selected = selectTrajectories(tree.nodes, { min_depth: config.min_depth, max_selected_traj: config.max_selected_traj, toolCount: toolNames.length, sourceId: seed.source_id });
  const qas: QaRecord[] = [];
  for (const [rank, sel] of selected.entries()) {
    const steps = sel.path.map((n) => ({ intent: n.intent, tool_name: n.action?.tool_name ?? '', parameters: n.action?.parameters ?? {}, observation: n.observation }));
    let rejection: string | undefined;
    for (let attempt = 0; attempt < config.max_retries; attempt++) {
      activities += 1;
      const res = await act(acts.llm.synthesizeQa, {
        model: config.qa_model_name ?? config.model_name, temperature: Math.round((0.7 + 0.1 * attempt) * 10) / 10, seed_text: seed.text,
        seed_description: config.seed_description, synthesis_tips: config.synthesis_tips, qa_examples: config.qa_examples, steps, previous_rejection: rejection,
      });
      const problem = res.ok ? validateQa(res) : res.reason;
      if (res.ok && !problem) {
        qas.push(buildQaRecord({
          question: res.question, answer: res.answer, reasoning_steps: res.reasoning_steps, trajectory_id: sel.trajectory_id,
          source_id: seed.source_id, qa_id: qaId(sel.trajectory_id, rank), seed_data: seed.text, seed_description: config.seed_description,
          trajectory_depth: sel.path.length, synthesis_date: new Date().toISOString(), environment_mode: config.environment_mode, attempts: attempt + 1,
        }));
        rejection = undefined;
        break;
      }
      rejection = problem ?? 'unknown';
    }
  }
  const result: SeedResultFile = {
    run_id: runId, source_id: seed.source_id, index, seed_data: seed.text, started_at: new Date().toISOString(), counters,
    status: 'succeeded', finished_at: new Date().toISOString(), qas,
    trajectories: selected.map((sel) => buildTrajectoryRecord(sel, seed.source_id, seed.text)),
  };
  activities += 1;
  await act(acts.out.writeSeedResult, { output_dir: outputDir, result });
  return { activities };
}

/** A batch in a plain loop: prepareRun, ≤ `concurrency` seeds at a time, writeOutputs — no Temporal. */
async function plainBatch(llmUrl: string, seedTexts: string[], concurrency: number): Promise<{ wall_ms: number; activities: number; cpu_ms: number }> {
  const llm = new OpenAI({ baseURL: llmUrl, apiKey: 'bench-key', maxRetries: 0, timeout: 120_000 });
  const acts = { llm: createLlmActivities({ client: () => llm }), tools: createToolActivities({ llmClient: () => llm }), out: createOutputActivities() };
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-plain-'));
  const runId = `plain-${Date.now()}`;
  const parsed = parseBatchInput({ run_id: runId, config: benchConfig(concurrency), seeds: seedTexts, output_dir: outputDir });
  if (!parsed.ok) throw new Error(`bench config invalid: ${parsed.issues.join('; ')}`);
  const { config, seeds } = parsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const env = new MockActivityEnvironment(undefined, { logger: QUIET });
  await env.run(acts.out.prepareRun, { run_id: runId, output_dir: outputDir, config, seeds, duplicates_dropped: 0, started_at: new Date().toISOString() });
  let activities = 2;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, seeds.length) }, async () => {
      while (next < seeds.length) {
        const i = next++;
        // (not `activities += await …`: that reads `activities` before the await and loses concurrent updates)
        const done = await plainSeed(acts, config, seeds[i]!, runId, outputDir, i);
        activities += done.activities;
      }
    }),
  );
  await env.run(acts.out.writeOutputs, { run_id: runId, output_dir: outputDir, mode: config.environment_mode, timestamp: '20000101_000000', completion: 'complete' as const });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  fs.rmSync(outputDir, { recursive: true, force: true });
  return { wall_ms: wall, activities, cpu_ms: (cpu.user + cpu.system) / 1000 };
}

interface OverheadCase {
  seeds: number;
  concurrency: number;
  nodes: number;
  temporal_wall_s: number;
  temporal_activities: number;
  temporal_activities_per_s: number;
  temporal_workflow_tasks: number;
  temporal_server_cpu_s: number;
  temporal_worker_process_cpu_s: number;
  temporal_other_processes_cpu_pct: number;
  plain_wall_s: number;
  plain_activities: number;
  plain_activities_per_s: number;
  plain_cpu_s: number;
  temporal_ms_per_node: number;
  plain_ms_per_node: number;
  added_ms_per_node: number;
  added_ms_per_activity: number;
}

async function benchOverhead(): Promise<{ serial: OverheadCase; concurrent: OverheadCase }> {
  const s = SETTINGS.overhead;
  const nodesPerSeed = expectedTreeSize(TREE.max_depth, TREE.branching_factor, TREE.depth_threshold).nodes;
  return withSimulator({ latencyMs: s.latency_ms }, async (sim) => {
    const one = async (seedCount: number, concurrency: number): Promise<OverheadCase> => {
      const seeds = benchSeeds(seedCount);
      const caps = workerCaps(concurrency);
      const q = `bench-oh-${concurrency}`;
      progress(`overhead: Temporal, ${seedCount} seeds, max_workers ${concurrency}, zero LLM latency`);
      const t = await withServer(q, (env) =>
        withWorker(env, { taskQueue: q, llmUrl: sim.url, caps }, async () => {
          await runBatch(env, { label: `${q} warm-up`, taskQueue: q, runId: `${q}-warm-${Date.now()}`, config: benchConfig(concurrency), seeds: benchSeeds(s.warmup_seeds).map((x) => `warm-up ${x}`) });
          const runId = `${q}-${Date.now()}`;
          const run = await runBatch(env, { label: q, taskQueue: q, runId, config: benchConfig(concurrency), seeds });
          if (run.result.seeds_failed + run.result.seeds_missing) throw new Error(`overhead: ${run.result.seeds_failed} seeds failed`);
          return { run, counts: await historyCounts(env, runId) };
        }),
      );
      progress(`overhead: plain loop, ${seedCount} seeds, ${concurrency} at once`);
      await plainBatch(sim.url, benchSeeds(s.warmup_seeds).map((x) => `warm-up ${x}`), concurrency);
      const p = await plainBatch(sim.url, seeds, concurrency);
      const nodes = seedCount * nodesPerSeed;
      const tWall = t.run.wall_ms;
      // Per node = per unit of tree work, normalised by concurrency (wall time × seeds at once ÷ nodes).
      const perNode = (wall: number) => (wall * Math.min(concurrency, seedCount)) / nodes;
      const c: OverheadCase = {
        seeds: seedCount,
        concurrency,
        nodes,
        temporal_wall_s: round(tWall / 1000, 2),
        temporal_activities: t.counts.activities,
        temporal_activities_per_s: round(t.counts.activities / (tWall / 1000), 1),
        temporal_workflow_tasks: t.counts.workflow_tasks,
        temporal_server_cpu_s: round(t.run.server_cpu_ms / 1000, 1),
        temporal_worker_process_cpu_s: round(t.run.bench_process_cpu_ms / 1000, 1),
        temporal_other_processes_cpu_pct: round((t.run.others_cpu_ms / t.run.wall_ms) * 100, 0),
        plain_wall_s: round(p.wall_ms / 1000, 2),
        plain_activities: p.activities,
        plain_activities_per_s: round(p.activities / (p.wall_ms / 1000), 1),
        plain_cpu_s: round(p.cpu_ms / 1000, 1),
        temporal_ms_per_node: round(perNode(tWall), 1),
        plain_ms_per_node: round(perNode(p.wall_ms), 1),
        added_ms_per_node: round(perNode(tWall) - perNode(p.wall_ms), 1),
        added_ms_per_activity: round(((tWall - p.wall_ms) * Math.min(concurrency, seedCount)) / t.counts.activities, 1),
      };
      progress(`overhead (${concurrency} at once): Temporal ${c.temporal_activities_per_s} activities/s, plain ${c.plain_activities_per_s}/s; +${c.added_ms_per_node} ms per node`);
      return c;
    };
    const serial = await one(s.serial_seeds, 1);
    const concurrent = await one(s.concurrent_seeds, s.concurrency);
    return { serial, concurrent };
  });
}

// ------------------------------------------------------------------------------------------------ 4. memory

/** Compiles src/ into a private folder (not dist/, which other work may be using) and prebuilds the workflow bundle. */
function privateBuild(): string {
  const out = path.join(STATE, 'dist');
  progress(`memory: compiling the worker into ${path.relative(ROOT, out)} (tsc + workflow bundle)`);
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
  if (!fs.existsSync(path.join(out, 'cli', 'main.js'))) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  if (tsc.status !== 0) progress(`memory: warning: tsc reported errors (JS was emitted):\n${tsc.stdout.slice(0, 2000)}`);
  const bundle = spawnSync(process.execPath, [path.join(out, 'worker', 'build-bundle.js')], { cwd: ROOT, encoding: 'utf8' });
  if (bundle.status !== 0) throw new Error(`workflow bundle failed:\n${bundle.stdout}${bundle.stderr}`);
  return out;
}

async function startChildWorker(dist: string, address: string, taskQueue: string, llmUrl: string, caps: WorkerConcurrency): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    // The V8 flags the `qasynth` launcher (bin/qasynth.js) and the Dockerfile set: what users run.
    [...WORKER_NODE_FLAGS, path.join(dist, 'cli', 'main.js'), 'worker', '--address', address, '--task-queue', taskQueue, '--llm-concurrency', String(caps.llm), '--tool-concurrency', String(caps.tools)],
    { cwd: ROOT, env: { ...process.env, OPENAI_BASE_URL: llmUrl, OPENAI_API_KEY: 'bench-key' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/qasynth worker:/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${stderr}`));
    });
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[worker] ${d}`));
  return child;
}

interface MemoryResult {
  max_workers: number;
  seeds: number;
  wall_s: number;
  failed_seeds: number;
  idle_rss_mb: number;
  peak_rss_mb: number;
  vm_hwm_mb: number;
  samples: number;
  worker_cpu_pct: number;
  server_cpu_pct: number;
  other_processes_cpu_pct: number;
  caps: WorkerConcurrency;
  worker_command: string;
}

async function benchMemory(): Promise<MemoryResult> {
  const s = SETTINGS.memory;
  const dist = privateBuild();
  const caps = { ...DEFAULT_CONCURRENCY, llm: Math.max(DEFAULT_CONCURRENCY.llm, s.max_workers), tools: s.max_workers };
  return withServer('memory', (env) =>
    withSimulator({ latencyMs: s.latency_ms }, async (sim) => {
      const q = 'bench-mem';
      const child = await startChildWorker(dist, env.server.address, q, sim.url, caps);
      const pid = child.pid!;
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const idle = procStatusKb(pid, 'VmRSS');
        let peak = idle;
        let samples = 0;
        const sampler = setInterval(() => {
          const rss = procStatusKb(pid, 'VmRSS');
          if (rss > peak) peak = rss;
          samples += 1;
        }, s.sample_every_ms);
        progress(`memory: worker pid ${pid} idle RSS ${(idle / 1024).toFixed(0)} MB; running ${s.seeds} seeds at max_workers ${s.max_workers}`);
        let run: BatchRun;
        try {
          run = await runBatch(env, { label: 'memory', taskQueue: q, runId: `bench-mem-${Date.now()}`, config: benchConfig(s.max_workers), seeds: benchSeeds(s.seeds), extraPid: pid, sim });
        } finally {
          clearInterval(sampler);
        }
        const hwm = procStatusKb(pid, 'VmHWM');
        const r: MemoryResult = {
          max_workers: s.max_workers,
          seeds: s.seeds,
          wall_s: round(run.wall_ms / 1000, 1),
          failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
          idle_rss_mb: round(idle / 1024, 0),
          peak_rss_mb: round(peak / 1024, 0),
          vm_hwm_mb: round(hwm / 1024, 0),
          samples,
          worker_cpu_pct: round(((run.extra_cpu_ms ?? NaN) / run.wall_ms) * 100, 0),
          server_cpu_pct: round((run.server_cpu_ms / run.wall_ms) * 100, 0),
          other_processes_cpu_pct: round((run.others_cpu_ms / run.wall_ms) * 100, 0),
          caps,
          worker_command: `node ${WORKER_NODE_FLAGS.join(' ')} ${path.relative(ROOT, path.join(dist, 'cli', 'main.js'))} worker --address <dev server> --task-queue ${q} --llm-concurrency ${caps.llm} --tool-concurrency ${caps.tools}`,
        };
        progress(`memory: peak RSS ${r.peak_rss_mb} MB (VmHWM ${r.vm_hwm_mb} MB), ${r.samples} samples`);
        return r;
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      }
    }),
  );
}

// ------------------------------------------------------------------------------------------------ report

function machine() {
  const cpus = os.cpus();
  const bin = ensureTemporalCli(ROOT);
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  let sdk = 'unknown';
  try {
    sdk = (JSON.parse(fs.readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* keep unknown */
  }
  return {
    date: new Date().toISOString(),
    cpu_model: cpus[0]?.model ?? 'unknown',
    cpu_cores: cpus.length,
    memory_total_gb: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporal_cli: version,
    temporal_sdk: sdk,
    git_commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() || null,
    git_dirty: spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '',
  };
}

type Results = {
  machine: ReturnType<typeof machine>;
  settings: typeof SETTINGS & { quick: boolean; dev_server: string };
  throughput?: Awaited<ReturnType<typeof benchThroughput>>;
  ratelimit?: Awaited<ReturnType<typeof benchRateLimit>>;
  overhead?: Awaited<ReturnType<typeof benchOverhead>>;
  memory?: MemoryResult;
  errors: Record<string, string>;
  duration_s?: number;
  /** When each section was measured (sections not re-run by --only come from the previous latest.json). */
  section_dates?: Record<string, string>;
};

const pass = (ok: boolean) => (ok ? '✅' : '❌');

function markdown(r: Results): string {
  const m = r.machine;
  const L: string[] = [];
  L.push(`# qasynth benchmarks`, '');
  L.push(`${m.date} · ${m.cpu_model}, ${m.cpu_cores} cores, ${m.memory_total_gb} GB · ${m.os} · Node ${m.node} · ${m.temporal_cli} · SDK ${m.temporal_sdk} · commit ${m.git_commit}${m.git_dirty ? ' (dirty)' : ''}${r.settings.quick ? ' · **--quick**' : ''}`, '');
  L.push(`Tree: math mode, D=${TREE.max_depth}, b=${TREE.branching_factor}, t=${TREE.depth_threshold} → 10 nodes, 2 QA per seed (12 LLM calls + 10 tool calls). Dev server: ${r.settings.dev_server}.`, '');
  if (r.throughput) {
    const tp = r.throughput;
    L.push(`## 1. Throughput vs max_workers (LLM latency ${SETTINGS.throughput.latency_ms} ms)`, '');
    L.push(`Seeds per setting: ${SETTINGS.throughput.seeds_rule}. Parallel efficiency = (seeds/min ÷ seeds/min at max_workers=1) ÷ max_workers. ` +
      `Ideal = LLM-bound minimum ${tp.ideal_seed_s} s per seed. CPU % = CPU time ÷ wall time (200 % = both cores).`, '');
    L.push('| max_workers | seeds | wall s | seeds/min | speed-up | parallel eff. | vs ideal | LLM req/s | failed | server CPU % | worker CPU % | others’ CPU % | load 1m | worker caps (llm/tools/cache) |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const x of tp.rows) {
      const target = x.max_workers === 16 ? 0.9 : x.max_workers === 64 ? 0.8 : null;
      L.push(`| ${x.max_workers} | ${x.seeds} | ${x.wall_s} | ${x.seeds_per_min} | ${x.speedup}× | ${x.parallel_efficiency}${target !== null ? ` ${pass(x.parallel_efficiency >= target)} (≥ ${target})` : ''} | ${x.efficiency_vs_ideal} | ${x.llm_requests_per_s} | ${x.failed_seeds} | ${x.server_cpu_pct} | ${x.worker_process_cpu_pct} | ${x.other_processes_cpu_pct} | ${x.load_avg_1m} | ${x.caps.llm}/${x.caps.tools}/${x.caps.cachedWorkflows} |`);
    }
    L.push('');
  }
  if (r.ratelimit) {
    const rl = r.ratelimit;
    const s = SETTINGS.ratelimit;
    L.push(`## 2. Rate-limit utilisation (simulated quota ${s.requests_per_minute} requests/min)`, '');
    L.push(`max_workers ${s.max_workers}, LLM latency ${s.latency_ms} ms; natural demand without limits ≈ ${rl.demand_requests_per_min} requests/min. ` +
      `The simulator admits ${s.requests_per_minute} requests per 60 s sliding window (\`quota\`), or the same quota per second, 10 per sliding 1 s (\`strict\`); over it: 429 + retry-after-ms. ` +
      `Utilisation = answered (200) requests/min in steady state ÷ quota; steady state = the middle 80 % of the answered requests ` +
      `(10th to 90th percentile of their arrival times), leaving out the start-up and the drain at the end. 429 share = 429 answers ÷ all LLM requests (in brackets: within the steady state).`, '');
    L.push('| case | window | qasynth `llm_requests_per_second` | seeds | wall s | requests | 429 | 429 share | steady s | steady req/min | utilisation | max req in 1 s | failed seeds | others’ CPU % |');
    L.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of rl.runs) {
      const lim = x.qasynth_llm_rps !== null;
      L.push(`| ${x.case} | ${x.window_ms / 1000} s | ${lim ? x.qasynth_llm_rps : 'unset'} | ${x.seeds} | ${x.wall_s} | ${x.requests} | ${x.answered_429} | ${(x.share_429 * 100).toFixed(1)} % (${(x.steady_share_429 * 100).toFixed(1)} %)${lim ? ` ${pass(x.share_429 <= 0.05)}` : ''} | ${x.steady_window_s} | ${x.steady_requests_per_min} | ${x.utilisation}${lim ? ` ${pass(x.utilisation >= 0.9)}` : ''} | ${x.max_arrivals_per_s} | ${x.failed_seeds}${lim ? ` ${pass(x.failed_seeds === 0)}` : ''} | ${x.other_processes_cpu_pct} |`);
    }
    L.push('');
  }
  if (r.overhead) {
    const o = r.overhead;
    L.push(`## 3. Orchestration overhead (zero-latency LLM)`, '');
    L.push(`The same activity functions (createLlmActivities / createToolActivities / createOutputActivities) driven by \`sampleTree\` in a plain loop vs. ` +
      `through Temporal. Per node = wall time × seeds at once ÷ tree nodes; added = Temporal − plain. Activities counted from the histories (Temporal) or calls (plain).`, '');
    L.push('| seeds at once | seeds | Temporal wall s | plain wall s | Temporal activities/s | plain activities/s | Temporal ms/node | plain ms/node | added ms/node | added ms/activity | workflow tasks | server CPU s | worker CPU s | others’ CPU % |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of [o.serial, o.concurrent]) {
      L.push(`| ${x.concurrency} | ${x.seeds} | ${x.temporal_wall_s} | ${x.plain_wall_s} | ${x.temporal_activities_per_s} | ${x.plain_activities_per_s} | ${x.temporal_ms_per_node} | ${x.plain_ms_per_node} | ${x.added_ms_per_node} | ${x.added_ms_per_activity} | ${x.temporal_workflow_tasks} | ${x.temporal_server_cpu_s} | ${x.temporal_worker_process_cpu_s} | ${x.temporal_other_processes_cpu_pct} |`);
    }
    L.push('');
  }
  if (r.memory) {
    const x = r.memory;
    L.push(`## 4. Worker peak memory (${x.max_workers} seeds at once, LLM latency ${SETTINGS.memory.latency_ms} ms)`, '');
    L.push(`Child process \`${x.worker_command}\`; VmRSS sampled every ${SETTINGS.memory.sample_every_ms} ms (${x.samples} samples).`, '');
    L.push('| seeds | wall s | failed | idle RSS MB | peak RSS MB | VmHWM MB | worker CPU % | server CPU % | others’ CPU % |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    L.push(`| ${x.seeds} | ${x.wall_s} | ${x.failed_seeds} | ${x.idle_rss_mb} | ${x.peak_rss_mb} ${pass(x.peak_rss_mb <= 500)} (≤ 500) | ${x.vm_hwm_mb} | ${x.worker_cpu_pct} | ${x.server_cpu_pct} | ${x.other_processes_cpu_pct} |`);
    L.push('');
  }
  const dates = Object.entries(r.section_dates ?? {}).filter(([, d]) => d !== m.date);
  if (dates.length) L.push(`Sections measured earlier (kept from the previous run): ${dates.map(([b, d]) => `${b} ${d}`).join(', ')}.`, '');
  for (const [k, v] of Object.entries(r.errors)) L.push(`**${k} failed:** \`${v.split('\n')[0]}\``, '');
  return L.join('\n');
}

async function main(): Promise<void> {
  const results: Results = {
    machine: machine(),
    settings: { ...SETTINGS, quick: QUICK, dev_server: 'temporal server start-dev, in memory, headless, default dynamic config; a fresh one per benchmark setting' },
    errors: {},
  };
  progress(`machine: ${results.machine.cpu_model} × ${results.machine.cpu_cores}, Node ${results.machine.node}, ${results.machine.temporal_cli}; running ${[...ONLY].join(', ')}`);
  const run = async <K extends BenchName>(name: K, fn: () => Promise<NonNullable<Results[K]>>) => {
    if (!ONLY.has(name)) return;
    const t = Date.now();
    try {
      (results as Record<string, unknown>)[name] = await fn();
    } catch (e) {
      results.errors[name] = (e as Error).stack ?? String(e);
      progress(`${name} FAILED: ${(e as Error).message}`);
    }
    progress(`${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  };
  await run('throughput', benchThroughput);
  await run('ratelimit', benchRateLimit);
  await run('overhead', benchOverhead);
  await run('memory', benchMemory);
  results.duration_s = round((Date.now() - T0) / 1000, 0);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const json = path.join(RESULTS_DIR, 'latest.json');
  // --only re-runs some benchmarks: keep the others' sections from the previous latest.json, with their date.
  results.section_dates = Object.fromEntries([...ONLY].map((b) => [b, results.machine.date]));
  if (ONLY.size < ALL_BENCHES.length && fs.existsSync(json)) {
    const prev = JSON.parse(fs.readFileSync(json, 'utf8')) as Results;
    for (const b of ALL_BENCHES) {
      if (ONLY.has(b) || prev[b] === undefined) continue;
      (results as Record<string, unknown>)[b] = prev[b];
      results.section_dates[b] = prev.section_dates?.[b] ?? prev.machine.date;
    }
  }
  const md = path.join(RESULTS_DIR, 'latest.md');
  fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  const text = markdown(results);
  fs.writeFileSync(md, `${text}\n`);
  process.stdout.write(`${text}\n`);
  progress(`results: ${path.relative(ROOT, json)}, ${path.relative(ROOT, md)} (${results.duration_s} s in all)`);
  if (Object.keys(results.errors).length) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
