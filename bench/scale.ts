/**
 * `npm run scale` — the 10,000-seed check (not part of `npm test`): one batch of N seeds with tiny trees
 * (simulator, math mode, D=1, b=1: one action, one tool call, one QA per seed) on a dev server with its
 * default history limits, served by a `qasynth worker` child process with the launcher's bounded heap.
 *
 * Checks and records in bench/results/scale.json + scale.md:
 * - the batch completes, every seed succeeded, the files hold each record once, statistics match the files;
 * - every run of the parent (continue-as-new chain) stayed below the server's history warning limits
 *   (10,240 events / 10 MB) — read from the server, not assumed;
 * - the worker's peak RSS (VmRSS sampled every 500 ms) and the throughput.
 *
 *   npm run scale                 # 10,000 seeds
 *   npm run scale -- --seeds 2000 --max-workers 50
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
const HISTORY_WARN_EVENTS = 10_240;
const HISTORY_WARN_BYTES = 10 * 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
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
  const seedsN = arg('seeds', 10_000);
  const maxWorkers = arg('max-workers', 50);
  if (!fs.existsSync(CLI)) throw new Error('run `npm run build` first');
  const log = (s: string) => process.stderr.write(`[scale +${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);
  const t0 = Date.now();
  const server = await startDevServer({ uiPort: null, logTo: path.join(ROOT, '.state', 'scale-server.log') });
  const sim = await startSimulator();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-scale-'));
  const worker = spawn(process.execPath, [...WORKER_NODE_FLAGS, CLI, 'worker', '--address', server.address, '--task-queue', 'scale'], {
    env: { ...process.env, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'scale' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(worker.pid!))), 500);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const runId = `scale-${seedsN}`;
    const config = {
      environment_mode: 'math', model_name: 'sim', max_depth: 1, branching_factor: 1, depth_threshold: 1,
      min_depth: 1, max_selected_traj: 1, max_workers: maxWorkers,
    };
    const seeds = Array.from({ length: seedsN }, (_, i) => `scale seed ${i + 1}`);
    const started = Date.now();
    const sub = await submitBatch(client, { run_id: runId, config, seeds, output_dir: out }, { taskQueue: 'scale' });
    const timer = setInterval(() => {
      void queryProgress(sub.handle)
        .then((p) => log(`${p.counters.seeds_done}/${seedsN} seeds, worker RSS ${rssMb(worker.pid!).toFixed(0)} MB (peak ${peak.toFixed(0)})`))
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
    const qaLines = fs.readFileSync(result.qa_path, 'utf8').split('\n').filter(Boolean);
    const qaIds = new Set(qaLines.map((l) => (JSON.parse(l) as { qa_id: string }).qa_id));
    const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
    const checks = {
      all_seeds_succeeded: result.seeds_succeeded === seedsN,
      each_qa_once: qaIds.size === qaLines.length,
      stats_match_files: stats.total_qas === qaLines.length && stats.seeds.succeeded === seedsN,
      continued_as_new: runs.length > 1,
      histories_below_warn_limits: runs.every((r) => r.events < HISTORY_WARN_EVENTS && r.bytes < HISTORY_WARN_BYTES),
      worker_rss_below_500mb: peak <= 500,
    };
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30) },
      settings: { seeds: seedsN, max_workers: maxWorkers, tree: 'math, D=1 b=1 (1 action + 1 tool + 1 QA per seed)', worker_node_flags: WORKER_NODE_FLAGS, server: 'temporal server start-dev, in memory, default limits' },
      wall_s: Math.round(wallS),
      seeds_per_s: Math.round((seedsN / wallS) * 10) / 10,
      parent_runs: runs.length,
      max_run_events: Math.max(...runs.map((r) => r.events)),
      max_run_bytes: Math.max(...runs.map((r) => r.bytes)),
      worker_peak_rss_mb: Math.round(peak),
      qa: qaLines.length,
      llm_calls: stats.llm.calls,
      checks,
    };
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'scale.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = [
      `# Scale check: ${seedsN} seeds`,
      '',
      `${report.date} · ${report.machine.cpus} cores (${report.machine.cpu}) · ${report.settings.tree} · max_workers ${maxWorkers} · worker \`node ${WORKER_NODE_FLAGS.join(' ')}\``,
      '',
      '| wall | seeds/s | parent runs (continue-as-new) | largest run history | worker peak RSS | QA | LLM calls |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${report.wall_s} s | ${report.seeds_per_s} | ${report.parent_runs} | ${report.max_run_events} events, ${(report.max_run_bytes / 1e6).toFixed(2)} MB | ${report.worker_peak_rss_mb} MB | ${report.qa} | ${report.llm_calls} |`,
      '',
      ...Object.entries(checks).map(([k, v]) => `- ${v ? '✅' : '❌'} ${k.replace(/_/g, ' ')}`),
      '',
    ].join('\n');
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'scale.md'), md);
    process.stdout.write(md);
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await connection.close();
    await sim.close();
    await server.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
