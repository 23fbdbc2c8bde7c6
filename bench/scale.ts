/**
 * `npm run scale` — the scale check of issue 9 (not part of `npm test`): one batch of N seeds with tiny trees
 * (simulator with zero latency, math mode, D=1, b=1: one action, one tool call, one QA per seed) on a dev server
 * with its default history limits, seeds passed by reference (a JSONL file: `seeds_file`), served by a
 * `qasynth worker` child process with the launcher's bounded heap.
 *
 * Checks and records in bench/results/scale.json + scale.md:
 * - the batch completes, every seed succeeded, the files hold each record once, statistics match the files;
 * - every run of the parent (continue-as-new chain) and a sample of the seed workflows stayed under 10% of
 *   the server's history limits (51,200 events / 50 MB: under 5,120 events and 5 MB) — read from the server;
 * - the worker's RSS over the run (VmRSS sampled every second): peak, and flat = the last tenth's median within
 *   25% of the second tenth's (the first tenth is warm-up);
 * - the throughput (seeds/s) and the machine's load while it ran.
 *
 *   npm run scale                                   # 100,000 seeds, max_workers 200
 *   npm run scale -- --seeds 2000 --max-workers 50
 *   npm run scale -- --seeds 10000 --max-workers 50 --local-llm   # LLM calls as local activities (config
 *                                                   # local_llm, the worker with a call cache); writes scale-local-llm.*
 *   npm run scale -- --in-memory                    # the dev server's SQLite in memory (default: in a file, as
 *                                                   # `qasynth server start` runs it)
 *   npm run scale -- --db-dir /dev/shm              # the database file in this folder (default: the run's
 *                                                   # temporary folder)
 *   npm run scale -- --out scale-100k               # writes bench/results/scale-100k.{json,md}
 *   npm run scale -- --workflow-threads 1           # the worker's threads for workflow code (default: the worker's)
 *   npm run scale -- --workflow-deadlock-timeout 5  # the worker's sandbox timeout (default: the worker's, none)
 *
 * The dev server keeps its SQLite database in a file in the run's temporary folder by default: that is how
 * `qasynth server start` runs it, and an in-memory server crashed 46,000 seeds into a 100,000-seed run
 * (bench/results/scale-100k-attempt.md).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../src/server/dev-server';
import { startSimulator } from '../src/llm/simulator';
import { submitBatch, queryProgress } from '../src/api';
import { batchWorkflowId } from '../src/shared/constants';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const WORKER_NODE_FLAGS = ['--max-old-space-size=384', '--max-semi-space-size=4'];
/** 10% of the server's per-workflow history limits (limit.historyCount.error 51,200; limit.historySize.error 50 MB). */
const HISTORY_EVENTS_BOUND = 5_120;
const HISTORY_BYTES_BOUND = 5 * 1024 * 1024;
/** Seed workflows whose histories are read back (the largest of them is reported). */
const CHILD_SAMPLE = 200;

/** The value after `--name`, or undefined. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function arg(name: string, fallback: number): number {
  const v = flag(name);
  return v === undefined ? fallback : Number(v);
}

function rssMb(pid: number): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS'));
    return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const seedsN = arg('seeds', 100_000);
  const maxWorkers = arg('max-workers', 200);
  const localLlm = process.argv.includes('--local-llm');
  const inMemory = process.argv.includes('--in-memory');
  const resultName = flag('out') ?? (localLlm ? 'scale-local-llm' : 'scale');
  if (!fs.existsSync(CLI)) throw new Error('run `npm run build` first');
  const log = (s: string) => process.stderr.write(`[scale +${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);
  const t0 = Date.now();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-scale-'));
  const dbParent = flag('db-dir');
  const dbDir = dbParent ? fs.mkdtempSync(path.join(dbParent, 'qasynth-scale-db-')) : out;
  const server = await startDevServer({
    uiPort: null,
    logTo: path.join(ROOT, '.state', 'scale-server.log'),
    ...(inMemory ? {} : { dbFile: path.join(dbDir, 'temporal.db') }),
  });
  const sim = await startSimulator();
  const cacheArgs = localLlm ? ['--cache-dir', path.join(out, 'cache')] : [];
  const threads = flag('workflow-threads');
  const deadlock = flag('workflow-deadlock-timeout');
  const threadArgs = [...(threads ? ['--workflow-threads', threads] : []), ...(deadlock ? ['--workflow-deadlock-timeout', deadlock] : [])];
  const worker = spawn(process.execPath, [...WORKER_NODE_FLAGS, CLI, 'worker', '--address', server.address, '--task-queue', 'scale', ...cacheArgs, ...threadArgs], {
    env: { ...process.env, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'scale' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let peak = 0;
  let done = 0;
  const samples: { t_s: number; rss_mb: number; seeds_done: number }[] = [];
  const sampler = setInterval(() => {
    const rss = rssMb(worker.pid!);
    peak = Math.max(peak, rss);
    samples.push({ t_s: Math.round((Date.now() - t0) / 1000), rss_mb: Math.round(rss), seeds_done: done });
  }, 1000);
  const load0 = os.loadavg()[0]!;
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const runId = `scale-${seedsN}`;
    const config = {
      environment_mode: 'math', model_name: 'sim', max_depth: 1, branching_factor: 1, depth_threshold: 1,
      min_depth: 1, max_selected_traj: 1, max_workers: maxWorkers,
      // The simulator's questions share two templates: dedup would move most of them to the rejected file.
      dedup: { enabled: false },
      ...(localLlm ? { local_llm: true } : {}),
    };
    const seedsFile = path.join(out, 'seeds.jsonl');
    fs.writeFileSync(seedsFile, Array.from({ length: seedsN }, (_, i) => JSON.stringify(`scale seed ${i + 1}`)).join('\n') + '\n');
    const started = Date.now();
    const sub = await submitBatch(client, { run_id: runId, config, seeds_file: seedsFile, output_dir: out }, { taskQueue: 'scale' });
    const timer = setInterval(() => {
      void queryProgress(sub.handle)
        .then((p) => {
          done = p.counters.seeds_done;
          log(`${done}/${seedsN} seeds, ${p.running.length} running, worker RSS ${rssMb(worker.pid!).toFixed(0)} MB (peak ${peak.toFixed(0)}), load ${os.loadavg()[0]!.toFixed(1)}`);
        })
        .catch(() => undefined);
    }, 15_000);
    const result = await sub.handle.result();
    clearInterval(timer);
    const wallS = (Date.now() - started) / 1000;

    // Every run of the parent's continue-as-new chain, from the server.
    const runs: { runId: string; events: number; bytes: number }[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${batchWorkflowId(runId)}"` })) {
      runs.push({ runId: wf.runId, events: wf.historyLength, bytes: Number(wf.historySize ?? 0) });
    }
    // A sample of the seed workflows (all alike: the same tiny tree), read back from the server.
    const children: { events: number; bytes: number }[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = "synthesizeSeed"`, pageSize: CHILD_SAMPLE })) {
      children.push({ events: wf.historyLength, bytes: Number(wf.historySize ?? 0) });
      if (children.length >= CHILD_SAMPLE) break;
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const tenth = Math.max(1, Math.floor(samples.length / 10));
    const rssSecondTenth = median(samples.slice(tenth, 2 * tenth).map((x) => x.rss_mb));
    const rssLastTenth = median(samples.slice(-tenth).map((x) => x.rss_mb));
    const qaLines = fs.readFileSync(result.qa_path, 'utf8').split('\n').filter(Boolean);
    const qaIds = new Set(qaLines.map((l) => (JSON.parse(l) as { qa_id: string }).qa_id));
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    const checks = {
      all_seeds_succeeded: result.seeds_succeeded === seedsN,
      each_qa_once: qaIds.size === qaLines.length,
      a_qa_per_seed: qaLines.length === seedsN,
      stats_match_files: stats.total_qas === qaLines.length && stats.seeds.succeeded === seedsN,
      continued_as_new: runs.length > 1,
      parent_histories_under_10pct_of_limits: runs.every((r) => r.events < HISTORY_EVENTS_BOUND && r.bytes < HISTORY_BYTES_BOUND),
      seed_histories_under_10pct_of_limits: children.length > 0 && children.every((r) => r.events < HISTORY_EVENTS_BOUND && r.bytes < HISTORY_BYTES_BOUND),
      worker_rss_flat: rssLastTenth <= rssSecondTenth * 1.25,
      worker_rss_below_500mb: peak <= 500,
    };
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30) },
      settings: { seeds: seedsN, seeds_by_reference: true, max_workers: maxWorkers, local_llm: localLlm, tree: 'math, D=1 b=1 (1 action + 1 tool + 1 QA per seed)', llm: 'simulator, zero latency', worker_node_flags: WORKER_NODE_FLAGS, server: `temporal server start-dev, SQLite ${inMemory ? 'in memory' : `in a file in ${dbParent ?? os.tmpdir()}`}, default limits` },
      load_average_1m: { start: Math.round(load0 * 10) / 10, end: Math.round(os.loadavg()[0]! * 10) / 10 },
      wall_s: Math.round(wallS),
      seeds_per_s: Math.round((seedsN / wallS) * 10) / 10,
      parent_runs: runs.length,
      max_run_events: Math.max(...runs.map((r) => r.events)),
      max_run_bytes: Math.max(...runs.map((r) => r.bytes)),
      max_seed_run_events: Math.max(0, ...children.map((r) => r.events)),
      max_seed_run_bytes: Math.max(0, ...children.map((r) => r.bytes)),
      seed_runs_sampled: children.length,
      worker_peak_rss_mb: Math.round(peak),
      worker_rss_median_mb: { second_tenth: rssSecondTenth, last_tenth: rssLastTenth },
      rss_timeline: samples.filter((_, i) => i % 10 === 0),
      qa: qaLines.length,
      llm_calls: stats.llm.calls,
      checks,
    };
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', `${resultName}.json`), `${JSON.stringify(report, null, 2)}\n`);
    const md = [
      `# Scale check: ${seedsN} seeds${localLlm ? ' (local_llm: LLM calls as local activities, worker with a call cache)' : ''}`,
      '',
      `${report.date} · ${report.machine.cpus} cores (${report.machine.cpu}) · ${report.settings.tree} · seeds by reference (JSONL) · zero-latency simulator · max_workers ${maxWorkers} · ${report.settings.server} · worker \`node ${WORKER_NODE_FLAGS.join(' ')}\` · load average ${report.load_average_1m.start} at the start, ${report.load_average_1m.end} at the end`,
      '',
      '| wall | seeds/s | parent runs (continue-as-new) | largest parent run history | largest seed history (of ' + children.length + ') | worker RSS median 2nd tenth → last tenth (peak) | QA | LLM calls |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${report.wall_s} s | ${report.seeds_per_s} | ${report.parent_runs} | ${report.max_run_events} events, ${(report.max_run_bytes / 1e6).toFixed(2)} MB | ${report.max_seed_run_events} events, ${(report.max_seed_run_bytes / 1e3).toFixed(0)} kB | ${rssSecondTenth} → ${rssLastTenth} MB (${report.worker_peak_rss_mb}) | ${report.qa} | ${report.llm_calls} |`,
      '',
      ...Object.entries(checks).map(([k, v]) => `- ${v ? '✅' : '❌'} ${k.replace(/_/g, ' ')}`),
      '',
    ].join('\n');
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', `${resultName}.md`), md);
    process.stdout.write(md);
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await connection.close();
    await sim.close();
    await server.stop();
    if (process.argv.includes('--keep')) log(`kept ${out}`);
    else for (const d of new Set([out, dbDir])) fs.rmSync(d, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
