/**
 * The shared harness of `npm run bench`: settings every benchmark shares (the tree, the seeds, the batch config),
 * the lifecycle of what a benchmark runs against (an in-memory dev server, the LLM simulator, an in-process or a
 * child-process `qasynth worker`), measurements read from /proc (CPU time and RSS per process, the machine's
 * busy time) and from the server (tasks and per-seed latency counted in the histories of a run).
 *
 * Linux only (/proc). Every figure's unit is in its name (`_ms`, `_s`, `_mb`, `_pct` = % of one core).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../src/server/dev-server';
import { ensureTemporalCli, projectRoot } from '../src/server/temporal-cli';
import { createWorkers, runWorkers, DEFAULT_CONCURRENCY, type WorkerConcurrency } from '../src/worker/worker';
import { installRuntime } from '../src/worker/runtime';
import { startSimulator, type FaultRule, type RequestLogEntry, type Simulator, type SimulatorOptions } from '../src/llm/simulator';
import { submitBatch, queryProgress } from '../src/api';
import { expectedTreeSize } from '../src/domain/tree';
import { batchWorkflowId } from '../src/shared/constants';
import type { BatchResult, RateLimits } from '../src/shared/types';

// ------------------------------------------------------------------------------------------------ paths, CLI

export const ROOT = projectRoot();
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
/** Scratch space of the bench (server logs, the private build); inside the worktree's ignored .state/. */
export const STATE = path.join(ROOT, '.state', 'bench');
/** V8 flags of bin/qasynth.js's shebang and the Dockerfile's NODE_OPTIONS (bounded heap): what users run. */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=384', '--max-semi-space-size=4'];

/** What every benchmark gets from the command line. */
export interface BenchContext {
  /** `--quick`: smaller settings for a smoke run; figures not comparable with a full run. */
  quick: boolean;
}

// ------------------------------------------------------------------------------------------------ the tree

/** Tree parameters of a batch config (the original system's keys). */
export interface Tree {
  max_depth: number;
  branching_factor: number;
  depth_threshold: number;
  min_depth: number;
  max_selected_traj: number;
  max_retries: number;
}

/**
 * The tree of every benchmark, issue 8's: math mode, D=4, b=2, t=2, min_depth 2, 3 selected paths →
 * 14 nodes (2 + 4 + 4 + 4), 4 leaves, 17 LLM calls (14 actions + 3 QA) and 14 calculator calls per seed.
 */
export const TREE: Tree = { max_depth: 4, branching_factor: 2, depth_threshold: 2, min_depth: 2, max_selected_traj: 3, max_retries: 3 };

/** What a tree costs when nothing fails, from the original's formula (N = Σ_{k=1..D} b^min(k,t) nodes). */
export interface TreeShape {
  nodes: number;
  leaves: number;
  /** One action call per node plus one QA call per selected path (selected ≤ leaves). */
  llm_calls: number;
  /** One tool call per node. */
  tool_calls: number;
  /** LLM calls in series when a seed is explored depth-first (explore_concurrency 1): all of them. */
  serial_llm_calls: number;
  /** LLM calls on the longest chain if siblings ran at once: one action per level, then one QA call. */
  critical_path_llm_calls: number;
}

/** {@link TreeShape} of `tree`. */
export function treeShape(tree: Tree): TreeShape {
  const { nodes, leaves } = expectedTreeSize(tree.max_depth, tree.branching_factor, tree.depth_threshold);
  const qa = Math.min(tree.max_selected_traj, leaves);
  return { nodes, leaves, llm_calls: nodes + qa, tool_calls: nodes, serial_llm_calls: nodes + qa, critical_path_llm_calls: tree.max_depth + 1 };
}

/** One-line description of a tree for reports, e.g. `D=4 b=2 t=2 min_depth 2, 3 paths (14 nodes; 17 LLM + 14 tool calls)`. */
export function describeTree(tree: Tree): string {
  const s = treeShape(tree);
  return `math mode, D=${tree.max_depth} b=${tree.branching_factor} t=${tree.depth_threshold} min_depth ${tree.min_depth}, ${tree.max_selected_traj} selected paths ` +
    `(${s.nodes} nodes; ${s.llm_calls} LLM + ${s.tool_calls} tool calls per seed)`;
}

const TOPICS = [
  'prime numbers', 'Fibonacci sequence', 'golden ratio', 'Pythagorean triples', 'perfect numbers', 'Euler totient',
  'Catalan numbers', 'Mersenne primes', 'triangular numbers', 'harmonic series', 'Collatz conjecture', 'pi digits',
  'factorials', 'binomial coefficients', 'geometric series', 'modular arithmetic',
];
/** `n` deterministic, distinct seed texts; every benchmark takes a prefix, so settings share the same seeds. */
export function benchSeeds(n: number, prefix = ''): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${TOPICS[i % TOPICS.length]} (bench seed ${i + 1})`);
}

/** The batch config of the benchmarks (math mode, the simulator's model), with `extra` keys on top. */
export function benchConfig(maxWorkers: number, extra: Record<string, unknown> = {}, tree: Tree = TREE): Record<string, unknown> {
  return { environment_mode: 'math', model_name: 'qasynth-sim', seed_description: 'math topic', ...tree, max_workers: maxWorkers, ...extra };
}

/** Worker caps for `workers` seeds at once: high enough never to throttle the benchmark. */
export function workerCaps(workers: number): WorkerConcurrency {
  return {
    llm: Math.max(DEFAULT_CONCURRENCY.llm, workers * 2),
    tools: Math.max(DEFAULT_CONCURRENCY.tools, workers),
    cachedWorkflows: Math.max(DEFAULT_CONCURRENCY.cachedWorkflows, workers * 2 + 10),
    workflowThreads: DEFAULT_CONCURRENCY.workflowThreads,
  };
}

// ------------------------------------------------------------------------------------------------ small helpers

const T0 = Date.now();
/** Progress line on stderr, stamped with seconds since the bench started. */
export function progress(msg: string): void {
  process.stderr.write(`[bench +${((Date.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}

/** Seconds since the bench process started. */
export function benchElapsedS(): number {
  return (Date.now() - T0) / 1000;
}

/** `x` rounded to `d` decimals (non-finite values unchanged). */
export const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** The q-quantile (0..1, nearest rank) of `xs`; NaN when empty. */
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const median = (xs: number[]): number => quantile(xs, 0.5);

/** Promise that resolves after `ms` (pacing of samplers and pollers, never synchronisation). */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------ /proc

let clkTck = 100;
try {
  clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
} catch {
  /* default */
}

/** CPU time (ms, user + system) of a process and its reaped children (cutime, cstime), from /proc/<pid>/stat; NaN when gone. */
export function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11..14] = utime, stime, cutime, cstime (fields 14–17 of proc(5))
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return (ticks * 1000) / clkTck;
  } catch {
    return NaN;
  }
}

/** Busy and total CPU time of the whole machine (ms summed over cores), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3]! + f[4]!;
    return { busy: ((total - idle) * 1000) / clkTck, total: (total * 1000) / clkTck };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** VmRSS (current) or VmHWM (peak) of a process in kB, from /proc/<pid>/status; NaN when gone. */
export function procStatusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Processes whose CPU a meter splits out: a role name → one pid or several (summed). */
export type MeteredPids = Record<string, number | number[]>;

/** CPU used during a measured span, split by role, plus what the rest of the machine used meanwhile. */
export interface CpuSplit {
  wall_ms: number;
  /** Role → CPU ms (user + system, reaped children included) of its processes during the span. */
  cpu_ms: Record<string, number>;
  /** CPU ms of this bench process (driver, simulator, and an in-process worker when there is one). */
  bench_process_cpu_ms: number;
  /** CPU busy on the whole machine during the span (ms over all cores). */
  machine_busy_ms: number;
  /** machine busy − the roles − the bench process: other work on the machine (other users, other tests). */
  others_cpu_ms: number;
  load_avg_1m_end: number;
  /** Peak of the summed VmRSS (MB) per role, sampled every 500 ms (NaN when never sampled). */
  peak_rss_mb: Record<string, number>;
}

/** Every span measured by {@link startMeter} in this process: the machine state over the whole bench run. */
export const meterLog: { wall_ms: number; others_cpu_ms: number; machine_busy_ms: number }[] = [];

/** Other processes' CPU over every measured span of this bench run: % of one core, time-weighted mean and max. */
export function machineStateSummary(): { measured_s: number; others_cpu_pct_mean: number; others_cpu_pct_max: number; machine_busy_pct_mean: number } {
  const wall = meterLog.reduce((a, m) => a + m.wall_ms, 0);
  return {
    measured_s: round(wall / 1000, 0),
    others_cpu_pct_mean: round((meterLog.reduce((a, m) => a + m.others_cpu_ms, 0) / wall) * 100, 0),
    others_cpu_pct_max: round(Math.max(...meterLog.map((m) => (m.others_cpu_ms / m.wall_ms) * 100)), 0),
    machine_busy_pct_mean: round((meterLog.reduce((a, m) => a + m.machine_busy_ms, 0) / wall) * 100, 0),
  };
}

/**
 * Starts measuring CPU of `pids` (by role), of this process and of the machine, and samples their RSS every
 * 500 ms; `stop()` returns the split. Processes must stay alive until `stop()` (a dead one reads NaN).
 */
export function startMeter(pids: MeteredPids): { stop(): CpuSplit } {
  const list = (v: number | number[]) => (Array.isArray(v) ? v : [v]);
  const cpuOf = (v: number | number[]) => list(v).reduce((a, p) => a + procCpuMs(p), 0);
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, cpuOf(v)]));
  const peak: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, NaN]));
  const sample = () => {
    for (const [k, v] of Object.entries(pids)) {
      const kb = list(v).reduce((a, p) => a + procStatusKb(p, 'VmRSS'), 0);
      if (Number.isFinite(kb) && !(kb / 1024 <= peak[k]!)) peak[k] = kb / 1024;
    }
  };
  sample();
  const sampler = setInterval(sample, 500);
  const p0 = process.cpuUsage();
  const m0 = machineCpuMs();
  const t0 = performance.now();
  return {
    stop(): CpuSplit {
      clearInterval(sampler);
      sample();
      const wall = performance.now() - t0;
      const p = process.cpuUsage(p0);
      const m1 = machineCpuMs();
      const cpu = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, cpuOf(v) - c0[k]!]));
      const bench = (p.user + p.system) / 1000;
      const busy = m1.busy - m0.busy;
      const mine = Object.values(cpu).reduce((a, b) => a + b, 0) + bench;
      meterLog.push({ wall_ms: wall, others_cpu_ms: Math.max(0, busy - mine), machine_busy_ms: busy });
      return {
        wall_ms: wall,
        cpu_ms: cpu,
        bench_process_cpu_ms: bench,
        machine_busy_ms: busy,
        others_cpu_ms: Math.max(0, busy - mine),
        load_avg_1m_end: os.loadavg()[0]!,
        peak_rss_mb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, round(v, 0)])),
      };
    },
  };
}

/** `part` as % of one core over `split`'s wall time. */
export const pctOfCore = (cpuMs: number, split: CpuSplit): number => round((cpuMs / split.wall_ms) * 100, 0);

// ------------------------------------------------------------------------------------------------ server, simulator

/** A running dev server and the connections a benchmark uses. */
export interface Env {
  server: DevServer;
  connection: Connection;
  native: NativeConnection;
  client: Client;
}

/**
 * Dynamic config values (`--dynamic-config-value KEY=JSON`) given to every dev server the bench starts; set by
 * `npm run bench -- --dynamic-config KEY=JSON` to measure a server setting. Empty = the server's defaults.
 */
export const devServerDynamicConfig: Record<string, unknown> = {};

/** What every bench dev server is: stated in the results. */
export function devServerKind(): string {
  const dc = Object.entries(devServerDynamicConfig);
  return `temporal server start-dev, in memory, headless, ${dc.length ? `dynamic config ${dc.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}` : 'default dynamic config'}; a fresh one per benchmark setting`;
}

/** Runs `fn` against a fresh in-memory headless dev server (log in .state/bench/server-<name>.log), stopped after. */
export async function withServer<T>(name: string, fn: (env: Env) => Promise<T>): Promise<T> {
  // Failed activity attempts (429s of the rate-limit and storm benchmarks) are expected: keep the SDK to errors.
  installRuntime((process.env.QASYNTH_LOG_LEVEL?.toUpperCase() as 'ERROR' | undefined) ?? 'ERROR');
  fs.mkdirSync(STATE, { recursive: true });
  const server = await startDevServer({ uiPort: null, logTo: path.join(STATE, `server-${name}.log`), log: progress, dynamicConfig: devServerDynamicConfig });
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

/** A simulator plus the wall clock of its start, to place bench events on its request log's `at_ms` axis. */
export interface SimHandle extends Simulator {
  /** `Date.now()` when the simulator's clock started (its `at_ms` = Date.now() − this, ±1 ms). */
  started_at: number;
}

/** Runs `fn` with the in-process LLM simulator, closed after. */
export async function withSimulator<T>(opts: SimulatorOptions & { script?: FaultRule[] }, fn: (sim: SimHandle) => Promise<T>): Promise<T> {
  const { script, ...simOpts } = opts;
  // startSimulator reads its clock synchronously at the call, before its first await.
  const startedAt = Date.now();
  const sim = await startSimulator(simOpts);
  if (script) sim.script(script);
  try {
    return await fn(Object.assign(sim, { started_at: startedAt }));
  } finally {
    await sim.close();
  }
}

/** Chat requests in the simulator's log (embeddings and invalid requests left out). */
export function chatLog(sim: Simulator): RequestLogEntry[] {
  return sim.requests().filter((e) => e.kind !== 'embedding' && e.kind !== 'invalid');
}

// ------------------------------------------------------------------------------------------------ workers

/** Runs `fn` while qasynth's workers run inside this process (createWorkers), stopped after. */
export async function withInProcessWorker<T>(
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

let buildPromise: Promise<string> | null = null;
/**
 * Compiles src/ into .state/bench/dist (not dist/, which other work may be using) and prebuilds the workflow
 * bundle, as `npm run build` does; reused while src/, tsconfig.json and package-lock.json are unchanged (a
 * sha256 of their contents is kept beside the build). Returns the build folder.
 */
export function privateBuild(): Promise<string> {
  buildPromise ??= (async () => {
    const out = path.join(STATE, 'dist');
    const hash = createHash('sha256');
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
    for (const f of [...walk(path.join(ROOT, 'src')).sort(), path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'package-lock.json')]) {
      hash.update(path.relative(ROOT, f)).update('\0').update(fs.readFileSync(f)).update('\0');
    }
    const digest = hash.digest('hex');
    const stamp = path.join(out, '.src-sha256');
    if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest && fs.existsSync(path.join(out, 'workflow-bundle.js'))) {
      progress(`private build ${path.relative(ROOT, out)} is up to date with src/`);
      return out;
    }
    progress(`compiling the worker into ${path.relative(ROOT, out)} (tsc + workflow bundle)`);
    fs.rmSync(out, { recursive: true, force: true });
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
    if (!fs.existsSync(path.join(out, 'cli', 'main.js'))) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    if (tsc.status !== 0) progress(`warning: tsc reported errors (JS was emitted):\n${tsc.stdout.slice(0, 2000)}`);
    const bundle = spawnSync(process.execPath, [path.join(out, 'worker', 'build-bundle.js')], { cwd: ROOT, encoding: 'utf8' });
    if (bundle.status !== 0) throw new Error(`workflow bundle failed:\n${bundle.stdout}${bundle.stderr}`);
    fs.writeFileSync(stamp, digest);
    return out;
  })();
  return buildPromise;
}

/** A `qasynth worker` child process. */
export interface ChildWorker {
  child: ChildProcess;
  pid: number;
  /** The command line, with the dev server's address elided. */
  command: string;
  /** Graceful stop (SIGTERM), resolved when it exited. */
  stop(): Promise<void>;
  /** kill -9, resolved when it exited. */
  kill9(): Promise<void>;
}

/**
 * Starts `node <V8 flags> <build>/cli/main.js worker …` (what the `qasynth` launcher runs) against `address`,
 * resolved once it printed its `qasynth worker:` line (its workers are created and polling).
 * @throws when it exits or has not started within 60 s (with its stderr).
 */
export async function startChildWorker(opts: { dist: string; address: string; taskQueue: string; llmUrl: string; caps: WorkerConcurrency; identity?: string; cacheDir?: string }): Promise<ChildWorker> {
  const args = [
    'worker', '--address', opts.address, '--task-queue', opts.taskQueue,
    '--llm-concurrency', String(opts.caps.llm), '--tool-concurrency', String(opts.caps.tools), '--max-cached-workflows', String(opts.caps.cachedWorkflows),
    '--workflow-threads', String(opts.caps.workflowThreads),
    ...(opts.identity ? ['--identity', opts.identity] : []),
    ...(opts.cacheDir ? ['--cache-dir', opts.cacheDir] : []),
  ];
  const main = path.join(opts.dist, 'cli', 'main.js');
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, main, ...args], {
    cwd: ROOT,
    env: { ...process.env, OPENAI_BASE_URL: opts.llmUrl, OPENAI_API_KEY: 'bench-key' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in 60 s:\n${stderr}`)), 60_000);
    const onData = (d: Buffer) => {
      stderr += d.toString();
      if (/qasynth worker:/.test(stderr)) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code ?? signal}:\n${stderr}`));
    });
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[worker ${child.pid}] ${d}`));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    pid: child.pid!,
    command: `node ${WORKER_NODE_FLAGS.join(' ')} ${path.relative(ROOT, main)} ${args.join(' ').replace(opts.address, '<dev server>')}`,
    stop: async () => {
      if (!gone()) child.kill('SIGTERM');
      await exited;
    },
    kill9: async () => {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
  };
}

// ------------------------------------------------------------------------------------------------ batches

/** A batch run through Temporal: its result, wall time (submit → result) and CPU split. */
export interface BatchRun {
  run_id: string;
  wall_ms: number;
  result: BatchResult;
  cpu: CpuSplit;
}

/**
 * Submits a batch, logs progress every 2 s, waits for its result. Wall time = submit → result; CPU of
 * `meter` roles (e.g. `{server, worker}`) measured over the same span.
 */
export async function runBatch(
  env: Env,
  opts: { label: string; taskQueue: string; runId: string; config: Record<string, unknown>; seeds: string[]; meter: MeteredPids; sim?: Simulator },
): Promise<BatchRun> {
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-'));
  const meter = startMeter(opts.meter);
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
    const cpu = meter.stop();
    return { run_id: opts.runId, wall_ms: cpu.wall_ms, result, cpu };
  } finally {
    clearInterval(timer);
    fs.rmSync(outputDir, { recursive: true, force: true });
  }
}

/** What the server did for one batch, read from the histories of its parent (every run) and its children. */
export interface HistoryStats {
  workflows: number;
  events: number;
  /** WorkflowTaskStarted events: workflow tasks the server dispatched (failed and timed-out ones included). */
  workflow_tasks: number;
  /**
   * ActivityTaskStarted events: activity tasks the server dispatched. A retried activity records only its last
   * attempt's start; local activities are not server tasks (they appear as markers, counted in `local_activities`).
   */
  activity_tasks: number;
  /** MarkerRecorded events (local activity results). */
  local_activities: number;
  /** Child workflow start → close time of each seed, ms. */
  seed_latencies_ms: number[];
}

/**
 * Counts server tasks in a finished batch's histories. Children are found by visibility (`WorkflowId
 * STARTS_WITH "<parent id>/"`), polled until all `seeds` are listed (visibility is eventually consistent; 30 s).
 */
export async function historyStats(env: Env, runId: string, seeds: number): Promise<HistoryStats> {
  const parentId = batchWorkflowId(runId);
  const deadline = Date.now() + 30_000;
  let execs: { workflowId: string; runId: string; start: number; close: number | null }[] = [];
  for (;;) {
    execs = [];
    for await (const wf of env.client.workflow.list({ query: `WorkflowId = "${parentId}" OR WorkflowId STARTS_WITH "${parentId}/"` })) {
      execs.push({ workflowId: wf.workflowId, runId: wf.runId, start: wf.startTime.getTime(), close: wf.closeTime?.getTime() ?? null });
    }
    const children = execs.filter((e) => e.workflowId !== parentId);
    if ((children.length >= seeds && children.every((c) => c.close !== null)) || Date.now() > deadline) break;
    await delay(500);
  }
  const s: HistoryStats = { workflows: execs.length, events: 0, workflow_tasks: 0, activity_tasks: 0, local_activities: 0, seed_latencies_ms: [] };
  for (const e of execs) {
    const h = await env.client.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
    for (const ev of h.events ?? []) {
      s.events += 1;
      if (ev.workflowTaskStartedEventAttributes) s.workflow_tasks += 1;
      if (ev.activityTaskStartedEventAttributes) s.activity_tasks += 1;
      if (ev.markerRecordedEventAttributes) s.local_activities += 1;
    }
    if (e.workflowId !== parentId && e.close !== null) s.seed_latencies_ms.push(e.close - e.start);
  }
  return s;
}

// ------------------------------------------------------------------------------------------------ machine

/** Facts about the machine and the software measured, for the results header. */
export function machine() {
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
    git_dirty: spawnSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '',
    load_avg_1m_at_start: round(os.loadavg()[0]!, 1),
  };
}

export type MachineFacts = ReturnType<typeof machine>;

/** ✅ or ❌. */
export const pass = (ok: boolean): string => (ok ? '✅' : '❌');

/** A benchmark: how to run it and how to render its section of latest.md. */
export interface Benchmark<R> {
  name: string;
  /** The settings it will use (recorded in latest.json). */
  settings(ctx: BenchContext): unknown;
  run(ctx: BenchContext): Promise<R>;
  /** Markdown lines of its section. */
  markdown(result: R, ctx: BenchContext): string[];
}
